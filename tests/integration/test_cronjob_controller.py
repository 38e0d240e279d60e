"""The CronJob and TTL-after-finished controllers against the real apiserver (real etcd).

A schedule fires at most once a minute, so the tests do not wait for the clock: they
write ``status.lastScheduleTime`` of a suspended CronJob into the past (as if the
controller had been down), resume it, and watch the controller catch up on the most
recent missed time. Jobs finish through the Job controller and the fake kubelet.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from fakekubelet import FakeKubelet
from polling import wait_for

STAMP = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture(scope="module")
def controllers(controller_manager):
    from minikube_py.controllers.config import ControllerConfig
    return controller_manager(["cronjob", "job", "ttl-after-finished", "garbagecollector"],
                              ControllerConfig(job_pod_failure_backoff=1.0))


def make_cronjob(name, schedule="* * * * *", command=("true",), suspend=True, **spec):
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "suspend": suspend, **spec, "jobTemplate": {
                "metadata": {"labels": {"app": name}}, "spec": {"template": {"spec": {
                    "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                                                              "command": list(command)}]}}}}}}


def ago(**delta) -> str:
    return (datetime.now(timezone.utc) - timedelta(**delta)).strftime(STAMP)


def set_last_schedule(client, namespace, name, when):
    cj = client.get("cronjobs", name, namespace=namespace)
    cj["status"] = dict(cj.get("status") or {}, lastScheduleTime=when)
    client.update_status("cronjobs", cj)


def resume(client, namespace, name):
    client.patch("cronjobs", name, {"spec": {"suspend": False}}, namespace=namespace)


def jobs_of(client, namespace, name):
    return [j for j in client.list("jobs", namespace=namespace)["items"]
            if any(r.get("name") == name and r.get("kind") == "CronJob"
                   for r in j["metadata"].get("ownerReferences") or [])]


def events_of(client, namespace, name, reason):
    return [e for e in client.list("events", namespace=namespace)["items"]
            if e["involvedObject"].get("name") == name and e.get("reason") == reason]


def minute_now():
    return int(datetime.now(timezone.utc).timestamp()) // 60


def test_a_cronjob_starts_the_most_recent_missed_run_and_records_it(controllers, api_client, namespace):
    api_client.create("cronjobs", make_cronjob("every"), namespace=namespace)
    set_last_schedule(api_client, namespace, "every", ago(minutes=5))
    with FakeKubelet(api_client, namespace, finish=lambda pod: 0):
        before = minute_now()
        resume(api_client, namespace, "every")
        job = wait_for(lambda: jobs_of(api_client, namespace, "every"), what="a Job")[0]
        assert job["metadata"]["name"] in (f"every-{before}", f"every-{before + 1}")   # one run, not five
        ref = job["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "every", True)
        scheduled = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        assert int(datetime.fromisoformat(scheduled.replace("Z", "+00:00")).timestamp()) // 60 == \
            int(job["metadata"]["name"].rsplit("-", 1)[1])
        assert job["metadata"]["labels"]["app"] == "every"
        cj = api_client.get("cronjobs", "every", namespace=namespace)
        assert [a["name"] for a in cj["status"].get("active") or []] in ([job["metadata"]["name"]], [])
        cj = wait_for(lambda: (lambda c: c["status"].get("lastSuccessfulTime") and not c["status"].get("active")
                               and c)(api_client.get("cronjobs", "every", namespace=namespace)),
                      what="lastSuccessfulTime, nothing active")
    assert cj["status"]["lastScheduleTime"] == scheduled
    assert len(jobs_of(api_client, namespace, "every")) == 1
    assert wait_for(lambda: events_of(api_client, namespace, "every", "SawCompletedJob"), what="SawCompletedJob")


def test_forbid_skips_while_a_run_is_active_and_replace_replaces_it(controllers, api_client, namespace):
    for policy in ("Forbid", "Replace"):
        name = policy.lower()
        cj = api_client.create("cronjobs", make_cronjob(name, command=("sleep", "100"), concurrencyPolicy=policy),
                               namespace=namespace)
        old = api_client.create("jobs", {          # an earlier run, still running
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{name}-1", "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": name, "uid": cj["metadata"]["uid"],
                "controller": True}]},
            "spec": {"suspend": True, "template": cj["spec"]["jobTemplate"]["spec"]["template"]}}, namespace=namespace)
        cj = api_client.get("cronjobs", name, namespace=namespace)
        cj["status"] = {"lastScheduleTime": ago(minutes=5), "active": [{
            "kind": "Job", "apiVersion": "batch/v1", "namespace": namespace, "name": old["metadata"]["name"],
            "uid": old["metadata"]["uid"]}]}
        api_client.update_status("cronjobs", cj)
        resume(api_client, namespace, name)
    wait_for(lambda: events_of(api_client, namespace, "forbid", "JobAlreadyActive"), what="JobAlreadyActive")
    assert [j["metadata"]["name"] for j in jobs_of(api_client, namespace, "forbid")] == ["forbid-1"]
    replaced = wait_for(lambda: (lambda js: [j["metadata"]["name"] for j in js] != ["replace-1"] and js)(
        jobs_of(api_client, namespace, "replace")), what="the Replace run")
    assert [j["metadata"]["name"] for j in replaced if not j["metadata"].get("deletionTimestamp")] != ["replace-1"]
    wait_for(lambda: "replace-1" not in [j["metadata"]["name"] for j in jobs_of(api_client, namespace, "replace")],
             what="the old run deleted")
    wait_for(lambda: [a["name"] for a in api_client.get("cronjobs", "replace", namespace=namespace)["status"]
                      .get("active") or []] == [j["metadata"]["name"] for j in jobs_of(api_client, namespace, "replace")],
             what="status.active names the new run only")
    wait_for(lambda: events_of(api_client, namespace, "replace", "SuccessfulDelete"),   # events are sent
             what="a SuccessfulDelete event")                                       # in the background


def test_starting_deadline_and_too_many_missed_times(controllers, api_client, namespace):
    # a yearly schedule, last run two years ago: without a deadline it catches up on Jan 1 ...
    for name, extra in (("yearly", {}), ("strict", {"startingDeadlineSeconds": 60})):
        api_client.create("cronjobs", make_cronjob(name, "0 0 1 1 *", **extra), namespace=namespace)
        set_last_schedule(api_client, namespace, name, ago(days=800))
        resume(api_client, namespace, name)
    jan1 = datetime(datetime.now(timezone.utc).year, 1, 1, tzinfo=timezone.utc)
    wait_for(lambda: [j["metadata"]["name"] for j in jobs_of(api_client, namespace, "yearly")]
             == [f"yearly-{int(jan1.timestamp()) // 60}"], what="the Jan 1 run")
    # ... with startingDeadlineSeconds 60 that run is too old to start
    api_client.create("cronjobs", make_cronjob("often"), namespace=namespace)
    set_last_schedule(api_client, namespace, "often", ago(hours=3))
    resume(api_client, namespace, "often")
    event = wait_for(lambda: events_of(api_client, namespace, "often", "TooManyMissedTimes"), what="the warning")[0]
    assert event["type"] == "Warning" and event["message"].startswith("too many missed start times: 18")
    wait_for(lambda: jobs_of(api_client, namespace, "often"), what="a run anyway")
    assert jobs_of(api_client, namespace, "strict") == []
    assert api_client.get("cronjobs", "strict", namespace=namespace)["status"].get("active") is None


def test_time_zone_decides_when_it_fires(controllers, api_client, namespace):
    api_client.create("cronjobs", make_cronjob("tokyo", "30 9 * * *", timeZone="Asia/Tokyo"), namespace=namespace)
    set_last_schedule(api_client, namespace, "tokyo", ago(days=2))
    resume(api_client, namespace, "tokyo")
    job = wait_for(lambda: jobs_of(api_client, namespace, "tokyo"), what="a run")[0]
    scheduled = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert scheduled.endswith("T09:30:00+09:00")                     # 09:30 in Tokyo, written in its zone
    wait_for(lambda: api_client.get("cronjobs", "tokyo", namespace=namespace)["status"]["lastScheduleTime"]
             .endswith("T00:30:00Z"), what="lastScheduleTime 00:30 UTC")


def test_history_limits_keep_the_newest_finished_jobs(controllers, api_client, namespace):
    cj = api_client.create("cronjobs", make_cronjob("hist", successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1),
                           namespace=namespace)
    template = cj["spec"]["jobTemplate"]["spec"]["template"]
    for i, outcome in enumerate(["Complete"] * 4 + ["Failed"] * 2):
        job = api_client.create("jobs", {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"hist-{i}", "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": "hist", "uid": cj["metadata"]["uid"],
                "controller": True}]},
            "spec": {"suspend": True, "template": template}}, namespace=namespace)
        stamp = f"2026-01-01T00:0{i}:00Z"
        status = {"startTime": stamp, "conditions": [
            {"type": "SuccessCriteriaMet" if outcome == "Complete" else "FailureTarget", "status": "True",
             "lastTransitionTime": stamp},
            {"type": outcome, "status": "True", "lastTransitionTime": stamp}],
            **({"completionTime": stamp} if outcome == "Complete" else {})}
        api_client.patch("jobs", job["metadata"]["name"], {"status": status}, namespace=namespace,
                         subresource="status")
    api_client.patch("cronjobs", "hist", {"metadata": {"annotations": {"poke": "1"}}}, namespace=namespace)
    wait_for(lambda: sorted(j["metadata"]["name"] for j in jobs_of(api_client, namespace, "hist")
                            if not j["metadata"].get("deletionTimestamp")) == ["hist-2", "hist-3", "hist-5"],
             what="2 succeeded and 1 failed kept")
    assert api_client.get("cronjobs", "hist", namespace=namespace)["status"]["lastSuccessfulTime"] == \
        "2026-01-01T00:03:00Z"


def test_kubectl_get_and_create_job_from_cronjob(controllers, api_client, kubectl, namespace):
    kubectl("create", "cronjob", "hello", "-n", namespace, "--image=busybox", "--schedule=*/5 * * * *",
            "--", "echo", "hi")
    lines = kubectl("get", "cronjob", "hello", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert lines[1].split()[:10] == ["hello", "*/5", "*", "*", "*", "*", "<none>", "False", "0", "<none>"]
    kubectl("create", "job", "hello-now", "-n", namespace, "--from=cronjob/hello")
    job = json.loads(kubectl("get", "job", "hello-now", "-n", namespace, "-o", "json").stdout)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]


def test_ttl_after_finished_deletes_the_job_and_its_pods(controllers, api_client, namespace):
    before = api_client.list("pods", namespace=namespace)["metadata"]["resourceVersion"]
    with FakeKubelet(api_client, namespace, finish=lambda pod: 0):
        api_client.create("jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "brief"},
                                   "spec": {"ttlSecondsAfterFinished": 1, "template": {"spec": {
                                       "restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}}}, namespace=namespace)
        wait_for(lambda: not api_client.list("jobs", namespace=namespace)["items"], what="the Job deleted")
        wait_for(lambda: not api_client.list("pods", namespace=namespace)["items"], what="its pods deleted too")
    # The pod's whole life can fall between two polls (completionTime is to the second, so a
    # TTL of 1 s may end a moment after the pod finished): its events tell that it was there.
    seen = [(kind, obj["metadata"]["name"]) for kind, obj in
            api_client.watch("pods", namespace=namespace, resource_version=before, timeout_seconds=1)]
    names = {name for _, name in seen}
    assert len(names) == 1 and next(iter(names)).startswith("brief-"), seen
    assert seen[0][0] == "ADDED" and seen[-1][0] == "DELETED", seen


def test_describe_cronjob_like_kubectl(controllers, cluster, api_client, kubectl, namespace):
    import os
    import re
    import subprocess
    import sys
    api_client.create("cronjobs", make_cronjob("d", "15 3 * * *", timeZone="Europe/Paris", startingDeadlineSeconds=90,
                                               concurrencyPolicy="Forbid"), namespace=namespace)
    out = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig,
                          "describe", "cronjob", "d", "-n", namespace], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ)).stdout
    for pattern in (r"^Name:\s+d$", r"^Schedule:\s+15 3 \* \* \*$",
                    r"^Concurrency Policy:\s+Forbid$", r"^Suspend:\s+True$", r"^Successful Job History Limit:\s+3$",
                    r"^Failed Job History Limit:\s+1$", r"^Starting Deadline Seconds:\s+90s$",
                    r"^Selector:\s+<unset>$", r"^Parallelism:\s+<unset>$", r"^Pod Template:$",
                    r"^Last Schedule Time:\s+<unset>$", r"^Active Jobs:\s+<none>$"):
        assert re.search(pattern, out, re.M), (pattern, out)
    real = kubectl("describe", "cronjob", "d", "-n", namespace).stdout      # kubectl's own describer agrees
    for field in ("Schedule", "Concurrency Policy", "Suspend", "Successful Job History Limit",
                  "Failed Job History Limit", "Starting Deadline Seconds", "Parallelism", "Last Schedule Time",
                  "Active Jobs"):
        mine = re.search(rf"^{field}:\s+(.*)$", out, re.M).group(1)
        theirs = re.search(rf"^{field}:\s+(.*)$", real, re.M).group(1)
        assert mine == theirs, (field, mine, theirs)
