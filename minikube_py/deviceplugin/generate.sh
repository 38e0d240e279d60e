#!/usr/bin/env bash
# Regenerate the Python code for the device plugin API from v1beta1/api.proto.
#
# The generated api_pb2.py / api_pb2_grpc.py are committed, so running
# minikube-py needs only grpcio + protobuf; only this script needs grpcio-tools.
# It uses $PYTHON (default python3) if it has grpc_tools, else makes a throwaway
# virtualenv with grpcio-tools in it (so the host's protobuf is left alone).
#
# The proto is compiled from the repository root, so the generated gRPC module
# imports its messages as minikube_py.deviceplugin.v1beta1.api_pb2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
cd "$ROOT"

if ! "$PY" -c 'import grpc_tools' 2>/dev/null; then
    TMPDIR_="$(mktemp -d)"
    trap 'rm -rf "$TMPDIR_"' EXIT
    VENV="$TMPDIR_/grpc-tools"
    echo "grpc_tools not found for $PY: installing grpcio-tools into a temporary virtualenv" >&2
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q grpcio-tools
    PY="$VENV/bin/python"
fi

"$PY" -m grpc_tools.protoc -I . \
    --python_out=. --pyi_out=. --grpc_python_out=. \
    minikube_py/deviceplugin/v1beta1/api.proto

# The generated code must import with the protobuf that is installed here.
python3 -c 'from minikube_py.deviceplugin.v1beta1 import api_pb2, api_pb2_grpc; print("ok:", api_pb2.DESCRIPTOR.package)'
