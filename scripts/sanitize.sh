#!/usr/bin/env bash
# Builds the compiled packet path (server/media/_fastpath.c) with AddressSanitizer and
# UndefinedBehaviorSanitizer, out of tree, and runs the media tests against that build; any sanitizer
# report ends the run with a non-zero exit. Extra arguments go to pytest in place of the default tests,
# e.g. `bash scripts/sanitize.sh tests/media/test_inlet.py`. The environment it sets up can run other
# Python too: `bash scripts/sanitize.sh --exec .venv/bin/python bench/fuzz_fastpath.py --seconds 60`.
#
# How the sanitized module gets used: it is built into a temporary folder (the in-place build the
# server uses is left alone), and scripts/sanitized_fastpath.py, a pytest plugin, makes
# `server.media._fastpath` resolve to it and fails the run unless that file is the one loaded (it
# prints the file). For --exec, HEARTH_SANITIZED_FASTPATH names the build and the script imports it.
#
# The runtime options, and why:
# - LD_PRELOAD of libasan (and libubsan): CPython itself is not built with ASan, and ASan's runtime must
#   be the first library in the process to intercept malloc; a sanitized extension loaded by dlopen
#   would otherwise abort with "ASan runtime does not come first".
# - PYTHONMALLOC=malloc: CPython's own small-object allocator carves objects out of large arenas, so
#   ASan would see one big block and miss an overrun of a bytes object the module writes or reads;
#   with plain malloc every object gets ASan's redzones.
# - detect_leaks=0: the interpreter deliberately leaves interned strings, static types, module state
#   and caches allocated at exit (freeing them is the OS's job), so LeakSanitizer reports thousands of
#   leaks that are CPython's by design, not ours; reference-counting mistakes in the module are caught
#   instead by the tests that hold collection and descriptor counts (test_inlet, test_outlet).
# - halt_on_error=1 (and -fno-sanitize-recover=all for UBSan): the first report aborts the process,
#   so pytest cannot count a test as passed after memory was already corrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
[ -x "$python" ] || { echo "sanitize: no .venv; run bash scripts/setup.sh --test first" >&2; exit 1; }
build=$(mktemp -d /tmp/hearth-sanitize.XXXXXX)
trap 'rm -rf "$build"' EXIT
suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
module="$build/_fastpath$suffix"

gcc -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
  -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror \
  -I"$include" server/media/_fastpath.c -o "$module"
echo "sanitize: built $module"

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc
export HEARTH_SANITIZED_FASTPATH="$module"
export HEARTH_COMPILED_FORWARDING=1

if [ "${1:-}" = "--exec" ]; then
  shift
  "$@"
  exit $?
fi
[ $# -gt 0 ] || set -- tests/media
# Browser tests are not here: tests/media runs real aiortc peers on loopback, no browser.
PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}" "$python" -m pytest -q -p no:cacheprovider -p sanitized_fastpath "$@"
