"""``minikube-py kubelet``: run a node.

    python -m minikube_py.kubelet.command --node-name node-1 --kubeconfig ~/.minikube-py/kubeconfig
    python -m minikube_py.kubelet.command --node-name hollow --runtime hollow --hollow-nodes 50 ...

One process is one node (``--runtime docker``), or -- for scale tests -- many
hollow nodes sharing one apiserver connection pool and one HTTP server.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import click

log = logging.getLogger("minikube_py.kubelet")


def _make_runtime(kind: str, node_name: str, state_dir: str, docker_endpoint: str | None, dns=None,
                  pod_network: str | None = None, container_labels: dict | None = None):
    if kind == "hollow":
        from .runtime.hollow import HollowRuntime
        return HollowRuntime(node_name, state_dir=state_dir)
    import docker
    from .runtime.docker import DockerRuntime
    client = None
    if docker_endpoint:
        try:
            client = docker.DockerClient(base_url=docker_endpoint, timeout=60, max_pool_size=32)
        except docker.errors.DockerException as e:   # it asks the engine for its API version
            raise _no_runtime(docker_endpoint, e) from None
    if not pod_network:
        return DockerRuntime(node_name, client=client, state_dir=state_dir, dns=dns,
                             container_labels=container_labels)
    from .runtime.podnetwork import ensure_pod_network
    try:
        ensure_pod_network(client or docker.from_env(), pod_network)
    except (docker.errors.DockerException, RuntimeError) as e:
        raise click.ClickException(f"--pod-network {pod_network}: {e}") from None
    return DockerRuntime(node_name, client=client, state_dir=state_dir, dns=dns, network=pod_network,
                         container_labels=container_labels)


def _no_runtime(endpoint: str | None, error) -> click.ClickException:
    where = endpoint or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return click.ClickException(
        f"cannot reach the container runtime (Docker at {where}): {error}\n"
        "Is the Docker daemon running, and may this user use its socket (group 'docker')?")


def _check_runtime(runtime, endpoint: str | None) -> None:
    """Docker must answer at start: a clear error beats a node that is never Ready."""
    from .runtime.base import ContainerRuntimeError
    try:
        runtime.ping()
    except ContainerRuntimeError as e:
        raise _no_runtime(endpoint, e) from None


def _device_manager(plugin_dir: str, state_dir: str, on_change):
    try:
        from .devices.manager import DeviceManager
    except ImportError as e:
        raise click.ClickException(f"--device-plugin-dir needs the device manager "
                                   f"(minikube_py.kubelet.devices.manager): {e}") from None
    os.makedirs(plugin_dir, exist_ok=True)
    return DeviceManager(plugin_dir, os.path.join(state_dir, "device-checkpoint.json"),
                         on_change=on_change)


@click.command("kubelet", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--node-name", required=True, help="name of this node (with --hollow-nodes: the prefix)")
@click.option("--kubeconfig", default=None, help="kubeconfig of the cluster (default: $KUBECONFIG "
                                                 "or ~/.minikube-py/kubeconfig)")
@click.option("--server", default=None, help="apiserver URL (overrides the kubeconfig's)")
@click.option("--runtime", "runtime_kind", type=click.Choice(["docker", "hollow"]), default="docker",
              show_default=True, help="docker: real containers; hollow: pretend (scale tests)")
@click.option("--state-dir", default=None,
              help="pod volumes and device checkpoint  [default: ~/.minikube-py/kubelet/<node>]")
@click.option("--port", default=0, show_default=True,
              help="kubelet HTTP server (logs); 0 = any free port, published in the Node status")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="IP to listen on and to publish as the node's InternalIP")
@click.option("--cpu", default=None, help="cpu capacity (default: the host's)")
@click.option("--memory", default=None, help="memory capacity, e.g. 4Gi (default: the host's)")
@click.option("--pods", default=None, help="pod capacity  [default: 110]")
@click.option("--node-labels", default="", help="extra labels: k=v,k2=v2")
@click.option("--register-with-taints", default="", help="taints: k=v:NoSchedule,k2:NoExecute")
@click.option("--lease-seconds", default=10.0, show_default=True, help="Lease renew interval")
@click.option("--status-update-seconds", default=10.0, show_default=True,
              help="how often NodeStatus is recomputed (posted when it changed)")
@click.option("--status-report-seconds", default=300.0, show_default=True,
              help="post NodeStatus at least this often even when unchanged (nodeStatusReportFrequency)")
@click.option("--sync-frequency", default=60.0, show_default=True,
              help="re-sync every pod at least this often")
@click.option("--relist-seconds", default=1.0, show_default=True, help="PLEG relist period")
@click.option("--restart-backoff-seconds", default=10.0, show_default=True,
              help="first crash-loop back-off delay (doubles up to --restart-backoff-max-seconds)")
@click.option("--restart-backoff-max-seconds", default=300.0, show_default=True)
@click.option("--device-plugin-dir", default=None,
              help="serve the device plugin Registration service in DIR/kubelet.sock")
@click.option("--gpu-mode", type=click.Choice(["runtime", "device-requests"]), default="runtime",
              show_default=True, help="how GPUs reach containers: the nvidia runtime, or "
                                      "Docker device requests")
@click.option("--hollow-nodes", default=1, show_default=True,
              help="with --runtime hollow: run this many nodes named <node-name>-0..N-1")
@click.option("--docker-endpoint", default=None,
              help="Docker API endpoint (default: $DOCKER_HOST or the local socket)")
@click.option("--cluster-dns", default="", help="the cluster DNS server's IPs, comma-separated "
              "(pods with dnsPolicy ClusterFirst resolve through it)")
@click.option("--cluster-domain", default="cluster.local", show_default=True,
              help="the cluster's DNS domain (the pods' search path)")
@click.option("--resolv-conf", default="/etc/resolv.conf", show_default=True,
              help="the node's resolver settings, for dnsPolicy Default (and the search path)")
@click.option("--pod-network", default=None,
              help="Docker network every pod sandbox joins (the cluster's pod network, "
                   "created if missing)  [default: Docker's bridge]")
@click.option("--container-labels", default="",
              help="Docker labels for every container the kubelet creates, k=v,k2=v2 (the compose "
                   "lab: its Compose project's, so that `docker-compose down` removes the pods)")
@click.option("--tls-cert-file", type=click.Path(exists=True, dir_okay=False),
              help="serve the kubelet API on https with this certificate (key: --tls-private-key-file)")
@click.option("--tls-private-key-file", type=click.Path(exists=True, dir_okay=False))
@click.option("--client-ca-file", type=click.Path(exists=True, dir_okay=False),
              help="only clients with a certificate from this CA may use the kubelet API (else 401)")
@click.option("--authentication-token-webhook", is_flag=True,
              help="also let in bearer tokens the apiserver vouches for (TokenReview)")
@click.option("--authorization-mode", "kubelet_authorization_mode", type=click.Choice(["AlwaysAllow", "Webhook"]),
              default="AlwaysAllow", show_default=True,
              help="Webhook: ask the apiserver (SubjectAccessReview) whether each caller may use the API")
@click.option("-v", "--verbose", is_flag=True)
def command(node_name, kubeconfig, server, runtime_kind, state_dir, port, address, cpu, memory,
            pods, node_labels, register_with_taints, lease_seconds, status_update_seconds,
            status_report_seconds, sync_frequency, relist_seconds, restart_backoff_seconds,
            restart_backoff_max_seconds, device_plugin_dir, gpu_mode, hollow_nodes,
            docker_endpoint, cluster_dns, cluster_domain, resolv_conf, pod_network, container_labels,
            tls_cert_file, tls_private_key_file, client_ca_file, authentication_token_webhook,
            kubelet_authorization_mode, verbose):
    """Run a kubelet: register a node and run the pods bound to it."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("docker").setLevel(logging.WARNING)
    from ..client.rest import Client
    from .config import KubeletConfig, default_state_dir
    from .kubelet import Kubelet
    from .nodestatus import parse_labels, parse_taints, validate_quantity
    from .server import KubeletServer

    try:
        labels = parse_labels(node_labels)
        extra_container_labels = parse_labels(container_labels)
        taints = parse_taints(register_with_taints)
        cpu = validate_quantity("cpu", cpu)
        memory = validate_quantity("memory", memory)
        pods = validate_quantity("pods", pods)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    from .dns import DNSConfigurer
    try:
        dns = DNSConfigurer([ip for ip in cluster_dns.split(",") if ip.strip()], cluster_domain, resolv_conf)
    except ValueError as e:
        raise click.BadParameter(f"--cluster-dns: {e}") from None
    if hollow_nodes < 1:
        raise click.BadParameter("--hollow-nodes must be at least 1")
    if hollow_nodes > 1 and runtime_kind != "hollow":
        raise click.BadParameter("--hollow-nodes needs --runtime hollow")
    if device_plugin_dir and hollow_nodes > 1:
        raise click.BadParameter("--device-plugin-dir serves one node, not --hollow-nodes")

    names = [node_name] if hollow_nodes == 1 else [f"{node_name}-{i}" for i in range(hollow_nodes)]
    try:
        client = Client(server=server, kubeconfig=kubeconfig,
                        pool_maxsize=max(64, 4 * len(names)), user_agent="minikube-py-kubelet")
    except Exception as e:  # noqa: BLE001 - a missing or broken kubeconfig
        raise click.ClickException(f"cannot load the kubeconfig: {e}") from None
    if bool(tls_cert_file) != bool(tls_private_key_file) or (client_ca_file and not tls_cert_file):
        raise click.BadParameter("--tls-cert-file and --tls-private-key-file go together "
                                 "(and --client-ca-file needs them)")
    auth = None
    if authentication_token_webhook or kubelet_authorization_mode == "Webhook":
        from .auth import KubeletAuth
        auth = KubeletAuth(client, token_webhook=authentication_token_webhook,
                           authorize_webhook=kubelet_authorization_mode == "Webhook")
    try:
        http = KubeletServer(address, port,
                             (tls_cert_file, tls_private_key_file, client_ca_file) if tls_cert_file else None,
                             auth)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot listen on {address}:{port}: {e}") from None

    # Hollow nodes share a few threads for their periodic loops, and more for their pod
    # workers (loop.py's LoopRunner).
    loops = pod_loops = None
    if runtime_kind == "hollow":
        from .loop import LoopRunner
        # A lane runs its loops one after the other: 25 nodes a lane keeps a round of their
        # Leases and Node reads (50 requests) well inside 10 s even at 100 ms a request.
        loops = LoopRunner(threads=max(1, min(8, -(-len(names) // 25))), name="hollow-loops")
        pod_loops = LoopRunner(threads=max(2, min(32, len(names) // 4)), name="hollow-pods")
    kubelets = []
    for name in names:
        sdir = state_dir if (state_dir and len(names) == 1) else \
            os.path.join(state_dir, name) if state_dir else default_state_dir(name)
        config = KubeletConfig(
            node_name=name, state_dir=sdir, address=address, port=http.port, cpu=cpu,
            memory=memory, pods=pods, labels=labels, taints=taints, lease_seconds=lease_seconds,
            status_update_seconds=status_update_seconds,
            status_report_seconds=status_report_seconds, sync_frequency=sync_frequency,
            relist_seconds=relist_seconds, backoff_seconds=restart_backoff_seconds,
            backoff_max_seconds=restart_backoff_max_seconds,
            device_plugin_dir=device_plugin_dir, gpu_mode=gpu_mode)
        os.makedirs(config.state_dir, exist_ok=True)
        runtime = _make_runtime(runtime_kind, name, config.state_dir, docker_endpoint, dns, pod_network,
                                extra_container_labels)
        if runtime_kind == "docker":
            _check_runtime(runtime, docker_endpoint)
        holder: dict = {}
        dm = None
        if device_plugin_dir:
            dm = _device_manager(device_plugin_dir, config.state_dir,
                                 lambda: holder["kubelet"].reporter.post_soon()
                                 if "kubelet" in holder else None)
        kubelet = Kubelet(config, client, runtime, http, device_manager=dm, loops=loops,
                          pod_loops=pod_loops)
        holder["kubelet"] = kubelet
        kubelets.append(kubelet)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    http.start()
    log.info("kubelet HTTP server on %s:%d", address, http.port)
    # Nodes register a few at a time: 5,000 hollow nodes registering at once were 5,000
    # connections in the apiserver's accept queue, and registrations that timed out and retried.
    starter = ThreadPoolExecutor(min(len(kubelets), 16), thread_name_prefix="start")
    for k in kubelets:
        starter.submit(k.start)
    starter.shutdown(wait=False)
    from ..systemd import notify_ready
    notify_ready(f"node {', '.join(names) if len(names) < 4 else f'{len(names)} nodes'}, "
                 f"HTTP on {address}:{http.port}")
    while not stop.wait(1.0):
        pass
    log.info("stopping (containers keep running)")
    for k in kubelets:
        k._stop.set()
    for k in kubelets:
        k.stop()
    http.stop()
    client.close()
    sys.exit(0)


if __name__ == "__main__":
    command()
