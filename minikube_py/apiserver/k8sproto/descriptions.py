"""What `kubectl explain` prints about a message or a field of the .proto subset here.

Kubernetes writes these as Go doc comments on its types, and they reach the OpenAPI
documents from there; the generated *_pb2 modules carry no comments, so the ones worth
having live in this one table, keyed by the message's full name ("...v1.Deployment")
or message and field ("...v1.DeploymentSpec.strategy"). apiserver/openapi reads it;
a message or field without an entry simply has no description.
"""

_APPS = "k8s.io.api.apps.v1."
_CORE = "k8s.io.api.core.v1."
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."

DESCRIPTIONS = {
    # ------------------------------------------------------------ every object
    "apiVersion": "APIVersion defines the versioned schema of this representation of an object. "
                  "Servers should convert recognized schemas to the latest internal value, and may "
                  "reject unrecognized values.",
    "kind": "Kind is a string value representing the REST resource this object represents. "
            "Servers may infer this from the endpoint the client submits requests to. In CamelCase.",
    "metadata": "Standard object's metadata.",
    "spec": "Spec defines the desired behavior of the object.",
    "status": "Status is the most recently observed state of the object, written by the system; "
              "read-only for clients.",
    _META + "ObjectMeta": "ObjectMeta is metadata that all persisted resources must have, which "
                          "includes all objects users must create.",
    _META + "ObjectMeta.name": "Name must be unique within a namespace. Cannot be updated.",
    _META + "ObjectMeta.namespace": "Namespace defines the space within which each name must be "
                                    "unique. An empty namespace is equivalent to the \"default\" one.",
    _META + "ObjectMeta.labels": "Map of string keys and values that can be used to organize and "
                                 "categorize (scope and select) objects.",
    _META + "ObjectMeta.annotations": "Annotations is an unstructured key value map stored with a "
                                      "resource that may be set by external tools.",
    _META + "LabelSelector": "A label selector is a label query over a set of resources. The result "
                             "of matchLabels and matchExpressions are ANDed. An empty label selector "
                             "matches all objects.",
    _META + "Time": "Time is a timestamp in RFC 3339 form, to the second.",
    _META + "MicroTime": "MicroTime is a timestamp in RFC 3339 form, to the microsecond.",
    "k8s.io.apimachinery.pkg.api.resource.Quantity":
        "Quantity is a fixed-point representation of a number, such as 500m, 1.5, 128Mi or 2Gi.",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        "IntOrString is a type that can hold an int32 or a string.",

    # ------------------------------------------------------------ apps/v1
    _APPS + "Deployment": "Deployment enables declarative updates for Pods and ReplicaSets.",
    _APPS + "DeploymentSpec": "DeploymentSpec is the specification of the desired behavior of the "
                              "Deployment.",
    _APPS + "DeploymentSpec.replicas": "Number of desired pods. Defaults to 1.",
    _APPS + "DeploymentSpec.selector": "Label selector for pods. Existing ReplicaSets whose pods are "
                                       "selected by this will be the ones affected by this "
                                       "deployment. It must match the pod template's labels.",
    _APPS + "DeploymentSpec.template": "Template describes the pods that will be created.",
    _APPS + "DeploymentSpec.strategy": "The deployment strategy to use to replace existing pods "
                                       "with new ones.",
    _APPS + "DeploymentSpec.minReadySeconds": "Minimum number of seconds for which a newly created "
                                              "pod should be ready without any of its container "
                                              "crashing, for it to be considered available.",
    _APPS + "DeploymentSpec.revisionHistoryLimit": "The number of old ReplicaSets to retain to allow "
                                                   "rollback. Defaults to 10.",
    _APPS + "DeploymentSpec.paused": "Indicates that the deployment is paused.",
    _APPS + "DeploymentSpec.progressDeadlineSeconds": "The maximum time in seconds for a deployment "
                                                      "to make progress before it is considered to "
                                                      "be failed. Defaults to 600s.",
    _APPS + "DeploymentStrategy": "DeploymentStrategy describes how to replace existing pods with "
                                  "new ones.",
    _APPS + "DeploymentStrategy.type": "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". "
                                       "Default is RollingUpdate.",
    _APPS + "DeploymentStrategy.rollingUpdate": "Rolling update config params. Present only if "
                                                "DeploymentStrategyType = RollingUpdate.",
    _APPS + "RollingUpdateDeployment": "Spec to control the desired behavior of rolling update.",
    _APPS + "RollingUpdateDeployment.maxUnavailable":
        "The maximum number of pods that can be unavailable during the update. Value can be an "
        "absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%.",
    _APPS + "RollingUpdateDeployment.maxSurge":
        "The maximum number of pods that can be scheduled above the desired number of pods. Value "
        "can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%.",
    _APPS + "DeploymentStatus": "DeploymentStatus is the most recently observed status of the "
                                "Deployment.",
    _APPS + "ReplicaSet": "ReplicaSet ensures that a specified number of pod replicas are running at "
                          "any given time.",
    _APPS + "ReplicaSetSpec": "ReplicaSetSpec is the specification of a ReplicaSet.",
    _APPS + "ReplicaSetSpec.replicas": "Replicas is the number of desired pods. Defaults to 1.",
    _APPS + "ReplicaSetSpec.template": "Template is the object that describes the pod that will be "
                                       "created if insufficient replicas are detected.",

    # ------------------------------------------------------------ core/v1
    _CORE + "Pod": "Pod is a collection of containers that can run on a host. This resource is "
                   "created by clients and scheduled onto hosts.",
    _CORE + "PodSpec": "PodSpec is a description of a pod.",
    _CORE + "PodSpec.containers": "List of containers belonging to the pod. Containers cannot "
                                  "currently be added or removed. There must be at least one "
                                  "container in a Pod. Cannot be updated.",
    _CORE + "PodSpec.initContainers": "List of initialization containers belonging to the pod, run "
                                      "in order before the app containers are started.",
    _CORE + "PodSpec.volumes": "List of volumes that can be mounted by containers belonging to the "
                               "pod.",
    _CORE + "PodSpec.restartPolicy": "Restart policy for all containers within the pod. One of "
                                     "Always, OnFailure, Never. Default to Always.",
    _CORE + "PodSpec.nodeSelector": "NodeSelector is a selector which must be true for the pod to "
                                    "fit on a node.",
    _CORE + "PodSpec.nodeName": "NodeName indicates in which node this pod is scheduled.",
    _CORE + "PodSpec.tolerations": "If specified, the pod's tolerations.",
    _CORE + "PodTemplateSpec": "PodTemplateSpec describes the data a pod should have when created "
                               "from a template.",
    _CORE + "PodStatus": "PodStatus represents information about the status of a pod.",
    _CORE + "Container": "A single application container that you want to run within a pod.",
    _CORE + "Container.name": "Name of the container specified as a DNS_LABEL. Each container in a "
                              "pod must have a unique name. Cannot be updated.",
    _CORE + "Container.image": "Container image name.",
    _CORE + "Container.command": "Entrypoint array. Not executed within a shell. The container "
                                 "image's ENTRYPOINT is used if this is not provided.",
    _CORE + "Container.args": "Arguments to the entrypoint. The container image's CMD is used if "
                              "this is not provided.",
    _CORE + "Container.ports": "List of ports to expose from the container.",
    _CORE + "Container.env": "List of environment variables to set in the container.",
    _CORE + "Container.resources": "Compute Resources required by this container.",
    _CORE + "Container.imagePullPolicy": "Image pull policy. One of Always, Never, IfNotPresent.",
    _CORE + "ContainerPort": "ContainerPort represents a network port in a single container.",
    _CORE + "EnvVar": "EnvVar represents an environment variable present in a Container.",
    _CORE + "ResourceRequirements": "ResourceRequirements describes the compute resource "
                                    "requirements.",
    _CORE + "ResourceRequirements.limits": "Limits describes the maximum amount of compute "
                                           "resources allowed.",
    _CORE + "ResourceRequirements.requests": "Requests describes the minimum amount of compute "
                                             "resources required.",
    _CORE + "Probe": "Probe describes a health check to be performed against a container to "
                     "determine whether it is alive or ready to receive traffic.",
    _CORE + "Volume": "Volume represents a named volume in a pod that may be accessed by any "
                      "container in the pod.",
    _CORE + "VolumeMount": "VolumeMount describes a mounting of a Volume within a container.",
    _CORE + "Toleration": "The pod this Toleration is attached to tolerates any taint that matches "
                          "the triple <key,value,effect> using the matching operator <operator>.",
    _CORE + "Namespace": "Namespace provides a scope for Names. Use of multiple namespaces is "
                         "optional.",
    _CORE + "Node": "Node is a worker node in Kubernetes. Each node will have a unique identifier "
                    "in the cache (i.e. in etcd).",
    _CORE + "Event": "Event is a report of an event somewhere in the cluster.",
    _CORE + "ConfigMap": "ConfigMap holds configuration data for pods to consume.",
    _CORE + "ConfigMap.data": "Data contains the configuration data. Each key must consist of "
                              "alphanumeric characters, '-', '_' or '.'.",
    _CORE + "Secret": "Secret holds secret data of a certain type. The total bytes of the values in "
                      "the Data field must be less than MaxSecretSize bytes.",
    _CORE + "Secret.data": "Data contains the secret data, each value base64 encoded in JSON.",
    _CORE + "Secret.stringData": "stringData allows specifying non-binary secret data in string "
                                 "form. It is merged into the data field on write.",
    _CORE + "ServiceAccount": "ServiceAccount binds together: a name, understood by users, and "
                              "perhaps by peripheral systems, for an identity; a principal that can "
                              "be authenticated and authorized; a set of secrets.",
    _CORE + "Service": "Service is a named abstraction of software service (for example, mysql) "
                       "consisting of local port (for example 3306) that the proxy listens on, and "
                       "the selector that determines which pods will answer requests sent through "
                       "the proxy.",
    _CORE + "ServiceSpec": "ServiceSpec describes the attributes that a user creates on a service.",
    _CORE + "ServiceSpec.type": "type determines how the Service is exposed. Defaults to ClusterIP. "
                                "Valid options are ExternalName, ClusterIP, NodePort, and "
                                "LoadBalancer.",
    _CORE + "ServiceSpec.ports": "The list of ports that are exposed by this service.",
    _CORE + "ServiceSpec.selector": "Route service traffic to pods with label keys and values "
                                    "matching this selector.",
    _CORE + "Endpoints": "Endpoints is a collection of endpoints that implement the actual service.",
    "k8s.io.api.coordination.v1.Lease": "Lease defines a lease concept.",
}
