"""Which pods keep a claim that is being deleted (controllers/storageprotection.pod_uses_claim)."""
from minikube_py.controllers.storageprotection import pod_uses_claim


def pod(node="n1", phase="Running", **volume):
    return {"metadata": {"name": "web"}, "spec": {"nodeName": node, "volumes": [{"name": "data", **volume}]},
            "status": {"phase": phase}}


def test_a_scheduled_pod_that_mounts_the_claim_uses_it_even_finished():
    assert pod_uses_claim(pod(persistentVolumeClaim={"claimName": "www"}), "www")
    assert pod_uses_claim(pod(phase="Succeeded", persistentVolumeClaim={"claimName": "www"}), "www")
    assert not pod_uses_claim(pod(persistentVolumeClaim={"claimName": "www"}), "other")


def test_an_unscheduled_pod_uses_nothing():
    """No kubelet has seen it, and none will start it with a claim that is being deleted."""
    assert not pod_uses_claim(pod(node="", persistentVolumeClaim={"claimName": "www"}), "www")


def test_an_ephemeral_volume_claim_is_used_until_its_pod_finishes():
    eph = {"ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
    assert pod_uses_claim(pod(**eph), "web-data")
    assert not pod_uses_claim(pod(phase="Failed", **eph), "web-data")
