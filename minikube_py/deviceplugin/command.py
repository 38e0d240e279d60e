"""``minikube-py device-plugin``: run a device plugin next to a kubelet.

    minikube-py device-plugin simulated --count 2 --plugin-dir DIR [--unhealthy GPU-1]
    minikube-py device-plugin nvidia --plugin-dir DIR
    minikube-py device-plugin nvidia --list          # what NVML sees, then exit

The plugin serves its socket in DIR, registers with DIR/kubelet.sock (waiting
for the kubelet if it is not there yet), re-registers whenever the kubelet
restarts, and runs until SIGTERM/SIGINT.
"""
from __future__ import annotations

import logging
import signal
import threading

import click

from minikube_py.deviceplugin.api import DEFAULT_PLUGIN_DIR, SocketPathTooLong, is_extended_resource_name
from minikube_py.deviceplugin.plugin import RegistrationRejected

log = logging.getLogger("minikube_py.deviceplugin")


def _run(plugin):
    """Run a plugin in the foreground until SIGTERM/SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from minikube_py.systemd import notify_ready
    try:
        plugin.serve()        # our socket exists; run() registers with the kubelet and keeps watching
        notify_ready(f"serving {plugin.socket_path}")
        plugin.run(stop)
    except RegistrationRejected as e:
        raise click.ClickException(f"the kubelet rejected the registration: {e}") from None


def _setup_logging(verbose: bool):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group("device-plugin")
def command():
    """Device plugins: advertise GPUs (or other devices) to the kubelet."""


@command.command("simulated")
@click.option("--count", type=click.IntRange(min=0), default=1, show_default=True,
              help="How many simulated GPUs (GPU-0 .. GPU-<count-1>).")
@click.option("--plugin-dir", default=DEFAULT_PLUGIN_DIR, show_default=True,
              help="The kubelet's device-plugins directory (where kubelet.sock is).")
@click.option("--resource", "resource_name", default="nvidia.com/gpu", show_default=True,
              help="The extended resource to advertise.")
@click.option("--unhealthy", default="", help="Comma-separated ids that start Unhealthy, e.g. GPU-1.")
@click.option("--node-name", default=None, help="Node name the GPU UUIDs derive from "
              "(default: $NODE_NAME or the host name).")
@click.option("--gpu-name", default="NVIDIA H200", show_default=True, help="Model name nvidia-smi shows.")
@click.option("--memory-mib", type=click.IntRange(min=1), default=143771, show_default=True,
              help="Memory per GPU in MiB.")
@click.option("--health-file", default=None,
              help="JSON file to flip health at run time (default <plugin-dir>/simulated-health.json).")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=0.5, show_default=True,
              help="Seconds between checks of the health file and kubelet.sock.")
@click.option("-v", "--verbose", is_flag=True)
def simulated_cmd(count, plugin_dir, resource_name, unhealthy, node_name, gpu_name, memory_mib,
                  health_file, poll_interval, verbose):
    """N simulated GPUs, for machines without GPUs (labs, tests)."""
    from minikube_py.deviceplugin.simulated import SimulatedGPUPlugin
    _setup_logging(verbose)
    if not is_extended_resource_name(resource_name):
        raise click.BadParameter(f"{resource_name!r} is not an extended resource name "
                                 "(like nvidia.com/gpu)", param_hint="--resource")
    ids = [s.strip() for s in unhealthy.split(",") if s.strip()]
    try:
        plugin = SimulatedGPUPlugin(plugin_dir, count, resource_name=resource_name,
                                    node_name=node_name, unhealthy=ids, health_file=health_file,
                                    gpu_name=gpu_name, memory_mib=memory_mib,
                                    poll_interval=poll_interval)
    except SocketPathTooLong as e:
        raise click.BadParameter(str(e), param_hint="--plugin-dir") from None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--unhealthy") from None
    log.info("simulated plugin: %d x %s for %s on node %s", count, gpu_name, resource_name,
             plugin.node_name)
    _run(plugin)


@command.command("nvidia")
@click.option("--plugin-dir", default=DEFAULT_PLUGIN_DIR, show_default=True,
              help="The kubelet's device-plugins directory (where kubelet.sock is).")
@click.option("--list", "list_only", is_flag=True, help="Print the GPUs NVML sees and exit.")
@click.option("--health-interval", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between GPU health checks.")
@click.option("-v", "--verbose", is_flag=True)
def nvidia_cmd(plugin_dir, list_only, health_interval, verbose):
    """Real NVIDIA GPUs through NVML (needs the driver and `pip install nvidia-ml-py`)."""
    from minikube_py.deviceplugin.nvidia import (
        NvidiaPlugin, NVMLUnavailable, format_gpu_list, list_gpus, load_nvml,
    )
    _setup_logging(verbose)
    try:
        nvml = load_nvml()
    except NVMLUnavailable as e:
        raise click.ClickException(str(e)) from None
    if list_only:
        click.echo(format_gpu_list(list_gpus(nvml)))
        nvml.nvmlShutdown()
        return
    try:
        plugin = NvidiaPlugin(plugin_dir, nvml=nvml, health_interval=health_interval)
    except SocketPathTooLong as e:
        raise click.BadParameter(str(e), param_hint="--plugin-dir") from None
    log.info("nvidia plugin: %d GPU(s)", len(plugin.gpus))
    _run(plugin)


if __name__ == "__main__":
    command()
