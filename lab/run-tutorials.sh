#!/usr/bin/env bash
# Run tutorials as CI does: every `$ ` line of their code blocks, output compared.
#   lab/run-tutorials.sh                        # every tutorial marked for the runner
#   lab/run-tutorials.sh docs/tutorials/01-apiserver-and-etcd.md
# The rules are in docs/tutorials/README.md. byexample is in the test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(grep -l '^<!-- tutorial-runner: byexample' docs/tutorials/[0-9]*.md)
fi
exec byexample -l shell --ff --timeout 300 --pretty none -o '+norm-ws +shell=bash' "${files[@]}"
