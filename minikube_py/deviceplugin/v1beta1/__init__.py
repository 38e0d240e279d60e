"""Generated code for the Kubernetes device plugin API v1beta1 (see api.proto)."""
