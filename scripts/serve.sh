#!/usr/bin/env bash
# One command from a fresh checkout to a running Hearth node on the embedded in-memory store.
# Extra arguments go to `hearth serve` (e.g. --host 0.0.0.0 --port 8080 --allow-loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hearth serve --demo "$@"
