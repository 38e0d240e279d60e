"""`minikube-py dashboard`: serve the live web page of a cluster.

    minikube-py dashboard --kubeconfig ~/.minikube-py/kubeconfigs/dashboard.conf --port 8001
    python -m minikube_py.dashboard.command --kubeconfig K --address 0.0.0.0 --public-url URL

The kubeconfig is the dashboard's own identity (in `up`: CN=system:minikube-py:dashboard,
bound to the ClusterRole of that name): it reads what the page shows and asks the
apiserver about the users (TokenReview, SubjectAccessReview; see access.py). Users log
in with their own token. The dashboard needs nothing but the API, as every component:
it can run anywhere the kubeconfig reaches the apiserver.
"""
from __future__ import annotations

import logging
import signal
import threading
from urllib.parse import quote

import click

log = logging.getLogger("minikube_py.dashboard")


def page_url(address: str, port: int, token: str | None = None, public_url: str | None = None) -> str:
    """The URL to open: the page, logging in with `token` when one is given."""
    host = "127.0.0.1" if address in ("0.0.0.0", "") else address
    base = f"{(public_url or f'http://{host}:{port}').rstrip('/')}/"
    return f"{base}?token={quote(token, safe='')}" if token else base


@click.command("dashboard", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", default=None, help="kubeconfig of the cluster (default: the usual search)")
@click.option("--master", default=None, help="apiserver URL (overrides the kubeconfig's server)")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="where the page is served (0.0.0.0 in a container, to publish the port)")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--public-url", default=None,
              help="where users reach the page, when not at --address:--port (a published port)")
@click.option("--metrics-period", default=10.0, show_default=True, type=click.FloatRange(min=0.5),
              help="seconds between two reads of metrics.k8s.io and the GPU assignments")
@click.option("-v", "--verbose", is_flag=True)
def command(kubeconfig, master, address, port, public_url, metrics_period, verbose):
    """Run the dashboard: nodes, pods, GPUs, Deployments, events and TFJobs, live in a browser."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("urllib3").setLevel(logging.WARNING)
    from ..client.rest import Client
    from ..systemd import notify_ready
    from .hub import Hub
    from .server import DashboardServer

    client = Client(server=master, kubeconfig=kubeconfig, user_agent="minikube-py/dashboard")
    hub = Hub(client, metrics_period=metrics_period).start()
    server = DashboardServer((address, port), hub, client)
    stopped = threading.Event()

    def shutdown(*_):
        stopped.set()
        threading.Thread(target=server.stop, daemon=True).start()
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    url = page_url(address, server.server_address[1], public_url=public_url)
    log.info("dashboard serving on %s (apiserver %s)", url, client.server)
    click.echo(f"dashboard: {url} (log in with a token of the cluster: ?token=T or the form)", err=True)
    notify_ready(f"serving on {address}:{server.server_address[1]}")
    try:
        server.serve_forever()
    finally:
        hub.stop()


if __name__ == "__main__":
    command()
