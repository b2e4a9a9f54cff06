#!/usr/bin/env bash
# One command from a fresh checkout to the whole test suite: installs Python and npm packages,
# Debian's chromium and redis-server when missing, starts Redis when none answers, lints, type-checks
# and runs every test. Tests that need Redis or Chromium fail when they are missing; none skips.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ! redis_up; then
  echo "test: no Redis at 127.0.0.1:6379, starting one"
  mkdir -p /tmp/hearth-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/hearth-redis --logfile /tmp/hearth-redis/redis.log
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
mkdir -p artifacts
HEARTH_TEST_REDIS_URL="${HEARTH_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
  .venv/bin/python -m pytest -q -p no:cacheprovider -o junit_family=xunit2 "$@"
