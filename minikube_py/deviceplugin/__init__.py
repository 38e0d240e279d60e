"""Device plugins: the Kubernetes device plugin protocol (v1beta1) and two plugins.

* api.py        constants and helpers; v1beta1/ holds api.proto and its generated code
* plugin.py     the plugin side of the protocol (serve, register, ListAndWatch, Allocate)
* simulated.py  N simulated GPUs for machines without GPUs
* nvidia.py     real GPUs through NVML
* command.py    `minikube-py device-plugin simulated|nvidia`

The kubelet's side is minikube_py/kubelet/devices/.
"""
