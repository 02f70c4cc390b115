#!/usr/bin/env bash
# Runs every test: installs the tooling, starts moto (DynamoDB + SQS), runs the workspace
# tests against it, lints the SAM template, stops moto.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/moto.sh
echo "==> cargo build --workspace --bins (tests/init_errors.rs starts the function binaries)"
cargo build --workspace --bins
echo "==> cargo test --workspace"
cargo test --workspace --all-targets "$@"
echo "==> cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "==> all tests passed"
