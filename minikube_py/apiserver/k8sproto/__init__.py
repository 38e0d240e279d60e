"""Generated protobuf classes for the Kubernetes messages the apiserver decodes.

The *.proto files here are a subset of Kubernetes' own (same packages, message names
and field numbers); generate.sh compiles them into the *_pb2.py modules. The decoding
itself is in minikube_py/apiserver/protobuf.py.
"""
