#!/usr/bin/env bash
# Run grpcio-tools' protoc from the repository root: tools/protoc.sh <protoc arguments...>
#
# Generated *_pb2.py files are committed, so running minikube-py needs only grpcio and
# protobuf; only regenerating them needs grpcio-tools (for its bundled protoc). This uses
# $PYTHON (default python3) if it has grpc_tools, else a throwaway virtualenv with
# grpcio-tools in it (so the host's protobuf is left alone).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import grpc_tools' 2>/dev/null; then
    TMPDIR_="$(mktemp -d)"
    trap 'rm -rf "$TMPDIR_"' EXIT
    VENV="$TMPDIR_/grpc-tools"
    echo "grpc_tools not found for $PY: installing grpcio-tools into a temporary virtualenv" >&2
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q grpcio-tools
    PY="$VENV/bin/python"
fi

"$PY" -m grpc_tools.protoc -I . "$@"
