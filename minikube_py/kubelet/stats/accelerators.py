"""GPU figures of a container: the Summary API's ``accelerators`` (make, model, id,
memoryTotal, memoryUsed, dutyCycle), as cAdvisor reported them from NVML.

The kubelet knows which GPUs each container was given (the device manager's
assignments).  With real GPUs, NVML (pynvml, only if it is importable and the
driver answers) gives their utilisation and memory.  The simulated device
plugin's GPUs have no hardware behind them: their figures are *simulated* from
what the container really does -- duty cycle = its CPU use in percent of one
core (capped at 100), memory used = its working set -- so a lab sees a GPU
"work" when its pod works, and nobody mistakes the numbers for NVML's.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SIMULATED_MEMORY_BYTES = 143771 * 1024 * 1024     # the simulated plugin's default H200


class NVMLSource:
    """Real figures from NVML, by GPU UUID (the nvidia plugin's device ids)."""

    def __init__(self, nvml):
        self.nvml = nvml

    def figures(self, device_id: str) -> dict | None:
        try:
            h = self.nvml.nvmlDeviceGetHandleByUUID(device_id)
            mem = self.nvml.nvmlDeviceGetMemoryInfo(h)
            util = self.nvml.nvmlDeviceGetUtilizationRates(h)
            model = self.nvml.nvmlDeviceGetName(h)
        except Exception:  # noqa: BLE001 - not an NVML device (a simulated one), or gone
            return None
        return {"make": "nvidia", "model": model.decode() if isinstance(model, bytes) else model,
                "id": device_id, "memoryTotal": int(mem.total), "memoryUsed": int(mem.used),
                "dutyCycle": int(util.gpu)}


def load_source():
    """NVMLSource when NVML is importable and initialises; None otherwise."""
    try:
        from ...deviceplugin.nvidia import load_nvml
        return NVMLSource(load_nvml())
    except Exception as e:  # noqa: BLE001 - no pynvml, no driver: the simulated figures serve
        log.debug("no NVML (%s): GPU figures are simulated", e)
        return None


def simulated(device_id: str, cpu_nanocores: int | None, working_set: int | None) -> dict:
    """The figures of a simulated GPU, derived from its container's own use (module doc)."""
    duty = min(100, int((cpu_nanocores or 0) / 10_000_000))
    return {"make": "nvidia", "model": "simulated", "id": device_id,
            "memoryTotal": SIMULATED_MEMORY_BYTES,
            "memoryUsed": min(SIMULATED_MEMORY_BYTES, int(working_set or 0)),
            "dutyCycle": duty}


def container_accelerators(device_ids: list[str], source, cpu_nanocores: int | None,
                           working_set: int | None) -> list[dict]:
    out = []
    for device_id in device_ids:
        fig = source.figures(device_id) if source is not None else None
        out.append(fig or simulated(device_id, cpu_nanocores, working_set))
    return out
