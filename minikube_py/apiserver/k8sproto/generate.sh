#!/usr/bin/env bash
# Regenerate the Python code for the Kubernetes protobuf subset from the *.proto here.
#
# The protos are compiled from the repository root (see tools/protoc.sh), so they import
# each other as minikube_py/apiserver/k8sproto/meta.proto and the generated modules as
# minikube_py.apiserver.k8sproto.meta_pb2.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."

tools/protoc.sh --python_out=. --pyi_out=. minikube_py/apiserver/k8sproto/*.proto

# The generated code must import with the protobuf that is installed here.
python3 -c 'from minikube_py.apiserver.k8sproto import apps_pb2, authentication_pb2, authorization_pb2, batch_pb2, coordination_pb2, core_pb2, discovery_pb2, policy_pb2, rbac_pb2, runtime_pb2, storage_pb2; print("ok:", core_pb2.DESCRIPTOR.package)'
