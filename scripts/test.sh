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
echo "[test] pytest"
exec .venv/bin/python -m pytest "$@"
