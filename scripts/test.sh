#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, types and pytest (unit,
# connector, end-to-end on the real stack). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
HUB_FOR_TESTS=1 bash scripts/bootstrap.sh
echo "[test] ruff"
.venv/bin/ruff check hub connectors mappings flows deployments devtools sandbox tests bench
echo "[test] import-linter (the layer rules in pyproject.toml)"
.venv/bin/lint-imports --no-cache
mypy_cmd=(.venv/bin/mypy hub flows deployments connectors mappings devtools)
if [ "$#" -gt 0 ]; then
  echo "[test] mypy (strict on all product code)"
  "${mypy_cmd[@]}"
  echo "[test] pytest $*"
  exec .venv/bin/python -m pytest "$@"
fi
# mypy (strict on all product code; half a minute of one core from a fresh clone) runs beside
# the stacks' start-up instead of before it; its verdict counts like the tests'.
mypy_out=$(mktemp)
echo "[test] mypy (strict on all product code), beside the tests: its output at the end"
"${mypy_cmd[@]}" >"$mypy_out" 2>&1 &
mypy_pid=$!
# The whole suite as three pytest processes side by side: the end-to-end tests on the shared
# stack (mostly waiting on Prefect, RT and the sandboxes), the chaos run on a stack of its own
# (mostly waiting out faults, kills and retries), and everything else. One after the other,
# the two cores sat idle more than half of the time.
chaos_out=$(mktemp)
beside=$(mktemp)
others=$(ls -d tests/*/ | grep -v -e '^tests/e2e/$' -e '^tests/chaos/$' -e __pycache__)
basetemp=$(mktemp -d)
# The end-to-end tests with a stack of their own run beside, instead of lengthening the
# shared-stack process: Public 360 after the chaos run, the killed-runner recovery (a stack
# with short recovery windows, ~4 minutes mostly waiting for heartbeats) before the rest.
own_stack=tests/e2e/test_p360.py
recovery=tests/e2e/test_recovery.py
echo "[test] pytest: tests/e2e here; beside it (output at the end): tests/chaos/ and $own_stack, and $recovery ${others//$'\n'/ }"
# -rP: the chaos bench's table of faults and invariants is printed even when it passes; -rfE
# (pytest's default, which -rP replaces) ends the output with a failed invariant's findings.
.venv/bin/python -m pytest -p no:cacheprovider -rfEP -vv --durations=6 -m "chaos or e2e" --basetemp="$basetemp/chaos" tests/chaos "$own_stack" \
  >"$chaos_out" 2>&1 &
chaos_pid=$!
# shellcheck disable=SC2086
# The recovery test first: its stack's settings (a 30 s heartbeat) must be the ones this process
# reads, before the flow tests' temporary Prefect settings are entered for the session.
.venv/bin/python -m pytest -p no:cacheprovider --durations=12 --basetemp="$basetemp/rest" "$recovery" $others >"$beside" 2>&1 &
pid=$!
set +e
.venv/bin/python -m pytest --durations=12 tests/e2e --ignore="$own_stack" --ignore="$recovery"
e2e=$?
wait "$pid"
rest=$?
wait "$chaos_pid"
chaos=$?
wait "$mypy_pid"
typed=$?
set -e
echo
echo "[test] ---- mypy (strict on all product code) ----"
cat "$mypy_out"
echo
echo "[test] ---- beside the end-to-end tests: $recovery ${others//$'\n'/ } ----"
cat "$beside"
echo
echo "[test] ---- beside the end-to-end tests: tests/chaos/ (the small chaos run) and $own_stack ----"
cat "$chaos_out"
rm -rf "$beside" "$chaos_out" "$basetemp" "$mypy_out"
echo "[test] mypy: exit $typed; end-to-end: exit $e2e; chaos: exit $chaos; the rest: exit $rest"
[ "$typed" -eq 0 ] && [ "$e2e" -eq 0 ] && [ "$rest" -eq 0 ] && [ "$chaos" -eq 0 ]
