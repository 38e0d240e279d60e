"""The TFJob operator against the real apiserver (real etcd): the CRD, pods, Services, policies.

No kubelet runs here: the tests report pods Running, Succeeded or Failed (with the
tensorflow container's exit code) through pods/status, as a kubelet would.
"""
from __future__ import annotations

import json
import threading

import pytest

from polling import wait_for

from minikube_py.operators.tfjob.spec import JOB_NAME_LABEL

LABEL = "training.kubeflow.org"


@pytest.fixture(scope="module")
def operator(cluster):
    """The CRD installed and the TFJob controller running in this process, as `tf-operator` runs it."""
    from minikube_py.client.rest import Client
    from minikube_py.controllers.manager import ControllerConfig, ControllerManager
    from minikube_py.operators.tfjob.command import REGISTRY
    from minikube_py.operators.tfjob.crd import install_crd, wait_established
    client = Client(server=cluster.server)
    install_crd(client)
    assert wait_established(client, timeout=30)
    manager = ControllerManager(client, ["tfjob"], ControllerConfig(), registry=REGISTRY)
    stop = threading.Event()
    thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    thread.start()
    assert manager.ready.wait(30)
    yield manager.started["tfjob"]
    stop.set()
    thread.join(15)
    client.close()


def manifest(name, replicas, restart="Never", run_policy=None, **spec):
    """A TFJob: {type: count}; each replica's tensorflow container is busybox."""
    body = {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": name},
            "spec": dict(spec, tfReplicaSpecs={
                rtype: {"replicas": n, "restartPolicy": restart, "template": {"spec": {"containers": [
                    {"name": "tensorflow", "image": "busybox", "command": ["sleep", "3600"]}]}}}
                for rtype, n in replicas.items()})}
    if run_policy:
        body["spec"]["runPolicy"] = run_policy
    return body


def create(kubectl, namespace, body):
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(body))


def tfjob(api_client, namespace, name):
    return api_client.get("tfjobs", name, namespace=namespace)


def conditions(job):
    return {c["type"]: c["status"] for c in (job.get("status") or {}).get("conditions") or []}


def condition(job, type_):
    return next(c for c in job["status"]["conditions"] if c["type"] == type_)


def pods(api_client, namespace, name, live=True):
    items = api_client.list("pods", namespace=namespace, label_selector=f"{JOB_NAME_LABEL}={name}")["items"]
    return {p["metadata"]["name"]: p for p in items if not (live and p["metadata"].get("deletionTimestamp"))}


def services(api_client, namespace, name):
    items = api_client.list("services", namespace=namespace, label_selector=f"{JOB_NAME_LABEL}={name}")["items"]
    return {s["metadata"]["name"]: s for s in items}


def events(api_client, namespace, name):
    return api_client.list("events", namespace=namespace,
                           field_selector=f"involvedObject.name={name},involvedObject.kind=TFJob")["items"]


def report(api_client, pod, phase, exit_code=None, restarts=0):
    """What a kubelet reports: the pod's phase and its tensorflow container's state."""
    state = {"running": {"startedAt": "2026-01-01T00:00:00Z"}} if exit_code is None else \
        {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error"}}
    status = {"phase": phase, "containerStatuses": [
        {"name": "tensorflow", "ready": phase == "Running", "restartCount": restarts, "image": "busybox",
         "imageID": "", "state": state}]}
    return api_client.patch("pods", pod, {"status": status}, namespace=pod_ns(api_client, pod), subresource="status")


_NS = {}


def pod_ns(api_client, pod):
    return _NS[pod]


def run_all(api_client, namespace, name, count):
    """Wait for ``count`` pods of the job and report them all Running."""
    found = wait_for(lambda: len(pods(api_client, namespace, name)) == count and pods(api_client, namespace, name),
                     what=f"{count} pods")
    for pod in found:
        _NS[pod] = namespace
        report(api_client, pod, "Running")
    return found


def test_a_tfjob_gets_a_pod_and_a_headless_service_per_replica_and_succeeds_with_worker_0(
        operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("dist", {"PS": 1, "Worker": 2}, run_policy={"cleanPodPolicy": "Running"}))
    found = run_all(api_client, namespace, "dist", 3)
    assert set(found) == {"dist-ps-0", "dist-worker-0", "dist-worker-1"}
    worker1 = found["dist-worker-1"]
    labels = worker1["metadata"]["labels"]
    assert labels[f"{LABEL}/replica-type"] == "worker" and labels[f"{LABEL}/replica-index"] == "1"
    assert found["dist-worker-0"]["metadata"]["labels"][f"{LABEL}/job-role"] == "master"
    env = {e["name"]: e["value"] for e in worker1["spec"]["containers"][0]["env"]}
    assert json.loads(env["TF_CONFIG"]) == {
        "cluster": {"ps": [f"dist-ps-0.{namespace}.svc:2222"],
                    "worker": [f"dist-worker-0.{namespace}.svc:2222", f"dist-worker-1.{namespace}.svc:2222"]},
        "task": {"type": "worker", "index": 1}, "environment": "cloud"}
    assert worker1["spec"]["restartPolicy"] == "Never"
    assert worker1["spec"]["containers"][0]["ports"] == [{"name": "tfjob-port", "containerPort": 2222,
                                                         "protocol": "TCP"}]
    svcs = wait_for(lambda: len(services(api_client, namespace, "dist")) == 3 and services(api_client, namespace, "dist"),
                    what="3 services")
    assert svcs["dist-worker-1"]["spec"]["clusterIP"] == "None"
    assert svcs["dist-worker-1"]["metadata"]["ownerReferences"][0]["kind"] == "TFJob"

    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "dist")).get("Running") == "True"
                   and tfjob(api_client, namespace, "dist"), what="Running")
    assert condition(job, "Created")["reason"] == "TFJobCreated"
    assert condition(job, "Running")["reason"] == "TFJobRunning"
    assert job["status"]["replicaStatuses"] == {"PS": {"active": 1}, "Worker": {"active": 2}}
    assert job["status"]["startTime"]
    row = kubectl("get", "tfjob", "dist", "-n", namespace).stdout.splitlines()
    assert row[0].split() == ["NAME", "STATE", "AGE"] and row[1].split()[:2] == ["dist", "Running"]

    report(api_client, "dist-worker-0", "Succeeded", exit_code=0)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "dist")).get("Succeeded") == "True"
                   and tfjob(api_client, namespace, "dist"), what="Succeeded")
    assert condition(job, "Succeeded")["message"] == f"TFJob {namespace}/dist successfully completed."
    assert conditions(job)["Running"] == "False" and job["status"]["completionTime"]
    # cleanPodPolicy Running: the pods still running go (and their services); worker 0 stays
    wait_for(lambda: set(pods(api_client, namespace, "dist")) == {"dist-worker-0"}, what="running pods deleted")
    wait_for(lambda: set(services(api_client, namespace, "dist")) == {"dist-worker-0"}, what="their services deleted")
    kubectl("wait", "--for=condition=Succeeded", "tfjob/dist", "-n", namespace, "--timeout=10s")


def test_exit_code_policy_recreates_a_pod_killed_with_137_and_fails_on_exit_1(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("retry", {"Worker": 2}, restart="ExitCode"))
    first = run_all(api_client, namespace, "retry", 2)
    uid = first["retry-worker-1"]["metadata"]["uid"]
    report(api_client, "retry-worker-1", "Failed", exit_code=137)
    # Restarting lasts until the pod is made again (then Running replaces it): the event stays
    event = wait_for(lambda: [e for e in events(api_client, namespace, "retry") if e["reason"] == "TFJobRestarting"],
                     what="a TFJobRestarting event")[0]
    assert event["message"] == "job retry is restarting because Worker replica(s) failed."
    again = wait_for(lambda: (p := pods(api_client, namespace, "retry").get("retry-worker-1"))
                     and p["metadata"]["uid"] != uid and p, what="worker 1 made again")
    assert again["spec"]["restartPolicy"] == "Never"
    report(api_client, "retry-worker-1", "Running")
    wait_for(lambda: conditions(tfjob(api_client, namespace, "retry")).get("Running") == "True", what="Running again")
    assert "Restarting" not in conditions(tfjob(api_client, namespace, "retry"))

    report(api_client, "retry-worker-1", "Failed", exit_code=1)           # the program's own error: no retry
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "retry")).get("Failed") == "True"
                   and tfjob(api_client, namespace, "retry"), what="Failed")
    assert condition(job, "Failed")["reason"] == "TFJobFailed"


def test_never_policy_fails_the_job_when_a_replica_fails(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("once", {"Worker": 2}))
    run_all(api_client, namespace, "once", 2)
    report(api_client, "once-worker-1", "Failed", exit_code=137)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "once")).get("Failed") == "True"
                   and tfjob(api_client, namespace, "once"), what="Failed")
    assert condition(job, "Failed")["message"] == f"TFJob {namespace}/once has failed because 1 Worker replica(s) failed."
    assert job["status"]["replicaStatuses"]["Worker"] == {"active": 1, "failed": 1}
    assert set(pods(api_client, namespace, "once")) == {"once-worker-0", "once-worker-1"}   # cleanPodPolicy None


@pytest.mark.parametrize("policy", ["OnFailure", "Always"])
def test_in_place_restarts_count_toward_the_backoff_limit(operator, api_client, kubectl, namespace, policy):
    create(kubectl, namespace, manifest("flaky", {"Worker": 1, "PS": 1}, restart=policy,
                                        run_policy={"backoffLimit": 2}))
    found = run_all(api_client, namespace, "flaky", 2)
    assert found["flaky-worker-0"]["spec"]["restartPolicy"] == policy      # the kubelet restarts in place
    report(api_client, "flaky-worker-0", "Running", restarts=1)
    wait_for(lambda: conditions(tfjob(api_client, namespace, "flaky")).get("Running") == "True", what="Running")
    report(api_client, "flaky-worker-0", "Running", restarts=2)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "flaky")).get("Failed") == "True"
                   and tfjob(api_client, namespace, "flaky"), what="Failed")
    assert condition(job, "Failed")["message"] == \
        "Job flaky has failed because it has reached the specified backoff limit"
    wait_for(lambda: not pods(api_client, namespace, "flaky") and not services(api_client, namespace, "flaky"),
             what="all pods and services deleted")


def test_exit_code_restarts_stop_at_the_backoff_limit(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("bounded", {"Worker": 2}, restart="ExitCode", run_policy={"backoffLimit": 1}))
    first = run_all(api_client, namespace, "bounded", 2)
    uid = first["bounded-worker-0"]["metadata"]["uid"]
    report(api_client, "bounded-worker-0", "Failed", exit_code=143)
    wait_for(lambda: (p := pods(api_client, namespace, "bounded").get("bounded-worker-0"))
             and p["metadata"]["uid"] != uid, what="worker 0 made again (1 of 1)")
    report(api_client, "bounded-worker-0", "Failed", exit_code=143)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "bounded")).get("Failed") == "True"
                   and tfjob(api_client, namespace, "bounded"), what="Failed at the backoff limit")
    assert "backoff limit" in condition(job, "Failed")["message"]


def test_active_deadline_fails_the_job_and_deletes_its_pods(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("slow", {"Worker": 1}, run_policy={"activeDeadlineSeconds": 2}))
    run_all(api_client, namespace, "slow", 1)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "slow")).get("Failed") == "True"
                   and tfjob(api_client, namespace, "slow"), what="Failed at the deadline")
    assert condition(job, "Failed")["message"] == \
        "Job slow has failed because it was active longer than specified deadline"
    assert job["status"]["completionTime"]
    wait_for(lambda: not pods(api_client, namespace, "slow"), what="its pod deleted")


def test_ttl_after_finished_deletes_the_job(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("brief", {"Worker": 1}, run_policy={"ttlSecondsAfterFinished": 1,
                                                                            "cleanPodPolicy": "All"}))
    run_all(api_client, namespace, "brief", 1)
    report(api_client, "brief-worker-0", "Succeeded", exit_code=0)
    wait_for(lambda: conditions(tfjob(api_client, namespace, "brief")).get("Succeeded") == "True", what="Succeeded")
    wait_for(lambda: not api_client.list("tfjobs", namespace=namespace)["items"], what="the TFJob deleted after its TTL")


def test_all_workers_success_policy_waits_for_every_worker(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("all", {"Worker": 2}, successPolicy="AllWorkers"))
    run_all(api_client, namespace, "all", 2)
    report(api_client, "all-worker-0", "Succeeded", exit_code=0)
    wait_for(lambda: (tfjob(api_client, namespace, "all")["status"]["replicaStatuses"]["Worker"]
                      == {"active": 1, "succeeded": 1}), what="worker 0 counted")
    assert "Succeeded" not in conditions(tfjob(api_client, namespace, "all"))
    report(api_client, "all-worker-1", "Succeeded", exit_code=0)
    wait_for(lambda: conditions(tfjob(api_client, namespace, "all")).get("Succeeded") == "True", what="Succeeded")


def test_a_chief_decides_the_jobs_success(operator, api_client, kubectl, namespace):
    create(kubectl, namespace, manifest("chiefly", {"Chief": 1, "Worker": 1}, run_policy={"cleanPodPolicy": "All"}))
    found = run_all(api_client, namespace, "chiefly", 2)
    assert found["chiefly-chief-0"]["metadata"]["labels"][f"{LABEL}/job-role"] == "master"
    assert f"{LABEL}/job-role" not in found["chiefly-worker-0"]["metadata"]["labels"]
    report(api_client, "chiefly-worker-0", "Succeeded", exit_code=0)
    wait_for(lambda: conditions(tfjob(api_client, namespace, "chiefly")).get("Running") == "True", what="Running")
    assert "Succeeded" not in conditions(tfjob(api_client, namespace, "chiefly"))
    report(api_client, "chiefly-chief-0", "Succeeded", exit_code=0)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "chiefly")).get("Succeeded") == "True"
                   and tfjob(api_client, namespace, "chiefly"), what="Succeeded")
    assert job["status"]["replicaStatuses"] == {"Chief": {"succeeded": 1}, "Worker": {"succeeded": 1}}
    wait_for(lambda: not pods(api_client, namespace, "chiefly") and not services(api_client, namespace, "chiefly"),
             what="cleanPodPolicy All: everything deleted")


def test_an_invalid_tfjob_fails_validation(operator, api_client, kubectl, namespace):
    body = manifest("bad", {"Worker": 1})
    body["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["name"] = "main"
    create(kubectl, namespace, body)
    job = wait_for(lambda: conditions(tfjob(api_client, namespace, "bad")).get("Failed") == "True"
                   and tfjob(api_client, namespace, "bad"), what="Failed")
    assert condition(job, "Failed")["reason"] == "TFJobFailedValidation"
    assert not pods(api_client, namespace, "bad")


def test_kubectl_explains_the_tfjob(operator, kubectl):
    out = kubectl("explain", "tfjob.spec.runPolicy").stdout
    assert "cleanPodPolicy" in out and "backoffLimit" in out


def test_the_kubeflow_training_sdk_creates_waits_for_and_deletes_a_tfjob(operator, cluster, api_client, namespace):
    training = pytest.importorskip("kubeflow.training")
    from kubeflow.training import models
    from kubernetes.client import V1Container, V1ObjectMeta, V1PodSpec, V1PodTemplateSpec
    sdk = training.TrainingClient(config_file=cluster.kubeconfig, namespace=namespace, job_kind="TFJob")
    template = V1PodTemplateSpec(spec=V1PodSpec(containers=[
        V1Container(name="tensorflow", image="busybox", command=["sh", "-c", "echo trained"])]))
    sdk.create_job(job=models.KubeflowOrgV1TFJob(
        api_version="kubeflow.org/v1", kind="TFJob", metadata=V1ObjectMeta(name="sdk", namespace=namespace),
        spec=models.KubeflowOrgV1TFJobSpec(
            run_policy=models.KubeflowOrgV1RunPolicy(clean_pod_policy="None"),
            tf_replica_specs={"Worker": models.KubeflowOrgV1ReplicaSpec(
                replicas=2, restart_policy="OnFailure", template=template)})))
    run_all(api_client, namespace, "sdk", 2)
    assert sdk.get_job_pod_names("sdk", is_master=True) == ["sdk-worker-0"]
    sdk.wait_for_job_conditions("sdk", expected_conditions={"Running"}, wait_timeout=60, polling_interval=1)
    assert sdk.is_job_running("sdk")
    report(api_client, "sdk-worker-0", "Succeeded", exit_code=0)
    job = sdk.wait_for_job_conditions("sdk", wait_timeout=60, polling_interval=1)
    assert sdk.is_job_succeeded("sdk")
    assert job.status.replica_statuses["Worker"].succeeded >= 1
    # once Succeeded, the still-active worker counts as succeeded too (as the operator counts it)
    wait_for(lambda: tfjob(api_client, namespace, "sdk")["status"]["replicaStatuses"] == {"Worker": {"succeeded": 2}},
             what="worker 1 counted as succeeded")
    assert [j.metadata.name for j in sdk.list_jobs()] == ["sdk"]
    sdk.delete_job("sdk")
    wait_for(lambda: not api_client.list("tfjobs", namespace=namespace)["items"], what="the TFJob gone")
