"""kube-proxy: makes Service IPs and NodePorts reach the pods behind them.

    informers (Services, Endpoints) -> proxier.py (rate-limited full sync)
        -> rules.py (pure: service ports -> iptables-restore text)
        -> iptables.py (iptables-restore --noflush of our chains; jumps; cleanup)

hostlock.py: one proxy per host programs the rules; userspace.py: the NodePort relay
used where iptables cannot be programmed; command.py: ``minikube-py proxy``.
"""
