#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, types and pytest (unit,
# connector, end-to-end on the real stack). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
HUB_FOR_TESTS=1 bash scripts/bootstrap.sh
echo "[test] ruff"
.venv/bin/ruff check hub connectors mappings flows deployments sandbox tests bench
echo "[test] mypy (strict on all product code)"
.venv/bin/mypy hub flows deployments connectors mappings
echo "[test] import-linter (the layer rules in pyproject.toml)"
.venv/bin/lint-imports --no-cache
if [ "$#" -gt 0 ]; then
  echo "[test] pytest $*"
  exec .venv/bin/python -m pytest "$@"
fi
# The whole suite as two pytest processes side by side, of about equal length: the
# end-to-end tests on the shared stack (mostly waiting on Prefect, RT and the sandboxes), and
# everything else. One after the other, the two cores sat idle more than half of the time.
beside=$(mktemp)
others=$(ls -d tests/*/ | grep -v -e '^tests/e2e/$' -e __pycache__)
basetemp=$(mktemp -d)
echo "[test] pytest: tests/e2e here; beside it (output at the end): ${others//$'\n'/ }"
# shellcheck disable=SC2086
.venv/bin/python -m pytest -p no:cacheprovider --durations=12 --basetemp="$basetemp/rest" $others >"$beside" 2>&1 &
pid=$!
set +e
.venv/bin/python -m pytest --durations=12 tests/e2e
e2e=$?
wait "$pid"
rest=$?
set -e
echo
echo "[test] ---- beside the end-to-end tests: ${others//$'\n'/ } ----"
cat "$beside"
rm -rf "$beside" "$basetemp"
echo "[test] end-to-end: exit $e2e; the rest: exit $rest"
[ "$e2e" -eq 0 ] && [ "$rest" -eq 0 ]
