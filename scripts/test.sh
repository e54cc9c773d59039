#!/usr/bin/env bash
# The suite as two pytest processes, one per core (the machine this runs on has two):
#   - tests marked `timing` (real load, real services, or an assertion on elapsed time; marked in
#     tests/conftest.py) in the foreground, one at a time, at normal priority, printed live;
#   - every other test beside them at the lowest CPU priority (nice 19), its output kept in
#     .cache/test-unhurried.log and printed when both are done.
# A niced test yields the CPU to a load test at once, so the load test measures what it would
# measure alone, while the pure-CPU tests use the time the load tests spend waiting.
# Arguments go to both processes; TEST_MARKS (a pytest -m expression) narrows both.
# Exit status: the first non-zero of the two (5, "no test selected", counts only when both say it).
set -uo pipefail
cd "$(dirname "$0")/.."
UV=(uv)
command -v uv >/dev/null 2>&1 || UV=(python3 -m uv)

marks="${TEST_MARKS:-}"
narrow() { if [ -n "$marks" ]; then echo "$1 and ($marks)"; else echo "$1"; fi; }

mkdir -p .cache
log=.cache/test-unhurried.log
nice -n 19 "${UV[@]}" run --frozen --no-sync pytest -p no:cacheprovider -m "$(narrow "not timing")" "$@" >"$log" 2>&1 &
unhurried=$!
trap 'kill "$unhurried" 2>/dev/null' INT TERM

"${UV[@]}" run --frozen --no-sync pytest -m "$(narrow timing)" "$@"
timed=$?
echo "--- waiting for the tests that measure no time (nice 19, log: $log) ---"
wait "$unhurried"
rest=$?
cat "$log"

if [ "$timed" = 5 ] && [ "$rest" = 5 ]; then exit 5; fi
[ "$timed" = 5 ] && timed=0
[ "$rest" = 5 ] && rest=0
echo "timing tests: exit $timed; the others: exit $rest"
[ "$timed" != 0 ] && exit "$timed"
exit "$rest"
