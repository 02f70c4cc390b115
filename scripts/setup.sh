#!/usr/bin/env bash
# Installs the test tooling from PyPI, each venv only when its requirements changed (a stamp
# file holds the list it was installed from). Idempotent.
#   .venv       scripts/requirements-test.txt: moto server, cfn-lint, SAM CLI
#   .venv-lint  scripts/requirements-lint.txt: checkov (its boto3 pin conflicts with the SAM CLI's)
#   .venv-api   scripts/requirements-api.txt: schemathesis (the API fuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  local venv=$1 requirements=$2 what=$3
  local stamp=$venv/.requirements-installed
  if [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
    return 0
  fi
  echo "==> installing $what into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}

install .venv scripts/requirements-test.txt "test tooling (moto, cfn-lint, SAM CLI)"
install .venv-lint scripts/requirements-lint.txt "the template scanner (checkov)"
install .venv-api scripts/requirements-api.txt "the API fuzzer (schemathesis)"
