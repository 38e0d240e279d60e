"""`minikube-py tf-operator`: the TFJob operator as its own process, as Kubeflow runs it.

Kubeflow's training operator is a Deployment of its own, not part of
kube-controller-manager; this is that process: it waits until the TFJob CRD is
served, then runs the TFJob controller (controller.py) on shared informers -- with
leader election on the Lease ``kube-system/training-operator`` by default, so two
copies may run and only one acts (the same rules as the controller-manager's:
losing the lease exits the process).
"""
from __future__ import annotations

import logging

import time

import click

from ...controllers.command import DURATION, election_timing, run_elected, setup_logging

log = logging.getLogger("minikube_py.operators.tfjob")
REGISTRY = {"tfjob": "minikube_py.operators.tfjob.controller:TFJobController"}


@click.command("tf-operator", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", envvar="KUBECONFIG", help="kubeconfig with the apiserver's address")
@click.option("--server", "--master", "server", help="apiserver URL (overrides the kubeconfig's server)")
@click.option("--threadiness", type=click.IntRange(min=1), default=2, show_default=True,
              help="TFJobs synced at once")
@click.option("--crd-timeout", type=DURATION, default="300s", show_default=True,
              help="how long to wait for the TFJob CRD to be served")
@click.option("--install-crd/--no-install-crd", default=False, show_default=True,
              help="create (or bring up to date) the TFJob CRD first, as the operator's own "
                   "manifests ship it (`up` installs it itself; the systemd unit asks for this)")
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True,
              help="campaign for a Lease; only the leader runs the controller")
@click.option("--leader-elect-lease-duration", type=DURATION, default="15s", show_default=True)
@click.option("--leader-elect-resource-namespace", default="kube-system", show_default=True)
@click.option("--leader-elect-resource-name", default="training-operator", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def command(kubeconfig, server, threadiness, crd_timeout, install_crd, leader_elect, leader_elect_lease_duration,
            leader_elect_resource_namespace, leader_elect_resource_name, verbose):
    """Run the Kubeflow TFJob operator (kubeflow.org/v1 TFJobs -> pods and headless Services)."""
    setup_logging(verbose)
    from ...client.rest import Client
    from ...controllers.manager import ControllerConfig, ControllerManager
    from .crd import CRD_NAME, install_crd as install, wait_established

    try:
        client = Client(server=server, kubeconfig=kubeconfig, user_agent="minikube-py/tf-operator")
    except Exception as err:
        raise click.ClickException(f"cannot load client configuration: {err}")
    if install_crd:
        deadline = time.time() + crd_timeout
        while True:                       # the apiserver may still be starting
            try:
                install(client)
                break
            except Exception as err:  # noqa: BLE001 - unreachable or 503: try again until the deadline
                if time.time() > deadline:
                    raise click.ClickException(f"cannot install the CRD {CRD_NAME}: {err}")
                time.sleep(1)
    log.info("tf-operator against %s: waiting for the CRD %s", client.server, CRD_NAME)
    if not wait_established(client, timeout=crd_timeout):
        raise click.ClickException(f"the CRD {CRD_NAME} is not served after {crd_timeout:.0f}s "
                                   f"(install it: kubectl apply -f minikube_py/operators/tfjob/crd.yaml)")
    manager = ControllerManager(client, ["tfjob"], ControllerConfig(workers=threadiness), registry=REGISTRY)
    manager.build()
    timing = election_timing(leader_elect_lease_duration) if leader_elect else None
    from ...systemd import notify_ready
    notify_ready("running" if not leader_elect else "campaigning for the lease")
    run_elected(client, manager.run, "tf-operator", timing, leader_elect_resource_namespace,
                leader_elect_resource_name)
