#!/usr/bin/env bash
# The hub's main job on embedded defaults: installs what is missing, starts the whole stack
# on 127.0.0.1 (Prefect server + UI, runner, intake, DFØ and Noark 5 sandboxes, Request
# Tracker 5, SMTP sink), sends one new-hire event and prints where to look. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in *" --scale "*|*" --scale="*) export HUB_SCALED=1 ;; esac  # PostgreSQL and Redis too
bash scripts/bootstrap.sh
exec .venv/bin/python -m devtools.demo "$@"
