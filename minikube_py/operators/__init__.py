"""Operators: controllers of custom resources, each its own component (as Kubeflow's are)."""
