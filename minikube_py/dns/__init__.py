"""Cluster DNS (`minikube-py dns`): Service and pod names answered from informers, on dnslib.

records.py  the answers (Kubernetes' DNS-based service discovery spec)
forward.py  names outside the cluster, passed on to the host's resolvers
server.py   informers + dnslib's UDP and TCP servers
command.py  the `minikube-py dns` command
"""
