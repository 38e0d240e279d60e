"""A TFJob's spec as the operator reads it: names, labels and the defaults it applies.

The training operator does not store its defaults: it applies them to its copy of the
job on every reconcile (``Scheme.Default``), so what users wrote stays what they wrote.
Defaults (pkg/apis/kubeflow.org/v1/tensorflow_defaults.go):

    runPolicy.cleanPodPolicy   None        (finished jobs keep their pods for their logs)
    successPolicy              ""          (the chief, or worker 0 when there is no chief)
    replica type keys          "worker" -> "Worker" (any case is accepted)
    replicas                   1
    restartPolicy              Never
    the tensorflow container   gets a port tfjob-port 2222 unless it names one
"""
from __future__ import annotations

import copy

GROUP, VERSION, KIND, PLURAL = "kubeflow.org", "v1", "TFJob", "tfjobs"
API_VERSION = f"{GROUP}/{VERSION}"
CONTROLLER_NAME = "tfjob-controller"         # the training operator's, in its labels and events

# Replica types, in the order the operator walks them when it decides the job's state.
PS, WORKER, CHIEF, MASTER, EVALUATOR = "PS", "Worker", "Chief", "Master", "Evaluator"
REPLICA_TYPES = (CHIEF, EVALUATOR, MASTER, PS, WORKER)

DEFAULT_CONTAINER = "tensorflow"             # TF_CONFIG and the default port go to this container
DEFAULT_PORT_NAME, DEFAULT_PORT = "tfjob-port", 2222
DEFAULT_RESTART_POLICY = "Never"
RESTART_POLICIES = ("Always", "OnFailure", "Never", "ExitCode")
CLEAN_POD_POLICIES = ("None", "Running", "All")
SUCCESS_POLICY_ALL_WORKERS = "AllWorkers"

# Labels the operator puts on each pod and service (training.kubeflow.org/...).
OPERATOR_NAME_LABEL = "training.kubeflow.org/operator-name"
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"
REPLICA_INDEX_LABEL = "training.kubeflow.org/replica-index"
JOB_ROLE_LABEL = "training.kubeflow.org/job-role"
MANAGED_BY_THIS = "kubeflow.org/training-operator"


def with_defaults(job: dict) -> dict:
    """A copy of the TFJob with the operator's defaults filled in."""
    job = copy.deepcopy(job)
    spec = job.setdefault("spec", {})
    run_policy = spec.setdefault("runPolicy", {})
    run_policy.setdefault("cleanPodPolicy", "None")
    if spec.get("successPolicy") is None:
        spec["successPolicy"] = ""
    replicas = spec.get("tfReplicaSpecs") or {}
    spec["tfReplicaSpecs"] = {camel_case(rtype): rspec for rtype, rspec in replicas.items()}
    for rspec in spec["tfReplicaSpecs"].values():
        if rspec is None:
            continue
        if rspec.get("replicas") is None:
            rspec["replicas"] = 1
        if not rspec.get("restartPolicy"):
            rspec["restartPolicy"] = DEFAULT_RESTART_POLICY
        _default_port(((rspec.setdefault("template", {})).setdefault("spec", {})))
    return job


def camel_case(rtype: str) -> str:
    """"worker", "WORKER" -> "Worker": the operator accepts replica types in any case."""
    for known in REPLICA_TYPES:
        if rtype.lower() == known.lower():
            return known
    return rtype


def _default_port(pod_spec: dict) -> None:
    containers = pod_spec.get("containers") or []
    if not containers:
        return
    target = next((c for c in containers if c.get("name") == DEFAULT_CONTAINER), containers[0])
    ports = target.setdefault("ports", [])
    if not any(p.get("name") == DEFAULT_PORT_NAME for p in ports):
        ports.append({"name": DEFAULT_PORT_NAME, "containerPort": DEFAULT_PORT})


def replica_specs(job: dict) -> dict:
    """{type: replica spec} of a defaulted job, in the operator's order."""
    specs = (job.get("spec") or {}).get("tfReplicaSpecs") or {}
    return {t: specs[t] for t in REPLICA_TYPES if specs.get(t) is not None}


def port_of(job: dict, rtype: str) -> int:
    """The tfjob-port of the replica type's tensorflow container (2222 if it names none)."""
    template = ((job["spec"]["tfReplicaSpecs"].get(rtype) or {}).get("template") or {})
    for container in (template.get("spec") or {}).get("containers") or []:
        if container.get("name") == DEFAULT_CONTAINER:
            for port in container.get("ports") or []:
                if port.get("name") == DEFAULT_PORT_NAME:
                    return int(port["containerPort"])
    return DEFAULT_PORT


def ports_of(rspec: dict) -> dict:
    """{name: port} of the tensorflow container: the ports of each replica's Service."""
    for container in ((rspec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if container.get("name") == DEFAULT_CONTAINER:
            return {p["name"]: int(p["containerPort"]) for p in container.get("ports") or []
                    if p.get("name") and p.get("containerPort")}
    return {}


def has_chief_or_master(job: dict) -> bool:
    specs = replica_specs(job)
    return CHIEF in specs or MASTER in specs


def is_master_role(job: dict, rtype: str, index: int) -> bool:
    """The replica whose success is the job's: chief/master, else worker 0."""
    if has_chief_or_master(job):
        return rtype in (CHIEF, MASTER)
    return rtype == WORKER and index == 0


def is_distributed(job: dict) -> bool:
    """More than one replica in all: only then does a pod get TF_CONFIG."""
    return sum(int(s.get("replicas", 1)) for s in replica_specs(job).values()) != 1


def replica_name(job_name: str, rtype: str, index: int) -> str:
    """``{job}-{type}-{index}``, type in lower case: the name of the pod and of its Service."""
    return f"{job_name}-{rtype.lower()}-{index}".replace("/", "-")


def job_labels(job_name: str) -> dict:
    return {OPERATOR_NAME_LABEL: CONTROLLER_NAME, JOB_NAME_LABEL: job_name.replace("/", "-")}


def replica_labels(job_name: str, rtype: str, index: int) -> dict:
    return dict(job_labels(job_name), **{REPLICA_TYPE_LABEL: rtype.lower(), REPLICA_INDEX_LABEL: str(index)})
