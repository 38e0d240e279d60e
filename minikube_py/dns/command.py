"""`minikube-py dns`: the cluster DNS server (CoreDNS with the kubernetes plugin, in short).

    minikube-py dns --kubeconfig ~/.minikube-py/kubeconfig --listen-address 172.17.0.1

It must listen where pods can reach it: on a Docker bridge that is the network's
gateway address (the host's side of the bridge). Kubelets are then started with
``--cluster-dns <that address>``, and every pod's resolv.conf names it.
"""
from __future__ import annotations

import logging
import signal
import threading

import click


@click.command("dns", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", default=None, help="kubeconfig of the cluster (default: $KUBECONFIG "
                                                 "or ~/.minikube-py/kubeconfig)")
@click.option("--server", default=None, help="apiserver URL (overrides the kubeconfig's)")
@click.option("--listen-address", default="127.0.0.1", show_default=True,
              help="address to serve on (for pods: their bridge network's gateway)")
@click.option("--port", default=53, show_default=True, help="UDP and TCP port")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
@click.option("--ttl", default=30, show_default=True, help="TTL of the cluster's records (seconds)")
@click.option("--resolv-conf", default="/etc/resolv.conf", show_default=True,
              help="where the upstream resolvers for other names are listed ('' : none, answer REFUSED)")
@click.option("--upstream-timeout", default=2.0, show_default=True,
              help="seconds to wait for an upstream resolver before answering SERVFAIL")
@click.option("--register-service/--no-register-service", default=False, show_default=True,
              help="create the kube-dns Service and point its Endpoints at this server once it "
                   "serves (as CoreDNS's addon manifest does; `up` does it itself)")
@click.option("-v", "--verbose", is_flag=True)
def command(kubeconfig, server, listen_address, port, cluster_domain, ttl, resolv_conf,
            upstream_timeout, register_service, verbose):
    """Serve the cluster's DNS names (A, SRV, PTR) from the apiserver's Services and Endpoints."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    from ..client.rest import Client
    from .forward import Forwarder, read_nameservers
    from .server import serve

    try:
        client = Client(server=server, kubeconfig=kubeconfig, user_agent="minikube-py-dns")
    except Exception as e:  # noqa: BLE001 - a missing or broken kubeconfig
        raise click.ClickException(f"cannot load the kubeconfig: {e}") from None
    forwarder = Forwarder(read_nameservers(resolv_conf) if resolv_conf else [], timeout=upstream_timeout,
                          exclude=[(listen_address, port)])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ready = threading.Event()
    if register_service:
        def register():
            from .addon import ensure_kube_dns
            ready.wait()
            if not stop.is_set():
                ensure_kube_dns(client, listen_address, port)
        threading.Thread(target=register, name="register-kube-dns", daemon=True).start()
    try:
        serve(client, listen_address, port, cluster_domain, ttl, forwarder, stop, ready)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {listen_address}:{port}: {e}") from None
    finally:
        client.close()


if __name__ == "__main__":
    command()
