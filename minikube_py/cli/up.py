"""`minikube-py up` and `down`: a whole cluster on one machine, as background processes.

`up` starts etcd, the apiserver, the controller-manager, the scheduler, the TFJob
operator (after installing its CRD) and the web dashboard, then for each
node a kubelet and a kube-proxy, the cluster DNS, the pod network (one Docker bridge)
and, with GPUs, the simulated device plugins; it remembers their pids in
`<state-dir>/cluster.json` and writes the kubeconfig (https, the admin's client certificate;
every component has its own, cli/credentials.py). The apiserver authorizes with Node,RBAC:
each component may do what its default role (auth/bootstrappolicy.py) grants, and the
NodeRestriction admission plugin holds each kubelet to its own Node, Lease and pods. Kubelets serve
their API on https with a certificate of the cluster CA and let in only callers the apiserver
vouches for and authorizes (webhook), as kubeadm sets them up; the apiserver dials them as
kube-apiserver-kubelet-client. `down` stops them and removes
what they made (the nodes' containers, the proxy's iptables rules, the pod network).
Each process is the same `minikube-py <component>` a lab would run under systemd.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import click
import requests

from ..api.conditions import is_true

DEFAULT_STATE_DIR = os.path.expanduser("~/.minikube-py")
# Every kubelet of `up` runs on this host and serves its API here (its Node's InternalIP,
# which the apiserver dials): the names its serving certificate is for.
KUBELET_ADDRESS = "127.0.0.1"
KUBELET_HOSTS = (KUBELET_ADDRESS, "localhost")


def _state_file(state_dir):
    return os.path.join(state_dir, "cluster.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _spawn(args, log_path):
    log = open(log_path, "ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def _component(*args):
    return [sys.executable, "-m", "minikube_py.cli.minikube", *args]


@click.command()
@click.option("--state-dir", default=DEFAULT_STATE_DIR, show_default=True)
@click.option("--port", default=6443, show_default=True, help="apiserver port")
@click.option("--nodes", default=1, show_default=True, help="number of kubelet nodes (Docker containers)")
@click.option("--gpus-per-node", default=0, show_default=True,
              help="simulated GPUs per node (device plugin + the lab's nvidia runtime)")
@click.option("--hollow-nodes", default=0, show_default=True,
              help="extra hollow nodes (no containers; for scale experiments)")
@click.option("--node-cpu", default=None, help="cpu capacity of each node (default: the host's)")
@click.option("--node-memory", default=None, help="memory capacity of each node, e.g. 4Gi")
@click.option("--node-prefix", default="node", show_default=True,
              help="nodes are named <prefix>-1..N (two clusters on one Docker need different prefixes)")
@click.option("--controller-args", default="", help="extra flags for the controller-manager (lab values)")
@click.option("--dns-address", default=None,
              help="where the cluster DNS listens (default: the pod network's gateway, which pods reach)")
@click.option("--dns-port", default=53, show_default=True, help="cluster DNS port (pods' resolvers use 53)")
@click.option("--pod-network", default="minikube-py", show_default=True,
              help="the Docker bridge network every pod joins (created if missing)")
@click.option("--pod-cidr", default="10.244.0.0/16", show_default=True,
              help="its subnet, when up creates it")
@click.option("--metric-resolution", default=15.0, show_default=True, type=click.FloatRange(min=0.5),
              help="seconds between the apiserver's scrapes of the kubelets (kubectl top)")
@click.option("--dashboard-port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="where the web dashboard listens on 127.0.0.1 (0: no dashboard)")
def up(state_dir, port, nodes, gpus_per_node, hollow_nodes, node_cpu, node_memory, node_prefix, controller_args,
       dns_address, dns_port, pod_network, pod_cidr, metric_resolution, dashboard_port):
    """Start a local cluster: etcd, apiserver, controller-manager, scheduler, the TFJob operator,
    N kubelets and a kube-proxy per node, all pods on one pod network, and the cluster DNS."""
    from ..apiserver.serviceallocation import DEFAULT_CLUSTER_IP_RANGE
    from ..storage.embedded import etcd_command, free_port, wait_for_port
    from .credentials import ClusterCredentials, first_host

    started = time.time()
    state_dir = os.path.abspath(os.path.expanduser(state_dir))
    os.makedirs(os.path.join(state_dir, "logs"), exist_ok=True)
    state = _read_state(state_dir)
    if state and any(_alive(p["pid"]) for p in state["processes"]):
        raise click.ClickException(f"a cluster is already running from {state_dir} "
                                   f"(minikube-py down --state-dir {state_dir} stops it)")
    logs = os.path.join(state_dir, "logs")
    procs = []

    def record():
        with open(_state_file(state_dir), "w") as f:
            json.dump({"port": port, "etcd": f"http://127.0.0.1:{etcd_port}", "processes": procs,
                       "nodes": node_names, "pod_network": pod_network if nodes else None}, f, indent=1)

    node_names = [f"{node_prefix}-{i + 1}" for i in range(nodes)]
    etcd_port, peer_port = free_port(), free_port()
    click.echo(f"* Starting etcd (data in {state_dir}/etcd) ...")
    p = _spawn(etcd_command(os.path.join(state_dir, "etcd"), etcd_port, peer_port), f"{logs}/etcd.log")
    procs.append({"name": "etcd", "pid": p.pid})
    record()
    wait_for_port(etcd_port)

    credentials = ClusterCredentials(state_dir)
    click.echo(f"* Cluster CA and certificates in {credentials.pki} ...")
    tls_flags = credentials.apiserver_flags(first_host(DEFAULT_CLUSTER_IP_RANGE), [first_host(pod_cidr)])
    server = f"https://127.0.0.1:{port}"
    click.echo(f"* Starting apiserver on {server} ...")
    p = _spawn(_component("apiserver", "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
                          "--port", str(port), "--metric-resolution", str(metric_resolution),
                          "--audit-log-path", f"{logs}/audit.log", "--authorization-mode", "Node,RBAC",
                          "--enable-admission-plugins", "NodeRestriction", *tls_flags,
                          "--service-account-signing-key-file", _service_account_key(state_dir),
                          *_reachable_from_pods(nodes, pod_cidr)),
               f"{logs}/apiserver.log")
    procs.append({"name": "apiserver", "pid": p.pid})
    record()
    _wait_ready(server, p, f"{logs}/apiserver.log", verify=credentials.ca_file)

    kubeconfig = credentials.admin(server)
    _create_standard_storage_class(kubeconfig)

    def start(name, args):
        proc = _spawn(args, f"{logs}/{name}.log")
        procs.append({"name": name, "pid": proc.pid})
        record()
        return proc

    click.echo("* Starting controller-manager and scheduler ...")
    # One controller-manager, so no election: a lost lease would make it exit (as
    # kube-controller-manager does) with nobody to restart it.
    # Every kubelet of `up` runs on this host, so one directory here serves all their volumes.
    start("controller-manager", _component("controller-manager", "--kubeconfig",
                                           credentials.component(server, "controller-manager"), "--no-leader-elect",
                                           "--local-path-dir", os.path.join(state_dir, "local-path"),
                                           *controller_args.split()))
    start("scheduler", _component("scheduler", "--kubeconfig", credentials.component(server, "scheduler")))
    _install_tfjob_crd(kubeconfig)
    click.echo("* Starting tf-operator (Kubeflow TFJobs) ...")
    start("tf-operator", _component("tf-operator", "--kubeconfig", credentials.component(server, "tf-operator"),
                                    "--no-leader-elect"))
    dashboard_url = _start_dashboard(start, state_dir, credentials.component(server, "dashboard"), kubeconfig,
                                     dashboard_port, f"{logs}/dashboard.log") if dashboard_port else None
    if nodes:
        _build_images()
        pod_cidr = _create_pod_network(pod_network, pod_cidr)
    if gpus_per_node:
        _install_nvidia_runtime()
    cluster_dns = _start_dns(start, credentials.component(server, "dns"), kubeconfig, dns_address, dns_port,
                             f"{logs}/dns.log", pod_network) if nodes else None
    for node in node_names:
        node_dir = os.path.join(state_dir, "nodes", node)
        args = ["kubelet", "--node-name", node, "--kubeconfig", credentials.kubelet(server, node),
                "--state-dir", node_dir, "--address", KUBELET_ADDRESS,
                *credentials.kubelet_flags(node, KUBELET_HOSTS),
                "--pod-network", pod_network]
        if cluster_dns:
            args += ["--cluster-dns", cluster_dns]
        if node_cpu:
            args += ["--cpu", node_cpu]
        if node_memory:
            args += ["--memory", node_memory]
        if gpus_per_node:
            plugin_dir = os.path.join(node_dir, "device-plugins")
            os.makedirs(plugin_dir, exist_ok=True)
            args += ["--device-plugin-dir", plugin_dir]
            start(f"device-plugin-{node}", _component("device-plugin", "simulated", "--count", str(gpus_per_node),
                                                      "--plugin-dir", plugin_dir, "--node-name", node))
        click.echo(f"* Starting kubelet {node} and its kube-proxy ...")
        start(f"kubelet-{node}", _component(*args))
        start(f"proxy-{node}", _component("proxy", "--kubeconfig", credentials.component(server, "kube-proxy"),
                                          "--node-name", node,
                                          "--cluster-cidr", pod_cidr))
    if hollow_nodes:
        click.echo(f"* Starting {hollow_nodes} hollow nodes ...")
        _bind_hollow_nodes(kubeconfig)
        start("hollow-kubelets", _component("kubelet", "--runtime", "hollow", "--node-name", "hollow",
                                            "--hollow-nodes", str(hollow_nodes),
                                            "--kubeconfig", credentials.hollow_kubelets(server),
                                            "--address", KUBELET_ADDRESS,
                                            *credentials.kubelet_flags("hollow", KUBELET_HOSTS),
                                            "--state-dir", os.path.join(state_dir, "nodes", "hollow")))
    _wait_nodes_ready(kubeconfig, node_names, timeout=60,
                      gpus={"nvidia.com/gpu": str(gpus_per_node)} if gpus_per_node else None)
    click.echo(f"* Cluster is up in {time.time() - started:.1f}s (etcd at http://127.0.0.1:{etcd_port}).")
    click.echo(f"  export KUBECONFIG={kubeconfig}")
    click.echo("  kubectl get namespaces        # or: mkctl get namespaces")
    if dashboard_url:
        click.echo(f"  dashboard: {dashboard_url}")
        click.echo(f"    (as {DASHBOARD_VIEWER[0]}/{DASHBOARD_VIEWER[1]}, for {DASHBOARD_TOKEN_SECONDS // 3600} h; "
                   f"a new token: kubectl -n {DASHBOARD_VIEWER[0]} create token {DASHBOARD_VIEWER[1]})")
    click.echo(f"  minikube-py down --state-dir {state_dir}   # stops it")


def _service_account_key(state_dir) -> str:
    """The key that signs ServiceAccount tokens, made on the first `up` and kept with the
    cluster's state (tokens of an earlier `up` stay good)."""
    from ..apiserver.auth.serviceaccount import write_signing_key
    path = os.path.join(state_dir, "sa.key")
    if not os.path.exists(path):
        write_signing_key(path)
    return path


def _reachable_from_pods(nodes, pod_cidr) -> list:
    """Pods reach the apiserver as the `kubernetes` Service: kube-proxy sends its ClusterIP
    to the Endpoints the apiserver writes, this host's address on the pod network (the
    bridge's gateway, where the cluster DNS listens too). So it listens there as well."""
    from .credentials import first_host
    if not nodes:
        return []
    return ["--bind-address", "0.0.0.0", "--advertise-address", first_host(pod_cidr)]


def _install_tfjob_crd(kubeconfig):
    """The TFJob CRD, installed before its operator starts (as Kubeflow's manifests do)."""
    from ..client.rest import Client
    from ..operators.tfjob.crd import CRD_NAME, install_crd, wait_established
    click.echo(f"* Installing the CRD {CRD_NAME} ...")
    with Client(kubeconfig=kubeconfig) as client:
        install_crd(client)
        if not wait_established(client, timeout=30):
            click.echo(f"  warning: the CRD {CRD_NAME} is not Established yet", err=True)


DASHBOARD_VIEWER = ("kube-system", "dashboard-viewer")   # the ServiceAccount whose token `up` prints
DASHBOARD_VIEWER_ROLE = "minikube-py:dashboard-viewer"
DASHBOARD_TOKEN_SECONDS = 24 * 3600


def _start_dashboard(start, state_dir, dashboard_kubeconfig, admin_kubeconfig, port, log_path, timeout=15.0):
    """Start `minikube-py dashboard` on 127.0.0.1:port as its own user; return the URL that
    logs in with a token of the ServiceAccount `dashboard_login` makes (the token is also
    kept in <state-dir>/dashboard-token), or None if it did not come up."""
    from ..dashboard.command import page_url
    click.echo(f"* Starting the dashboard on http://127.0.0.1:{port} ...")
    proc = start("dashboard", _component("dashboard", "--kubeconfig", dashboard_kubeconfig, "--port", str(port)))
    token = dashboard_login(admin_kubeconfig)
    token_file = os.path.join(state_dir, "dashboard-token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/static/index.html", timeout=1).status_code == 200:
                return page_url("127.0.0.1", port, token)
        except requests.RequestException:
            pass
        time.sleep(0.1)
    tail = open(log_path, errors="replace").read()[-1000:]
    click.echo(f"  warning: the dashboard did not come up (port {port} taken?): {tail}", err=True)
    return None


def dashboard_login(kubeconfig) -> str:
    """A user to open the dashboard as: the ServiceAccount kube-system/dashboard-viewer, bound
    to a ClusterRole that reads what the page shows (nothing else: no Secrets, no writes),
    and a token for it from the TokenRequest API (what `kubectl create token` asks)."""
    from ..client import errors
    from ..client.rest import Client
    namespace, name = DASHBOARD_VIEWER
    rbac = "rbac.authorization.k8s.io"
    read = ["get", "list", "watch"]
    role = {"metadata": {"name": DASHBOARD_VIEWER_ROLE}, "rules": [
        {"apiGroups": [""], "resources": ["nodes", "pods", "pods/log", "events", "namespaces"], "verbs": read},
        {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": read},
        {"apiGroups": ["kubeflow.org"], "resources": ["tfjobs"], "verbs": read},
        {"apiGroups": ["metrics.k8s.io"], "resources": ["nodes", "pods"], "verbs": read}]}
    binding = {"metadata": {"name": DASHBOARD_VIEWER_ROLE},
               "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": DASHBOARD_VIEWER_ROLE},
               "subjects": [{"kind": "ServiceAccount", "namespace": namespace, "name": name}]}
    with Client(kubeconfig=kubeconfig) as client:
        for resource, obj, ns in (("clusterroles", role, None), ("clusterrolebindings", binding, None),
                                  ("serviceaccounts", {"metadata": {"name": name}}, namespace)):
            try:
                client.create(resource, obj, ns)
            except errors.AlreadyExists:
                pass
        answer = client.request("POST", client.path("serviceaccounts", namespace, name, "token"), body={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": DASHBOARD_TOKEN_SECONDS}}).json()
    return answer["status"]["token"]


def _bind_hollow_nodes(kubeconfig):
    """The hollow nodes share one process and one credential (system:node:hollow) but have
    names of their own (hollow-0, ...): neither the Node authorizer nor NodeRestriction,
    which key on the one name, could let them touch their Nodes, so the credential is not
    in system:nodes (credentials.py) and, as kubemark's hollow nodes do, gets the
    system:node role through RBAC instead (every node's pods and Secrets: fine for nodes
    that run nothing)."""
    from ..client import errors
    from ..client.rest import Client
    from .credentials import HOLLOW_KUBELETS
    user, _groups = HOLLOW_KUBELETS
    with Client(kubeconfig=kubeconfig) as client:
        try:
            client.create("clusterrolebindings", {
                "metadata": {"name": "minikube-py:hollow-nodes"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
        except errors.AlreadyExists:
            pass


def _create_standard_storage_class(kubeconfig):
    """The default StorageClass "standard" (local-path provisioner, WaitForFirstConsumer)."""
    from ..client.rest import Client
    from ..controllers.localpath import ensure_standard_class
    with Client(kubeconfig=kubeconfig) as client:
        ensure_standard_class(client)


def _start_dns(start, kubeconfig, admin_kubeconfig, address, port, log_path, pod_network="minikube-py",
               timeout=15.0):
    """Start `minikube-py dns` (as `kubeconfig`'s user) where pods reach it and register the
    kube-dns Service (as the admin); return the address kubelets give pods as their
    nameserver (None: pods keep the host's DNS)."""
    from ..client.rest import Client
    from ..dns.addon import docker_network_gateway, ensure_kube_dns
    if not address:
        import docker
        try:
            address = docker_network_gateway(docker.from_env(), names=(pod_network, "bridge"))
        except docker.errors.DockerException as err:
            click.echo(f"  warning: no cluster DNS (cannot ask Docker for the pod network: {err})", err=True)
            return None
        if not address:
            click.echo("  warning: no cluster DNS (no Docker bridge network found)", err=True)
            return None
    click.echo(f"* Starting cluster DNS on {address}:{port} ...")
    proc = start("dns", _component("dns", "--kubeconfig", kubeconfig, "--listen-address", address,
                                   "--port", str(port)))
    if not _dns_answers(address, port, proc, timeout):
        tail = open(log_path, errors="replace").read()[-1000:]
        click.echo(f"  warning: the cluster DNS is not answering; pods keep the host's DNS. {tail}", err=True)
        return None
    with Client(kubeconfig=admin_kubeconfig) as client:
        ensure_kube_dns(client, address, port)
    return address


def _dns_answers(address, port, proc, timeout):
    from dnslib import RCODE, DNSRecord
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            reply = DNSRecord.parse(DNSRecord.question("kubernetes.default.svc.cluster.local").send(
                address, port, timeout=1))
            if reply.header.rcode == RCODE.NOERROR and reply.rr:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _wait_ready(server, proc, log_path, timeout=30, verify=True):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            tail = open(log_path, errors="replace").read()[-2000:]
            raise click.ClickException(f"apiserver exited ({proc.returncode}):\n{tail}")
        try:
            if requests.get(server + "/readyz", timeout=1, verify=verify).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise click.ClickException(f"apiserver did not become ready in {timeout}s; see {log_path}")


def _wait_nodes_ready(kubeconfig, names, timeout, gpus=None):
    """Wait until every kubelet has registered its Node and reports Ready, and (with `gpus`,
    e.g. {"nvidia.com/gpu": "2"}) until its device plugin's resources are allocatable: the
    plugin registers with the kubelet a moment after the Node is Ready."""
    from ..client.errors import ApiError
    from ..client.rest import Client
    deadline = time.time() + timeout
    pending = set(names)
    client = Client(kubeconfig=kubeconfig, timeout=2)
    while pending and time.time() < deadline:
        for name in list(pending):
            try:
                node = client.get("nodes", name)
            except (requests.RequestException, ApiError):   # not registered yet
                continue
            allocatable = (node.get("status") or {}).get("allocatable") or {}
            if is_true(node, "Ready") and \
                    all(allocatable.get(r) == n for r, n in (gpus or {}).items()):
                pending.discard(name)
                click.echo(f"  node {name} is Ready")
        time.sleep(0.2)
    client.close()
    if pending:
        click.echo(f"  warning: nodes not Ready yet: {', '.join(sorted(pending))} (see the kubelet logs)", err=True)


LAB = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "lab"))


def _build_images():
    """No registry is reachable in the lab: build busybox, pause and the nginx stand-in locally."""
    script = os.path.join(LAB, "build-images.sh")
    if not os.path.exists(script):
        click.echo("  (lab/build-images.sh not found: using the images Docker already has)", err=True)
        return
    click.echo("* Making sure the local images exist (lab/build-images.sh) ...")
    proc = subprocess.run(["bash", script], capture_output=True, text=True)
    if proc.returncode != 0:
        raise click.ClickException(f"building the images failed:\n{proc.stdout}{proc.stderr}")


def _create_pod_network(name, cidr):
    """The cluster's pod network (a Docker bridge); returns its subnet."""
    import docker
    from ..kubelet.runtime.podnetwork import ensure_pod_network, pod_cidr
    try:
        attrs = ensure_pod_network(docker.from_env(), name, cidr)
    except (docker.errors.DockerException, RuntimeError) as e:
        raise click.ClickException(f"cannot create the pod network: {e}") from None
    subnet = pod_cidr(attrs) or cidr
    click.echo(f"* Pod network {name} ({subnet})")
    return subnet


def _install_nvidia_runtime():
    """Register the lab's simulated `nvidia` OCI runtime with dockerd (idempotent)."""
    script = os.path.join(LAB, "nvidia-runtime", "install.sh")
    if not os.path.exists(script):
        raise click.ClickException(f"{script} is missing: the simulated nvidia runtime ships with the repo")
    click.echo("* Registering the simulated nvidia runtime with Docker ...")
    proc = subprocess.run(["bash", script], capture_output=True, text=True)
    if proc.returncode != 0:
        raise click.ClickException(f"installing the nvidia runtime failed:\n{proc.stdout}{proc.stderr}")


def _read_state(state_dir):
    try:
        with open(_state_file(state_dir)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


@click.command()
@click.option("--state-dir", default=DEFAULT_STATE_DIR, show_default=True)
@click.option("--purge", is_flag=True, help="also delete the state dir (etcd data, kubeconfig)")
def down(state_dir, purge):
    """Stop everything `up` started (in reverse order)."""
    state_dir = os.path.abspath(os.path.expanduser(state_dir))
    state = _read_state(state_dir)
    if not state:
        click.echo(f"no cluster state in {state_dir}; nothing to stop")
        return
    for proc in reversed(state["processes"]):
        if _alive(proc["pid"]):
            click.echo(f"* Stopping {proc['name']} (pid {proc['pid']})")
            _terminate(proc["pid"])
    _remove_node_containers(state.get("nodes") or [])
    if any(p["name"].startswith("proxy-") for p in state["processes"]):
        _cleanup_proxy_rules()
    if state.get("pod_network"):
        _remove_pod_network(state["pod_network"])
    os.remove(_state_file(state_dir))
    if purge:
        import shutil
        shutil.rmtree(state_dir, ignore_errors=True)
    click.echo("* Cluster stopped.")


def _remove_node_containers(nodes):
    """The kubelets leave their containers running (a restarted kubelet adopts them): remove them."""
    if not nodes:
        return
    import docker
    from ..kubelet.runtime.base import LABEL_NODE
    try:
        client = docker.from_env()
        containers = [c for node in nodes
                      for c in client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node}"})]
    except docker.errors.DockerException as err:
        click.echo(f"  could not list the nodes' containers: {err}", err=True)
        return
    if containers:
        click.echo(f"* Removing {len(containers)} containers of nodes {', '.join(nodes)}")
    for c in containers:
        try:
            c.remove(force=True)
        except docker.errors.DockerException:
            pass


def _cleanup_proxy_rules():
    """kube-proxy leaves its rules when it stops: remove them, unless another cluster's
    proxy still programs this host (it holds the host lock, proxy/hostlock.py)."""
    from ..proxy import iptables
    from ..proxy.hostlock import HostLock
    lock = HostLock({"cleanup": os.getpid()})
    try:
        if not lock.try_acquire():
            click.echo(f"  kube-proxy rules kept: {lock.holder()} still programs this host")
            return
        if iptables.check_usable() is None and iptables.cleanup():
            click.echo("* Removed the kube-proxy rules (iptables)")
    except (OSError, iptables.IptablesError) as e:
        click.echo(f"  could not remove the kube-proxy rules: {e}", err=True)
    finally:
        lock.release()


def _remove_pod_network(name):
    import docker
    from ..kubelet.runtime.podnetwork import remove_pod_network
    try:
        if remove_pod_network(docker.from_env(), name):
            click.echo(f"* Removed the pod network {name}")
        else:
            click.echo(f"  pod network {name} kept: containers of another cluster still use it")
    except docker.errors.DockerException as e:
        click.echo(f"  could not remove the pod network {name}: {e}", err=True)


def _terminate(pid, grace=10.0):
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
    deadline = time.time() + grace
    while time.time() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


