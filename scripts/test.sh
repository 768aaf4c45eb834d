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
# with short recovery windows) alone.
own_stack=tests/e2e/test_p360.py
recovery=tests/e2e/test_recovery.py
echo "[test] pytest: tests/e2e here; beside it (output at the end): tests/chaos/ and $own_stack; $recovery; ${others//$'\n'/ }"
# -rP: the chaos bench's table of faults and invariants is printed even when it passes.
.venv/bin/python -m pytest -p no:cacheprovider -rP --durations=6 -m "chaos or e2e" --basetemp="$basetemp/chaos" tests/chaos "$own_stack" \
  >"$chaos_out" 2>&1 &
chaos_pid=$!
# The killed-runner recovery test in a process of its own: it mostly waits for heartbeats (4-5
# minutes at a few per cent of a core), and it lengthened the rest, the last process to end,
# by as much while the cores had room beside it. Its own process also reads its stack's
# settings (a 30 s heartbeat), not the flow tests' temporary Prefect settings.
recovery_out=$(mktemp)
.venv/bin/python -m pytest -p no:cacheprovider --durations=3 --basetemp="$basetemp/recovery" "$recovery" \
  >"$recovery_out" 2>&1 &
recovery_pid=$!
# shellcheck disable=SC2086
.venv/bin/python -m pytest -p no:cacheprovider --durations=12 --basetemp="$basetemp/rest" $others >"$beside" 2>&1 &
pid=$!
set +e
.venv/bin/python -m pytest --durations=12 tests/e2e --ignore="$own_stack" --ignore="$recovery"
e2e=$?
wait "$pid"
rest=$?
wait "$chaos_pid"
chaos=$?
wait "$recovery_pid"
recovered=$?
wait "$mypy_pid"
typed=$?
set -e
echo
echo "[test] ---- mypy (strict on all product code) ----"
cat "$mypy_out"
echo
echo "[test] ---- beside the end-to-end tests: ${others//$'\n'/ } ----"
cat "$beside"
echo
echo "[test] ---- beside the end-to-end tests: $recovery ----"
cat "$recovery_out"
echo
echo "[test] ---- beside the end-to-end tests: tests/chaos/ (the small chaos run) and $own_stack ----"
cat "$chaos_out"
rm -rf "$beside" "$chaos_out" "$recovery_out" "$basetemp" "$mypy_out"
echo "[test] mypy: exit $typed; end-to-end: exit $e2e; chaos: exit $chaos; recovery: exit $recovered; the rest: exit $rest"
[ "$typed" -eq 0 ] && [ "$e2e" -eq 0 ] && [ "$rest" -eq 0 ] && [ "$chaos" -eq 0 ] && [ "$recovered" -eq 0 ]
