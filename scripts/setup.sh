#!/usr/bin/env bash
# Installs the test tooling into .venv (moto server, cfn-lint) from PyPI. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements-installed
if [ -f "$stamp" ] && cmp -s scripts/requirements-test.txt "$stamp"; then
  exit 0
fi
echo "==> installing test tooling into .venv (moto, cfn-lint)"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
cp scripts/requirements-test.txt "$stamp"
