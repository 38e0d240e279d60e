"""``minikube-py proxy``: kube-proxy for one node.

    minikube-py proxy --kubeconfig ~/.minikube-py/kubeconfig --node-name node-1 --cluster-cidr 10.244.0.0/16
    minikube-py proxy --cleanup          # remove every rule and chain of ours, then exit

Like kube-proxy, an exiting proxy leaves its rules in place (Services keep working
while it restarts, and a standby proxy of the same host takes over with the same
rules); ``--cleanup`` (which ``minikube-py down`` runs) removes them.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading

import click

log = logging.getLogger("minikube_py.proxy")


@click.command("proxy", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", default=None, help="kubeconfig of the cluster (default: $KUBECONFIG "
                                                 "or ~/.minikube-py/kubeconfig)")
@click.option("--server", default=None, help="apiserver URL (overrides the kubeconfig's)")
@click.option("--node-name", default="", help="the node this proxy serves (for its logs and lock)")
@click.option("--proxy-mode", type=click.Choice(["iptables", "userspace"]), default="iptables",
              show_default=True, help="userspace: NodePorts only, relayed by this process")
@click.option("--cluster-cidr", default="10.244.0.0/16", show_default=True,
              help="the pod network: traffic to a ClusterIP from outside it is masqueraded")
@click.option("--masquerade-all", is_flag=True,
              help="masquerade all Service traffic (default when bridged traffic skips iptables)")
@click.option("--min-sync-period", default=0.5, show_default=True, help="seconds between syncs, at least")
@click.option("--sync-period", default=30.0, show_default=True, help="seconds between syncs, at most")
@click.option("--cleanup", is_flag=True, help="remove the iptables rules of kube-proxy and exit")
@click.option("-v", "--verbose", is_flag=True)
def command(kubeconfig, server, node_name, proxy_mode, cluster_cidr, masquerade_all, min_sync_period,
            sync_period, cleanup, verbose):
    """Run kube-proxy: program this host so that Service IPs and NodePorts reach pods."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    from . import iptables
    from .proxier import MODE_USERSPACE, Proxier

    if cleanup:
        why = iptables.check_usable()
        if why:
            raise click.ClickException(f"cannot clean up: {why}")
        removed = iptables.cleanup()
        click.echo("removed the kube-proxy rules" if removed else "no kube-proxy rules to remove")
        return
    if proxy_mode == "iptables":
        why = iptables.check_usable()
        if why:
            click.echo(f"warning: iptables cannot be used: {why}.\n"
                       "Falling back to the userspace proxy: NodePorts are relayed by this process "
                       "on the host; ClusterIPs do NOT route (run the proxy as root for them).", err=True)
            proxy_mode = MODE_USERSPACE
        else:
            iptables.set_route_localnet()
            if not masquerade_all and not iptables.bridged_traffic_is_filtered():
                log.info("bridged traffic skips iptables (no br_netfilter): masquerading all Service "
                         "traffic so replies between pods on one bridge return through conntrack")
                masquerade_all = True

    from ..client.rest import Client
    try:
        client = Client(server=server, kubeconfig=kubeconfig, user_agent="minikube-py-proxy")
    except Exception as e:  # noqa: BLE001 - a missing or broken kubeconfig
        raise click.ClickException(f"cannot load the kubeconfig: {e}") from None
    proxier = Proxier(client, node_name=node_name, mode=proxy_mode, cluster_cidr=cluster_cidr,
                      masquerade_all=masquerade_all, min_sync_period=min_sync_period,
                      sync_period=sync_period)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("kube-proxy for node %s in %s mode (cluster CIDR %s%s)", node_name or "-", proxy_mode,
             cluster_cidr, ", masquerade all" if masquerade_all else "")
    proxier.start()
    from ..systemd import notify_ready
    notify_ready(f"{proxy_mode} mode")
    while not stop.wait(1.0):
        pass
    log.info("stopping (the rules stay; `minikube-py proxy --cleanup` removes them)")
    proxier.stop()
    client.close()
    sys.exit(0)


if __name__ == "__main__":
    command()
