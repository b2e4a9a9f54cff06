#!/usr/bin/env bash
# Installs what Hearth needs on a fresh Debian machine: Python packages in .venv, exactly as the lock
# files in requirements/ pin them (hash-checked), the browser client's npm packages as
# web/package-lock.json pins them, and (with --test) Debian's chromium, firefox-esr, coturn and a Redis
# server for the test suite.
#
# The same commands give the same environment on any machine: pip installs only files whose sha256 the
# lock lists (PyPI's; a local mirror's copy of a file counts only if it is byte-identical), and pip and
# setuptools themselves come from requirements/bootstrap.txt. The project is installed last, editable,
# without build isolation (so its build backend is the locked setuptools, not whatever is newest).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

missing=()
command -v npm >/dev/null || missing+=(nodejs npm)
# pip compiles the forwarding path's C module (server/media/_fastpath.c) when a compiler is there; without
# one the install still succeeds and the server forwards through the Python path (slower).
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' ||
  missing+=(python3-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ "$want_test" = 1 ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
  command -v firefox-esr >/dev/null || missing+=(firefox-esr)
  command -v turnserver >/dev/null || missing+=(coturn)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v openssl >/dev/null || missing+=(openssl)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
if [ "$want_test" = 1 ]; then
  for tool in /usr/bin/chromium firefox-esr turnserver redis-server openssl; do
    command -v "$tool" >/dev/null || { echo "setup: $tool is still missing after apt-get install" >&2; exit 1; }
  done
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# -qq: errors only (a hash that does not match is one); this machine's pip config names local mirror
# folders that hold only some packages, and pip warns once for every package they lack.
pip=(.venv/bin/python -m pip -qq --disable-pip-version-check)
"${pip[@]}" install --require-hashes -r requirements/bootstrap.txt
if [ "$want_test" = 1 ]; then
  locks=(requirements/bootstrap.txt requirements/test.txt)
else
  locks=(requirements/bootstrap.txt requirements/runtime.txt)
fi
"${pip[@]}" install --require-hashes -r "${locks[1]}"
if [ "$want_test" = 1 ]; then
  # The suite runs on exactly the locked set: drop what an older setup installed and the lock no longer names.
  mapfile -t stale < <(.venv/bin/python scripts/locked.py unlocked "${locks[@]}")
  if [ "${#stale[@]}" -gt 0 ]; then
    echo "setup: removing ${stale[*]} (not in the lock)"
    "${pip[@]}" uninstall -y "${stale[@]}"
  fi
fi
"${pip[@]}" install --no-deps --no-build-isolation -e .
# PUPPETEER_SKIP_DOWNLOAD: the browser tests drive Debian's firefox-esr and chromium; no browser download.
(cd web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
