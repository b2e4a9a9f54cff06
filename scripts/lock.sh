#!/usr/bin/env bash
# Refreshes the lock, then runs the whole suite on it: `bash scripts/lock.sh` moves every package to the
# newest version pyproject.toml allows (the exact pins stay, see pyproject.toml); extra arguments replace
# `--upgrade`, e.g. `bash scripts/lock.sh --upgrade-package aiohttp` moves only aiohttp.
#
# The lock is three requirements files with the sha256 of every file PyPI has for each version (all
# platforms, so a machine of another kind installs from the same lock): bootstrap.txt (pip and setuptools,
# which install and build the project), runtime.txt (what `hearth serve` needs), test.txt (runtime.txt's
# versions plus the test and dev tools). uv compiles them: it resolves for every platform at once and
# reads no pip configuration, so a machine's local mirrors cannot leak into the lock. If the suite fails
# on the new versions, fix the code or keep the old lock (`git checkout requirements/`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- --upgrade
bash scripts/setup.sh --test # the locked uv does the compiling
compile=(.venv/bin/uv pip compile --quiet --no-config --generate-hashes --universal --python-version 3.11
  --custom-compile-command "bash scripts/lock.sh" "$@")
"${compile[@]}" requirements/bootstrap.in -o requirements/bootstrap.txt
"${compile[@]}" pyproject.toml -o requirements/runtime.txt
"${compile[@]}" pyproject.toml --extra test -c requirements/runtime.txt -o requirements/test.txt
exec bash scripts/test.sh
