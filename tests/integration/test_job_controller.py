"""The Job controller against the real apiserver (real etcd), driven by the real kubectl.

No kubelet runs here: the test finishes pods itself through pods/status, as a kubelet
reports a container that exited (phase Succeeded or Failed).
"""
from __future__ import annotations

import json
import time

import pytest

from polling import wait_for


@pytest.fixture(scope="module")
def controllers(controller_manager):
    from minikube_py.controllers.config import ControllerConfig
    return controller_manager(["job"], ControllerConfig(job_pod_failure_backoff=1.0))   # --job-pod-failure-backoff 1s


def job(kubectl, namespace, name):
    return json.loads(kubectl("get", "job", name, "-n", namespace, "-o", "json").stdout)


def pods_of(client, namespace, name, phase=None):
    items = client.list("pods", namespace=namespace, label_selector=f"job-name={name}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")
            and (phase is None or (p.get("status") or {}).get("phase", "Pending") == phase)]


def finish(client, pod, phase):
    pod = client.get("pods", pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
    pod["status"] = {**(pod.get("status") or {}), "phase": phase}
    client.update_status("pods", pod)


def conditions(obj):
    return {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}


def test_a_job_runs_parallel_pods_until_its_completions_succeed(controllers, api_client, kubectl, namespace):
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
        "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "pi", "image": "busybox", "command": ["true"]}]}}}}))
    first = wait_for(lambda: len(pods_of(api_client, namespace, "pi", "Pending")) == 2
                     and pods_of(api_client, namespace, "pi"), what="2 pods at once (parallelism)")
    owner = first[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Job" and owner["controller"] is True
    assert first[0]["metadata"]["name"].startswith("pi-")
    wait_for(lambda: job(kubectl, namespace, "pi")["status"].get("active") == 2, what="status.active 2")
    for pod in first:
        finish(api_client, pod, "Succeeded")
    third = wait_for(lambda: pods_of(api_client, namespace, "pi", "Pending"), what="the third pod")
    assert len(third) == 1                                  # completions - succeeded = 1
    finish(api_client, third[0], "Succeeded")
    done = wait_for(lambda: conditions(job(kubectl, namespace, "pi")).get("Complete") == "True"
                    and job(kubectl, namespace, "pi"), what="Complete")
    assert done["status"]["succeeded"] == 3 and done["status"]["active"] == 0
    assert done["status"]["completionTime"] and done["status"]["startTime"]
    assert conditions(done)["SuccessCriteriaMet"] == "True"
    row = kubectl("get", "job", "pi", "-n", namespace).stdout.splitlines()[1].split()
    assert row[:3] == ["pi", "Complete", "3/3"]
    kubectl("wait", "--for=condition=complete", "job/pi", "-n", namespace, "--timeout=5s")


def test_a_job_fails_after_its_backoff_limit(controllers, api_client, kubectl, namespace):
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "flaky"},
        "spec": {"backoffLimit": 1, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["false"]}]}}}}))
    for attempt in range(2):
        pod = wait_for(lambda: pods_of(api_client, namespace, "flaky", "Pending"), what=f"attempt {attempt}")[0]
        finish(api_client, pod, "Failed")
    failed = wait_for(lambda: conditions(job(kubectl, namespace, "flaky")).get("Failed") == "True"
                      and job(kubectl, namespace, "flaky"), what="Failed")
    cond = next(c for c in failed["status"]["conditions"] if c["type"] == "Failed")
    assert cond["reason"] == "BackoffLimitExceeded" and failed["status"]["failed"] == 2
    assert pods_of(api_client, namespace, "flaky", "Pending") == []       # no third try


def test_a_suspended_job_keeps_no_pods(controllers, api_client, kubectl, namespace):
    kubectl("create", "job", "later", "--image=busybox", "-n", namespace, "--", "sleep", "60")
    wait_for(lambda: pods_of(api_client, namespace, "later", "Pending"), what="its pod")
    kubectl("patch", "job", "later", "-n", namespace, "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: pods_of(api_client, namespace, "later") == []
             and conditions(job(kubectl, namespace, "later")).get("Suspended") == "True", what="suspended")
    rv = job(kubectl, namespace, "later")["metadata"]["resourceVersion"]
    time.sleep(2.5)                                  # level-triggered: nothing to write while it stays so
    assert job(kubectl, namespace, "later")["metadata"]["resourceVersion"] == rv
    kubectl("patch", "job", "later", "-n", namespace, "-p", '{"spec":{"suspend":false}}')
    wait_for(lambda: pods_of(api_client, namespace, "later", "Pending"), what="resumed: a pod again")
