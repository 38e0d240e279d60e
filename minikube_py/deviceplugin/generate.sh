#!/usr/bin/env bash
# Regenerate the Python code for the device plugin API from v1beta1/api.proto.
#
# The proto is compiled from the repository root (see tools/protoc.sh), so the generated
# gRPC module imports its messages as minikube_py.deviceplugin.v1beta1.api_pb2.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

tools/protoc.sh --python_out=. --pyi_out=. --grpc_python_out=. \
    minikube_py/deviceplugin/v1beta1/api.proto

# The generated code must import with the protobuf that is installed here.
python3 -c 'from minikube_py.deviceplugin.v1beta1 import api_pb2, api_pb2_grpc; print("ok:", api_pb2.DESCRIPTOR.package)'
