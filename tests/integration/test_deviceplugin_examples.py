"""examples/gpu-pods.yaml is accepted by the apiserver (through the real kubectl) as written."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "gpu-pods.yaml")


def test_gpu_pods_example_applies(kubectl, api_client, namespace):
    kubectl("apply", "-n", namespace, "-f", EXAMPLE)
    pods = api_client.list("pods", namespace=namespace)["items"]
    assert sorted(p["metadata"]["name"] for p in pods) == [f"gpu-pod-{i}" for i in range(1, 6)]
    for p in pods:
        assert p["spec"]["restartPolicy"] == "Never"
        (c,) = p["spec"]["containers"]
        assert c["image"] == "busybox" and "nvidia-smi -L" in " ".join(c["command"])
        assert str(c["resources"]["limits"]["nvidia.com/gpu"]) == "1"
