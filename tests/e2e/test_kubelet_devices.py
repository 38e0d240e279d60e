"""GPUs through the whole path: device plugin -> kubelet's device manager -> Node -> pod.

A simulated device plugin (2 GPUs) registers with the kubelet's device
manager; the Node advertises ``nvidia.com/gpu: 2``; a pod asking for one gets
it through the lab's ``nvidia`` runtime (``nvidia-smi -L`` lists exactly that
GPU); a pod asking for more than is free fails admission.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest


from polling import wait_for  # noqa: E402  (tests/polling.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = os.path.join(ROOT, "lab", "nvidia-runtime", "install.sh")




@pytest.fixture(scope="module")
def nvidia_runtime(lab_images):
    if not os.path.exists(INSTALL):
        pytest.skip("lab/nvidia-runtime is not there")
    r = subprocess.run(["bash", INSTALL], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.skip(f"cannot install the simulated nvidia runtime: {r.stderr[-500:]}")
    if "nvidia" not in (lab_images.info().get("Runtimes") or {}):
        pytest.skip("dockerd has no nvidia runtime")


@pytest.fixture(scope="module")
def gpu_node(start_kubelet, nvidia_runtime):
    plugin_dir = tempfile.mkdtemp(prefix="/tmp/kdp-")      # Unix socket paths must be short
    k = start_kubelet("gpu", "--device-plugin-dir", plugin_dir, wait=True)
    log = open(os.path.join(plugin_dir, "plugin.log"), "wb")
    plugin = subprocess.Popen([sys.executable, "-m", "minikube_py.deviceplugin.command", "simulated",
                               "--count", "2", "--plugin-dir", plugin_dir,
                               "--node-name", k.node_name], stdout=log, stderr=subprocess.STDOUT)
    yield k
    plugin.terminate()
    plugin.wait(10)
    shutil.rmtree(plugin_dir, ignore_errors=True)


def gpu_pod(name, node, count, command="nvidia-smi -L; echo visible=$NVIDIA_VISIBLE_DEVICES; "
                                     "sleep 3600"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "cuda", "image": "busybox:1.35",
                                     "command": ["sh", "-c", command],
                                     "resources": {"limits": {"nvidia.com/gpu": str(count)}}}]}}


def test_gpu_pods_get_their_devices_and_too_many_fail_admission(gpu_node, api_client, namespace,
                                                                 kubectl):
    name = gpu_node.node_name
    node = wait_for(lambda: (api_client.get("nodes", name)["status"]["capacity"]
                             .get("nvidia.com/gpu") == "2") and api_client.get("nodes", name),
                    what="nvidia.com/gpu in the node's capacity")
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "2"

    api_client.create("pods", gpu_pod("one-gpu", name, 1), namespace)
    wait_for(lambda: api_client.get("pods", "one-gpu", namespace)["status"].get("phase")
             == "Running", what="one-gpu Running")
    logs = wait_for(lambda: "visible=" in kubectl("logs", "one-gpu", "-n", namespace).stdout
                    and kubectl("logs", "one-gpu", "-n", namespace).stdout, what="nvidia-smi output")
    lines = logs.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("GPU 0: NVIDIA H200 (UUID: GPU-"), logs
    assert lines[1] in ("visible=GPU-0", "visible=GPU-1")

    # 2 more GPUs than are free: the kubelet refuses the pod at admission
    api_client.create("pods", gpu_pod("two-gpus", name, 2), namespace)
    st = wait_for(lambda: api_client.get("pods", "two-gpus", namespace)["status"]
                  if api_client.get("pods", "two-gpus", namespace)["status"].get("phase") == "Failed"
                  else None, what="two-gpus Failed")
    assert st["reason"] == "UnexpectedAdmissionError" and st["message"]
    events = [e for e in api_client.list("events", namespace)["items"]
              if e["involvedObject"]["name"] == "two-gpus"]
    assert any(e["reason"] == "UnexpectedAdmissionError" and e["type"] == "Warning"
               for e in events)

    # once the first pod is gone its GPU is free again: a 2-GPU pod fits
    kubectl("delete", "pod", "one-gpu", "-n", namespace)
    api_client.create("pods", gpu_pod("two-again", name, 2, "nvidia-smi -L; sleep 3600"),
                      namespace)
    wait_for(lambda: api_client.get("pods", "two-again", namespace)["status"].get("phase")
             == "Running", what="two-again Running")
    logs = wait_for(lambda: kubectl("logs", "two-again", "-n", namespace).stdout.count("GPU ") == 2
                    and kubectl("logs", "two-again", "-n", namespace).stdout, what="two GPUs")
    assert "GPU 1: NVIDIA H200" in logs
