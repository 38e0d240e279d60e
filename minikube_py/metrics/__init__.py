"""Resource metrics as Kubernetes serves them: metrics.k8s.io (scraper.py scrapes the
kubelets' Summary API as metrics-server does, api.py serves NodeMetrics/PodMetrics
from the apiserver) and the components' Prometheus ``/metrics`` (prometheus.py)."""
