"""Unit tests of the Job and CronJob helpers, one function each: cron times, index sets,
podFailurePolicy matching, the failure back-off, successPolicy rules, validation rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from minikube_py.api import cron
from minikube_py.api.indexset import IndexSetError, format_indexes, parse_indexes
from minikube_py.api.kinds import apply_defaults, validate, validate_update
from minikube_py.controllers.cronjob import job_name, most_recent_schedule_time
from minikube_py.controllers.indexedjob import indexed_template, matched_success_rule
from minikube_py.controllers.jobbackoff import remaining_backoff
from minikube_py.controllers.podfailurepolicy import match_pod_failure_policy

UTC = timezone.utc


# ---------------------------------------------------------------- cron times
@pytest.mark.parametrize("schedule, after, expected", [
    ("*/15 * * * *", "2026-03-01T10:07:30", "2026-03-01T10:15:00"),
    ("@hourly", "2026-03-01T10:00:00", "2026-03-01T11:00:00"),        # strictly after
    ("@daily", "2026-12-31T23:59:00", "2027-01-01T00:00:00"),
    ("0 0 1 * mon", "2026-03-01T00:00:00", "2026-03-02T00:00:00"),     # day of month OR Monday
    ("0 0 * * mon", "2026-03-03T00:00:00", "2026-03-09T00:00:00"),     # * day of month: Mondays only
    ("0 12 29 feb *", "2026-03-01T00:00:00", "2028-02-29T12:00:00"),   # the next leap day
    ("5 4 * jan,jul sun", "2026-02-01T00:00:00", "2026-07-05T04:05:00"),
    ("*/2 * 10-12 * *", "2026-03-12T23:59:00", "2026-04-10T00:00:00"),
])
def test_next_time_a_schedule_fires(schedule, after, expected):
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert cron.Schedule(schedule).next(start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_schedules_fire_on_the_wall_clock_of_their_time_zone():
    tokyo = cron.Schedule("30 9 * * *", ZoneInfo("Asia/Tokyo"))
    fires = tokyo.next(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    assert fires.astimezone(UTC) == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    prefixed = cron.Schedule("CRON_TZ=Asia/Tokyo 30 9 * * *")           # the old way says the same
    assert prefixed.next(datetime(2026, 3, 1, 1, 0, tzinfo=UTC)) == fires


def test_every_and_never():
    assert cron.Schedule("@every 90s").next(datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)) == \
        datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert cron.Schedule("0 0 30 feb *").next(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert cron.parse_duration("1h30m") == timedelta(minutes=90)


def test_times_between():
    sched = cron.Schedule("0 */6 * * *")
    got = list(sched.times(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)))
    assert [t.hour for t in got] == [6, 12, 18, 0]


# ---------------------------------------------------------------- CronJob times
def cronjob(last=None, created="2026-01-01T00:00:00Z", **spec):
    return {"metadata": {"name": "c", "creationTimestamp": created}, "spec": spec,
            "status": {"lastScheduleTime": last} if last else {}}


def test_most_recent_schedule_time_and_missed_count():
    now = datetime(2026, 1, 1, 3, 0, 30, tzinfo=UTC)
    sched = cron.Schedule("* * * * *")
    assert most_recent_schedule_time(cronjob(), sched, now) == (datetime(2026, 1, 1, 3, 0, tzinfo=UTC), 180)
    assert most_recent_schedule_time(cronjob("2026-01-01T03:00:00Z"), sched, now) == (None, 0)
    # startingDeadlineSeconds: nothing older than now - 10s is considered
    assert most_recent_schedule_time(cronjob(startingDeadlineSeconds=10), sched, now) == (None, 0)
    assert most_recent_schedule_time(cronjob(startingDeadlineSeconds=60), sched, now) == \
        (datetime(2026, 1, 1, 3, 0, tzinfo=UTC), 1)


def test_every_schedules_count_steps_without_walking_them():
    now = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    latest, missed = most_recent_schedule_time(cronjob(), cron.Schedule("@every 1s"), now)
    assert (latest, missed) == (now.replace(microsecond=0), 31536030)
    assert most_recent_schedule_time(cronjob("2027-01-01T00:00:00Z"), cron.Schedule("@every 1m"), now) == (None, 0)


def test_job_names_are_minutes_since_the_epoch():
    assert job_name("hello", datetime(2026, 1, 1, tzinfo=UTC)) == "hello-29453760"   # 1767225600 s / 60


# ---------------------------------------------------------------- index sets
@pytest.mark.parametrize("indexes, text", [
    ([], ""), ([3], "3"), ([0, 1], "0,1"), ([0, 1, 2], "0-2"), ([1, 3, 4, 5, 7], "1,3-5,7"),
    ([9, 2, 3, 4, 10, 11, 12], "2-4,9-12")])
def test_index_sets_format_and_parse_back(indexes, text):
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 100) == set(indexes)


@pytest.mark.parametrize("text, message", [
    ("1-2-3", "the fragment \"1-2-3\" violates the requirement that an index interval can have at most two "
              "parts separated by '-'"),
    ("a", 'cannot convert string to integer for index: "a"'),
    ("10", 'too large index: "10"'),
    ("3,1", "non-increasing order, previous: 3, current: 1"),
    ("2-2", "non-increasing order, previous: 2, current: 2")])
def test_bad_index_sets(text, message):
    with pytest.raises(IndexSetError) as err:
        parse_indexes(text, 10)
    assert str(err.value) == message


# ---------------------------------------------------------------- podFailurePolicy
def failed_pod(code=None, container="main", conditions=()):
    statuses = [{"name": container, "state": {"terminated": {"exitCode": code}}}] if code is not None else []
    return {"metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "containerStatuses": statuses,
                       "conditions": [{"type": t, "status": "True"} for t in conditions]}}


POLICY = {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}}]}


def test_pod_failure_policy_first_matching_rule_decides():
    assert match_pod_failure_policy(POLICY, failed_pod(42)) == (
        "FailJob", "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1")
    assert match_pod_failure_policy(POLICY, failed_pod(42, conditions=["DisruptionTarget"]))[0] == "Ignore"
    assert match_pod_failure_policy(POLICY, failed_pod(42, container="side"))[0] == "Count"   # NotIn [1, 2]
    assert match_pod_failure_policy(POLICY, failed_pod(1)) == (None, None)
    assert match_pod_failure_policy(POLICY, failed_pod(0)) == (None, None)        # exit code 0 never matches
    assert match_pod_failure_policy(None, failed_pod(42)) == (None, None)


# ---------------------------------------------------------------- back-off
def finished(at: str) -> dict:
    return {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"containerStatuses": [{"state": {"terminated": {"finishedAt": at}}}]}}


def test_back_off_doubles_per_failure_and_a_success_resets_it():
    now = datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)
    one = [(finished("2026-01-01T00:00:58Z"), True)]
    assert remaining_backoff(one, now, base=10) == 8                       # 10 s after the failure
    three = [(finished("2026-01-01T00:00:10Z"), True), (finished("2026-01-01T00:00:20Z"), True), one[0]]
    assert remaining_backoff(three, now, base=10) == 38                    # 40 s after the third
    reset = [(finished("2026-01-01T00:00:10Z"), True), (finished("2026-01-01T00:00:59Z"), False)]
    assert remaining_backoff(reset, now, base=10) == 0
    many = [(finished("2026-01-01T00:00:59Z"), True)] * 12
    assert remaining_backoff(many, now, base=10, cap=360) == 359           # capped at 6 min


# ---------------------------------------------------------------- Indexed
def test_success_policy_rules():
    policy = {"rules": [{"succeededIndexes": "0,2-4", "succeededCount": 2}, {"succeededCount": 5}]}
    assert matched_success_rule(policy, {0, 1}, 10) is None
    assert matched_success_rule(policy, {0, 3}, 10) == 0
    assert matched_success_rule(policy, {1, 5, 6, 7, 8}, 10) == 1
    assert matched_success_rule({"rules": [{"succeededIndexes": "1-2"}]}, {1, 2}, 3) == 0


def test_an_index_pod_template():
    job = {"metadata": {"name": "train"}, "spec": {"template": {"spec": {
        "containers": [{"name": "w", "env": [{"name": "A", "value": "1"}]}]}}}}
    t = indexed_template(job, 4, 2)
    assert t["metadata"]["annotations"] == {"batch.kubernetes.io/job-completion-index": "4",
                                            "batch.kubernetes.io/job-index-failure-count": "2"}
    assert t["metadata"]["labels"] == {"batch.kubernetes.io/job-completion-index": "4"}
    assert t["spec"]["hostname"] == "train-4"
    assert t["spec"]["containers"][0]["env"][1] == {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}
    assert "env" not in job["spec"]["template"]["spec"]["containers"][0] or \
        len(job["spec"]["template"]["spec"]["containers"][0]["env"]) == 1                 # the Job is untouched


# ---------------------------------------------------------------- validation
def new_job(**spec):
    return {"metadata": {"name": "j", "namespace": "d", "uid": "u"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "busybox"}]}}, **spec}}


def causes(obj, kind="Job"):
    return [(c["field"], c["message"]) for c in validate(kind, apply_defaults(kind, obj))]


def test_pod_failure_policy_validation():
    too_many = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}] * 21}
    assert causes(new_job(podFailurePolicy=too_many)) == [
        ("spec.podFailurePolicy.rules", "Too many: 21: must have at most 20 items")]
    bad = {"rules": [
        {"action": "FailIndex", "onExitCodes": {"operator": "Between", "values": [1, 1]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]},
         "onPodConditions": [{"type": "bad type!", "status": "Maybe"}]}]}
    assert causes(new_job(podFailurePolicy=bad)) == [
        ("spec.podFailurePolicy.rules[0].action", 'Invalid value: "FailIndex": requires the backoffLimitPerIndex '
                                                  'to be set'),
        ("spec.podFailurePolicy.rules[0].onExitCodes.operator",
         'Unsupported value: "Between": supported values: "In", "NotIn"'),
        ("spec.podFailurePolicy.rules[0].onExitCodes.values[1]", "Duplicate value: 1"),
        ("spec.podFailurePolicy.rules[1].onPodConditions[0].type",
         "Invalid value: \"bad type!\": name part must consist of alphanumeric characters, '-', '_' or '.', "
         "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
         "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
        ("spec.podFailurePolicy.rules[1].onPodConditions[0].status",
         'Unsupported value: "Maybe": supported values: "False", "True", "Unknown"'),
        ("spec.podFailurePolicy.rules[1]", "Invalid value: specifying both OnExitCodes and OnPodConditions is not "
                                           "supported")]
    replacement = new_job(podFailurePolicy={"rules": []}, podReplacementPolicy="TerminatingOrFailed")
    assert causes(replacement) == [
        ("spec.podReplacementPolicy", 'Unsupported value: "TerminatingOrFailed": supported values: "Failed"')]


def test_indexed_and_success_policy_validation():
    assert causes(new_job(maxFailedIndexes=1)) == [
        ("spec.backoffLimitPerIndex", "Required value: when maxFailedIndexes is specified"),
        ("spec.maxFailedIndexes", "Invalid value: 1: requires indexed completion mode")]
    policy = {"rules": [{}, {"succeededIndexes": "0-2", "succeededCount": 4}]}
    assert causes(new_job(completionMode="Indexed", completions=3, successPolicy=policy)) == [
        ("spec.successPolicy.rules[0]", "Required value: at least one of succeededCount or succeededIndexes must be "
                                        "specified"),
        ("spec.successPolicy.rules[1].succeededCount",
         "Invalid value: 4: must be less than or equal to 3 (the number of specified completions)"),
        ("spec.successPolicy.rules[1].succeededCount",
         "Invalid value: 4: must be less than or equal to 3 (the number of indexes in the specified "
         "succeededIndexes field)")]


def test_a_suspended_job_that_never_ran_may_change_its_scheduling_directives():
    old = apply_defaults("Job", new_job(suspend=True))
    new = apply_defaults("Job", new_job(suspend=True))
    new["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    new["spec"]["template"]["metadata"]["labels"]["queue"] = "a"
    assert validate_update("Job", old, new) == []
    old["status"] = {"startTime": "2026-01-01T00:00:00Z"}                   # it ran once: fixed now
    assert [c["field"] for c in validate_update("Job", old, new)] == ["spec.template"]
    new = apply_defaults("Job", new_job(suspend=True))
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx"
    assert [c["field"] for c in validate_update("Job", apply_defaults("Job", new_job(suspend=True)), new)] == \
        ["spec.template"]
