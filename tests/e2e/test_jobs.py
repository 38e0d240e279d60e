"""Jobs on a real cluster: `minikube-py up`, the real kubectl, real Docker containers.

The docs' first Job (`kubectl create job pi ... echo 3.14`) completes; an Indexed Job
with parallelism 3 runs each index once, each pod seeing its JOB_COMPLETION_INDEX and
the hostname <job>-<index>; a Job whose container exits 1 stops at its backoffLimit
with reason BackoffLimitExceeded; a CronJob's template runs with
`kubectl create job --from=cronjob/...`. The controller-manager runs with
`--job-pod-failure-backoff 1s` (the lab value; Kubernetes waits 10 s).
"""
from __future__ import annotations

import json
import os
import re
import sys
import uuid

import pytest
from dockerutil import list_containers  # tests/dockerutil.py
from commands import run  # tests/commands.py

CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]


@pytest.fixture(scope="module")
def cluster(lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("jobs"))
    prefix = f"job{uuid.uuid4().hex[:4]}"
    out = run(*CLI, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "1",
              "--node-prefix", prefix, "--controller-args", "--job-pod-failure-backoff 1s", timeout=180).stdout
    assert "Cluster is up" in out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    try:
        yield {"env": env, "state": state}
    finally:
        run(*CLI, "down", "--state-dir", state, check=False, timeout=120)
        left = list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={prefix}-1"})
        assert left == [], "containers left behind"


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def get_json(cluster, *args):
    return json.loads(kubectl(cluster, "get", *args, "-o", "json").stdout)


def test_the_pi_job_completes(cluster):
    kubectl(cluster, "create", "job", "pi", "--image=busybox", "--", "sh", "-c", "echo 3.14")
    kubectl(cluster, "wait", "--for=condition=complete", "job/pi", "--timeout=120s", timeout=150)
    assert kubectl(cluster, "logs", "job/pi").stdout.strip() == "3.14"
    row = kubectl(cluster, "get", "job", "pi").stdout.splitlines()[1].split()
    assert row[:3] == ["pi", "Complete", "1/1"]
    job = get_json(cluster, "job", "pi")
    assert job["status"]["succeeded"] == 1 and job["status"]["completionTime"]
    assert {c["type"] for c in job["status"]["conditions"]} == {"SuccessCriteriaMet", "Complete"}


def test_an_indexed_job_runs_each_index_once(cluster):
    kubectl(cluster, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "idx"},
        "spec": {"completions": 3, "parallelism": 3, "completionMode": "Indexed", "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox", "command": [
                "sh", "-c", 'echo "index=$JOB_COMPLETION_INDEX host=$(hostname)"; sleep 2']}]}}}}))
    kubectl(cluster, "wait", "--for=condition=complete", "job/idx", "--timeout=120s", timeout=150)
    job = get_json(cluster, "job", "idx")
    assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
    pods = get_json(cluster, "pods", "-l", "batch.kubernetes.io/job-name=idx")["items"]
    assert len(pods) == 3                                       # each index once, no retries
    lines = sorted(kubectl(cluster, "logs", p["metadata"]["name"]).stdout.strip() for p in pods)
    assert lines == ["index=0 host=idx-0", "index=1 host=idx-1", "index=2 host=idx-2"]
    # parallelism 3: the three ran side by side
    starts = sorted(p["status"]["containerStatuses"][0]["state"]["terminated"]["startedAt"] for p in pods)
    ends = sorted(p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] for p in pods)
    assert starts[-1] < ends[0]


def test_a_failing_job_stops_at_its_backoff_limit(cluster):
    kubectl(cluster, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fail"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo trying; exit 1"]}]}}}}))
    kubectl(cluster, "wait", "--for=condition=failed", "job/fail", "--timeout=120s", timeout=150)
    job = get_json(cluster, "job", "fail")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded" and job["status"]["failed"] == 2
    pods = get_json(cluster, "pods", "-l", "batch.kubernetes.io/job-name=fail")["items"]
    assert sorted(p["status"]["phase"] for p in pods) == ["Failed", "Failed"]      # 1 + backoffLimit tries
    codes = [p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in pods]
    assert codes == [1, 1]
    described = run(*CLI[:-1], "minikube_py.cli.mkctl", "describe", "job", "fail", env=cluster["env"]).stdout
    assert re.search(r"Pods Statuses:\s+0 Active \(0 Ready\) / 0 Succeeded / 2 Failed", described), described
    assert "BackoffLimitExceeded" in described


def test_a_job_from_a_cronjob_template(cluster):
    kubectl(cluster, "create", "cronjob", "hello", "--image=busybox", "--schedule=0 0 1 1 *", "--",
            "sh", "-c", "echo hello from the cronjob")
    kubectl(cluster, "create", "job", "hello-now", "--from=cronjob/hello")
    kubectl(cluster, "wait", "--for=condition=complete", "job/hello-now", "--timeout=120s", timeout=150)
    assert kubectl(cluster, "logs", "job/hello-now").stdout.strip() == "hello from the cronjob"
    header = kubectl(cluster, "get", "cronjob").stdout.splitlines()[0].split()
    assert header == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
