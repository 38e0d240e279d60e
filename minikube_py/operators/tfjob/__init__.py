"""The Kubeflow TFJob operator (kubeflow.org/v1), a component of its own: `minikube-py tf-operator`.

As Kubeflow's training operator does it (pkg/controller.v1/tensorflow and common), in
small modules: crd.yaml (the CRD, installed by `up`), spec (the operator's defaults),
tfconfig (the TF_CONFIG each replica reads), replicas (the pod and the headless Service
of one replica), status (replicaStatuses and conditions with the operator's reasons),
controller (informer -> workqueue -> sync), command (the process, with leader election).
"""
