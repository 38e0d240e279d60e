#!/usr/bin/env bash
# Regenerate the Python code for the Kubernetes protobuf subset from the *.proto here.
#
# The generated *_pb2.py are committed, so running minikube-py needs only protobuf;
# only this script needs grpcio-tools (for its bundled protoc). It uses $PYTHON
# (default python3) if it has grpc_tools, else makes a throwaway virtualenv with
# grpcio-tools in it (so the host's protobuf is left alone).
#
# The protos are compiled from the repository root, so they import each other as
# minikube_py/apiserver/k8sproto/meta.proto and the generated modules as
# minikube_py.apiserver.k8sproto.meta_pb2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
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
    --python_out=. --pyi_out=. \
    minikube_py/apiserver/k8sproto/*.proto

# The generated code must import with the protobuf that is installed here.
python3 -c 'from minikube_py.apiserver.k8sproto import apps_pb2, coordination_pb2, core_pb2, policy_pb2, runtime_pb2; print("ok:", core_pb2.DESCRIPTOR.package)'
