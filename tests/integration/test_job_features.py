"""Job features against the real apiserver (real etcd), pods run by the fake kubelet.

The fake kubelet (tests/fakekubelet.py) reports each pod Running and Ready, then ends
it with the exit code the test's ``finish`` function gives (None keeps it running),
as a kubelet reports containers that exited under restartPolicy Never. The Job
controller runs with ``--job-pod-failure-backoff 1s``.
"""
from __future__ import annotations

import json

import pytest

from fakekubelet import FakeKubelet, finish_pod
from polling import wait_for

INDEX = "batch.kubernetes.io/job-completion-index"


@pytest.fixture(scope="module")
def controllers(controller_manager):
    from minikube_py.controllers.config import ControllerConfig
    return controller_manager(["job"], ControllerConfig(job_pod_failure_backoff=1.0))


def make_job(name, command=("true",), restart="Never", **spec):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {"spec": {"restartPolicy": restart, "containers": [
                {"name": "main", "image": "busybox", "command": list(command)}]}}}}


def create(client, namespace, job):
    return client.create("jobs", job, namespace=namespace)


def get_job(client, namespace, name):
    return client.get("jobs", name, namespace=namespace)


def pods_of(client, namespace, name):
    return client.list("pods", namespace=namespace, label_selector=f"batch.kubernetes.io/job-name={name}")["items"]


def cond(job, type_):
    return next((c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


def true(job, type_):
    c = cond(job, type_)
    return bool(c) and c["status"] == "True"


def wait_condition(client, namespace, name, type_, timeout=60):
    return wait_for(lambda: (lambda j: true(j, type_) and j)(get_job(client, namespace, name)),
                    timeout=timeout, what=f"{name} {type_}")


def index_of(pod):
    return int(pod["metadata"]["annotations"][INDEX])


# ------------------------------------------------------------------ Indexed
def test_indexed_job_runs_each_index_once_with_its_index(controllers, api_client, namespace):
    seen = []

    def finish(pod):
        seen.append(index_of(pod))
        return 0

    with FakeKubelet(api_client, namespace, finish=finish):
        create(api_client, namespace, make_job("idx", completions=5, parallelism=3, completionMode="Indexed"))
        done = wait_condition(api_client, namespace, "idx", "Complete")
    assert done["status"]["completedIndexes"] == "0-4" and done["status"]["succeeded"] == 5
    assert sorted(seen) == [0, 1, 2, 3, 4]                        # each index once
    pods = pods_of(api_client, namespace, "idx")
    assert sorted(index_of(p) for p in pods) == [0, 1, 2, 3, 4]
    pod = next(p for p in pods if index_of(p) == 3)
    assert pod["metadata"]["labels"][INDEX] == "3" and pod["metadata"]["name"].startswith("idx-3-")
    assert pod["spec"]["hostname"] == "idx-3"
    env = pod["spec"]["containers"][0]["env"]
    assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX}']"}}} in env or \
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{INDEX}']"}}} in env
    assert true(done, "SuccessCriteriaMet") and cond(done, "Complete")["reason"] == "CompletionsReached"


def test_indexed_job_parallelism_keeps_at_most_that_many_pods(controllers, api_client, namespace):
    create(api_client, namespace, make_job("par", completions=6, parallelism=2, completionMode="Indexed"))
    pods = wait_for(lambda: len(pods_of(api_client, namespace, "par")) == 2 and pods_of(api_client, namespace, "par"),
                    what="two pods")
    assert sorted(index_of(p) for p in pods) == [0, 1]               # the lowest indexes first
    finish_pod(api_client, next(p for p in pods if index_of(p) == 1), 0)
    wait_for(lambda: sorted(index_of(p) for p in pods_of(api_client, namespace, "par")) == [0, 1, 2],
             what="index 2 replaces the finished index 1")
    wait_for(lambda: (lambda st: st.get("completedIndexes") == "1" and st.get("active") == 2)(
        get_job(api_client, namespace, "par")["status"]), what="completedIndexes 1, 2 active")


def test_backoff_limit_per_index_and_max_failed_indexes(controllers, api_client, namespace):
    # index 1 always fails; the others succeed: index 1 gets 1 + backoffLimitPerIndex tries
    tries = []

    def finish(pod):
        tries.append(index_of(pod))
        return 3 if index_of(pod) == 1 else 0

    with FakeKubelet(api_client, namespace, finish=finish):
        create(api_client, namespace, make_job("per", completions=3, parallelism=3, completionMode="Indexed",
                                               backoffLimitPerIndex=1))
        failed = wait_condition(api_client, namespace, "per", "Failed")
    assert cond(failed, "Failed")["reason"] == "FailedIndexes"
    assert cond(failed, "Failed")["message"] == "Job has failed indexes"
    assert failed["status"]["failedIndexes"] == "1" and failed["status"]["completedIndexes"] == "0,2"
    assert tries.count(1) == 2 and failed["status"]["failed"] == 2
    second = [p for p in pods_of(api_client, namespace, "per") if index_of(p) == 1]
    assert sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] for p in second) \
        == ["0", "1"]


def test_max_failed_indexes_fails_the_job_early(controllers, api_client, namespace):
    with FakeKubelet(api_client, namespace, finish=lambda pod: 1 if index_of(pod) < 2 else None):
        create(api_client, namespace, make_job("maxf", completions=4, parallelism=4, completionMode="Indexed",
                                               backoffLimitPerIndex=0, maxFailedIndexes=1))
        failed = wait_condition(api_client, namespace, "maxf", "Failed")
    assert cond(failed, "FailureTarget")["reason"] == cond(failed, "Failed")["reason"] == "MaxFailedIndexesExceeded"
    assert failed["status"]["failedIndexes"] == "0,1"
    assert failed["status"]["active"] == 0 and failed["status"]["terminating"] == 0


def test_success_policy_ends_the_job_when_its_indexes_succeeded(controllers, api_client, namespace):
    # a leader (index 0) decides; the workers run on until the Job ends
    with FakeKubelet(api_client, namespace, finish=lambda pod: 0 if index_of(pod) == 0 else None):
        create(api_client, namespace, make_job(
            "leader", completions=4, parallelism=4, completionMode="Indexed",
            successPolicy={"rules": [{"succeededIndexes": "0", "succeededCount": 1}]}))
        done = wait_condition(api_client, namespace, "leader", "Complete")
    assert cond(done, "SuccessCriteriaMet")["reason"] == "SuccessPolicy"
    assert cond(done, "Complete")["message"] == "Matched rules at index 0"
    assert done["status"]["completedIndexes"] == "0" and done["status"]["active"] == 0
    assert done["status"].get("completionTime")
    running = [p for p in pods_of(api_client, namespace, "leader") if not p["metadata"].get("deletionTimestamp")
               and p["status"].get("phase") not in ("Succeeded", "Failed")]
    assert running == []                                       # the workers were stopped


# ------------------------------------------------------------------ podFailurePolicy
POLICY = {"rules": [
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}


def test_pod_failure_policy_fail_job_on_exit_code(controllers, api_client, namespace):
    with FakeKubelet(api_client, namespace, finish=lambda pod: 42):
        create(api_client, namespace, make_job("pfp", parallelism=1, completions=2, backoffLimit=6,
                                               podFailurePolicy=POLICY))
        failed = wait_condition(api_client, namespace, "pfp", "Failed")
    pod = pods_of(api_client, namespace, "pfp")[0]
    assert cond(failed, "Failed")["reason"] == "PodFailurePolicy"
    assert cond(failed, "Failed")["message"] == (f"Container main for pod {namespace}/{pod['metadata']['name']} "
                                                 "failed with exit code 42 matching FailJob rule at index 0")
    assert failed["spec"]["podReplacementPolicy"] == "Failed"          # the default with a policy
    assert failed["status"]["failed"] == 1                              # no second try


def test_pod_failure_policy_ignores_disruptions(controllers, api_client, namespace):
    create(api_client, namespace, make_job("ign", backoffLimit=0, podFailurePolicy=POLICY))
    first = wait_for(lambda: pods_of(api_client, namespace, "ign"), what="the first pod")[0]
    now = "2026-01-01T00:00:00Z"
    api_client.patch("pods", first["metadata"]["name"], {"status": {"phase": "Failed", "conditions": [
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI", "lastTransitionTime": now}],
        "containerStatuses": [{"name": "main", "image": "busybox", "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": now}}}]}},
        namespace=namespace, subresource="status")
    second = wait_for(lambda: [p for p in pods_of(api_client, namespace, "ign")
                               if p["metadata"]["uid"] != first["metadata"]["uid"]], what="a replacement")
    job = get_job(api_client, namespace, "ign")
    assert job["status"].get("failed", 0) == 0 and not true(job, "Failed")     # backoffLimit 0, yet not failed
    finish_pod(api_client, api_client.get("pods", second[0]["metadata"]["name"], namespace=namespace), 0)
    wait_condition(api_client, namespace, "ign", "Complete")


def test_pod_failure_policy_fail_index(controllers, api_client, namespace):
    policy = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [7]}}]}
    with FakeKubelet(api_client, namespace, finish=lambda pod: 7 if index_of(pod) == 0 else 0):
        create(api_client, namespace, make_job("fidx", completions=2, parallelism=2, completionMode="Indexed",
                                               backoffLimitPerIndex=3, podFailurePolicy=policy))
        failed = wait_condition(api_client, namespace, "fidx", "Failed")
    assert failed["status"]["failedIndexes"] == "0" and failed["status"]["completedIndexes"] == "1"
    assert len([p for p in pods_of(api_client, namespace, "fidx") if index_of(p) == 0]) == 1   # not retried


# ------------------------------------------------------------------ back-off, deadline, suspend
def test_failed_pods_are_replaced_after_a_growing_back_off(controllers, api_client, namespace):
    with FakeKubelet(api_client, namespace, finish=lambda pod: 1):
        create(api_client, namespace, make_job("slow", backoffLimit=2))
        failed = wait_condition(api_client, namespace, "slow", "Failed")
    assert cond(failed, "Failed")["reason"] == "BackoffLimitExceeded" and failed["status"]["failed"] == 3
    pods = sorted(pods_of(api_client, namespace, "slow"), key=lambda p: p["metadata"]["creationTimestamp"])
    from minikube_py.api.meta import parse_time
    created = [parse_time(p["metadata"]["creationTimestamp"]) for p in pods]
    # the second pod came at least 1 s (the base) after the first failed, the third 2 s after the second
    assert (created[1] - created[0]).total_seconds() >= 1 and (created[2] - created[1]).total_seconds() >= 2


def test_on_failure_restarts_count_toward_the_backoff_limit(controllers, api_client, namespace):
    create(api_client, namespace, make_job("crashy", ["false"], restart="OnFailure", backoffLimit=2))
    pod = wait_for(lambda: pods_of(api_client, namespace, "crashy"), what="its pod")[0]
    for restarts in (1, 2):                      # the kubelet restarts the container in place
        api_client.patch("pods", pod["metadata"]["name"], {"status": {"phase": "Running", "containerStatuses": [
            {"name": "main", "image": "busybox", "ready": False, "restartCount": restarts,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}, namespace=namespace, subresource="status")
    failed = wait_condition(api_client, namespace, "crashy", "Failed")
    assert cond(failed, "Failed")["reason"] == "BackoffLimitExceeded" and failed["status"].get("failed", 0) == 0
    assert [p for p in pods_of(api_client, namespace, "crashy") if not p["metadata"].get("deletionTimestamp")] == []


def test_active_deadline_fails_the_job(controllers, api_client, namespace):
    with FakeKubelet(api_client, namespace):
        create(api_client, namespace, make_job("late", ["sleep", "100"], activeDeadlineSeconds=2, parallelism=2,
                                               completions=2))
        failed = wait_condition(api_client, namespace, "late", "Failed")
    assert cond(failed, "Failed")["reason"] == "DeadlineExceeded"
    assert cond(failed, "Failed")["message"] == "Job was active longer than specified deadline"
    assert true(failed, "FailureTarget") and failed["status"]["active"] == 0
    assert [p for p in pods_of(api_client, namespace, "late") if not p["metadata"].get("deletionTimestamp")] == []


def test_suspend_and_resume_conditions_and_ready(controllers, api_client, namespace):
    with FakeKubelet(api_client, namespace):
        create(api_client, namespace, make_job("sus", ["sleep", "100"], parallelism=2, completions=4, suspend=True))
        job = wait_condition(api_client, namespace, "sus", "Suspended")
        assert cond(job, "Suspended")["reason"] == "JobSuspended" and not job["status"].get("startTime")
        assert pods_of(api_client, namespace, "sus") == []
        api_client.patch("jobs", "sus", {"spec": {"suspend": False}}, namespace=namespace)
        job = wait_for(lambda: (lambda j: j["status"].get("ready") == 2 and j)(get_job(api_client, namespace, "sus")),
                       what="2 ready pods")
    assert cond(job, "Suspended")["status"] == "False" and cond(job, "Suspended")["reason"] == "JobResumed"
    assert job["status"]["startTime"] and job["status"]["active"] == 2 and job["status"]["terminating"] == 0
    reasons = wait_for(lambda: (lambda r: {"Suspended", "Resumed"} <= r and r)(
        {e["reason"] for e in api_client.list("events", namespace=namespace)["items"]
         if e["involvedObject"]["name"] == "sus"}), what="Suspended and Resumed events")
    assert "SuccessfulCreate" in reasons


# ------------------------------------------------------------------ validation (kubectl sees the 422s)
def test_invalid_jobs_are_refused_with_field_paths(controllers, api_client, kubectl, namespace):
    bad = make_job("bad", restart="OnFailure", completionMode="Indexed", completions=2, backoffLimitPerIndex=1,
                   maxFailedIndexes=3,
                   successPolicy={"rules": [{"succeededIndexes": "1-0"}]},
                   podFailurePolicy={"rules": [
                       {"action": "FailJob", "onExitCodes": {"containerName": "nope", "operator": "In",
                                                             "values": [0, 2, 1]}},
                       {"action": "Count"}]})
    proc = kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False)
    assert proc.returncode == 1
    err = proc.stderr
    for text in ('spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions',
                 'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of '
                 'the container or initContainer names in the pod template',
                 'spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the '
                 'In operator',
                 'spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,2,1]: must be ordered',
                 'spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions '
                 'is required',
                 'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "1-0": error parsing '
                 'succeededIndexes: non-increasing order, previous: 1, current: 0',
                 'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
                 'podFailurePolicy is specified'):
        assert text in err, err
    nonindexed = make_job("bad2", backoffLimitPerIndex=1, successPolicy={"rules": [{"succeededCount": 1}]})
    status = pytest.raises(Exception, create, api_client, namespace, nonindexed).value
    assert status.code == 422
    fields = {c["field"]: c["message"] for c in status.status["details"]["causes"]}
    assert fields["spec.backoffLimitPerIndex"] == "Invalid value: 1: requires indexed completion mode"
    assert fields["spec.successPolicy"].endswith("requires indexed completion mode")


def test_fields_that_may_not_change(controllers, api_client, kubectl, namespace):
    create(api_client, namespace, make_job("fixed", ["sleep", "100"], completions=3, suspend=True))
    proc = kubectl("patch", "job", "fixed", "-n", namespace, "-p", '{"spec":{"completions":5}}', check=False)
    assert "spec.completions: Invalid value: 5: field is immutable" in proc.stderr
    proc = kubectl("patch", "job", "fixed", "-n", namespace, "--type=json", "-p",
                   '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx"}]', check=False)
    assert "spec.template: Invalid value:" in proc.stderr and "field is immutable" in proc.stderr
    # a suspended Job that never started may still move: its nodeSelector and labels
    kubectl("patch", "job", "fixed", "-n", namespace, "-p",
            '{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}')
    elastic = make_job("elastic", ["sleep", "100"], completions=2, parallelism=2, completionMode="Indexed",
                       suspend=True)
    create(api_client, namespace, elastic)
    kubectl("patch", "job", "elastic", "-n", namespace, "-p", '{"spec":{"completions":3,"parallelism":3}}')
    proc = kubectl("patch", "job", "elastic", "-n", namespace, "-p", '{"spec":{"completions":4}}', check=False)
    assert "spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism" in proc.stderr


# ------------------------------------------------------------------ mkctl describe
def mkctl(cluster, *args):
    import os
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig, *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_describe_job_like_kubectl(controllers, cluster, api_client, kubectl, namespace):
    with FakeKubelet(api_client, namespace, finish=lambda pod: 0):
        create(api_client, namespace, make_job("desc", completions=3, parallelism=3, completionMode="Indexed",
                                               ttlSecondsAfterFinished=600, activeDeadlineSeconds=100))
        wait_condition(api_client, namespace, "desc", "Complete")
    out = mkctl(cluster, "describe", "job", "desc", "-n", namespace)
    import re
    for pattern in (r"^Name:\s+desc$", rf"^Namespace:\s+{namespace}$", r"^Selector:\s+batch.kubernetes.io/controller-uid=",
                    r"^Parallelism:\s+3$", r"^Completions:\s+3$", r"^Suspend:\s+false$", r"^Backoff Limit:\s+6$"):
        assert re.search(pattern, out, re.M), (pattern, out)
    assert re.search(r"^Completion Mode:\s+Indexed$", out, re.M)
    assert re.search(r"^TTL Seconds After Finished:\s+600$", out, re.M)
    assert re.search(r"^Active Deadline Seconds:\s+100s$", out, re.M)
    assert re.search(r"^Pods Statuses:\s+0 Active \(0 Ready\) / 3 Succeeded / 0 Failed$", out, re.M)
    assert re.search(r"^Completed Indexes:\s+0-2$", out, re.M)
    assert re.search(r"^Start Time:\s+\w{3}, \d\d \w{3} \d{4}", out, re.M) and "Completed At:" in out
    assert "Pod Template:" in out and re.search(r"^  Containers:\n   main:", out, re.M)
    assert re.search(r"Normal\s+SuccessfulCreate\s+\S+\s+job-controller\s+Created pod: desc-0-", out)
    assert re.search(r"Normal\s+Completed\s+\S+\s+job-controller\s+Job completed", out)
    real = kubectl("describe", "job", "desc", "-n", namespace).stdout          # kubectl's own describer agrees
    for field in ("Parallelism", "Completions", "Completion Mode", "Suspend", "Backoff Limit", "Pods Statuses",
                  "Completed Indexes", "TTL Seconds After Finished", "Active Deadline Seconds"):
        mine = re.search(rf"^{field}:\s+(.*)$", out, re.M).group(1)
        theirs = re.search(rf"^{field}:\s+(.*)$", real, re.M).group(1)
        assert mine == theirs, (field, mine, theirs)
    assert re.search(r"Normal\s+Completed\s+\S+\s+job-controller\s+Job completed", real)


# ------------------------------------------------------------------ the official Python client
def test_official_python_client_reads_jobs(controllers, cluster, api_client, namespace):
    from kubernetes import client, config
    config.load_kube_config(cluster.kubeconfig)
    batch = client.BatchV1Api()
    with FakeKubelet(api_client, namespace, finish=lambda pod: 0):
        batch.create_namespaced_job(namespace, client.V1Job(
            metadata=client.V1ObjectMeta(name="py"),
            spec=client.V1JobSpec(completions=2, parallelism=2, completion_mode="Indexed", template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(restart_policy="Never", containers=[
                    client.V1Container(name="main", image="busybox", command=["true"])])))))
        wait_condition(api_client, namespace, "py", "Complete")
    job = batch.read_namespaced_job_status("py", namespace)
    assert job.status.completed_indexes == "0,1" and job.status.succeeded == 2 and job.status.ready == 0
    assert {c.type for c in job.status.conditions} == {"SuccessCriteriaMet", "Complete"}
    cj = batch.create_namespaced_cron_job(namespace, client.V1CronJob(
        metadata=client.V1ObjectMeta(name="pycron"),
        spec=client.V1CronJobSpec(schedule="@hourly", job_template=client.V1JobTemplateSpec(spec=client.V1JobSpec(
            template=client.V1PodTemplateSpec(spec=client.V1PodSpec(restart_policy="OnFailure", containers=[
                client.V1Container(name="c", image="busybox")])))))))
    assert cj.spec.concurrency_policy == "Allow" and cj.spec.successful_jobs_history_limit == 3
    assert [c.metadata.name for c in batch.list_namespaced_cron_job(namespace).items] == ["pycron"]
