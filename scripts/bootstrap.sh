#!/usr/bin/env bash
# Installs everything the hub needs on Debian 12 (run as root), then returns quickly on
# later runs: Debian packages (Request Tracker 5 and what building Python packages needs)
# and a Python 3.11 virtual environment in .venv with the locked packages.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: $*; run this as root (or: sudo apt-get install $*)"; exit 1
  fi
  say "installing Debian packages: $* (a few minutes the first time)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# --- Debian packages -----------------------------------------------------------------------
need=()
[ -x /usr/share/request-tracker5/libexec/rt-server ] || need+=(request-tracker5 rt5-db-sqlite rt5-standalone)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ "${HUB_FOR_TESTS:-0}" = 1 ]; then  # the test suite also needs a browser
  command -v chromium >/dev/null || need+=(chromium)
fi
if [ "${HUB_FOR_TESTS:-0}" = 1 ] || [ "${HUB_SCALED:-0}" = 1 ]; then  # the production shape: PostgreSQL and Redis
  [ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

# --- Python --------------------------------------------------------------------------------
PY=${HUB_PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "the hub needs Python >= 3.11; $("$PY" --version) found"; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.hub-installed
UV_VERSION=0.13.9  # the installer only; the packages are pinned in requirements.lock
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages from requirements.lock"
  # uv installs the same locked versions as pip in about 20 s instead of about 2 minutes (pip's
  # resolver and its one-core unpacking were the first two minutes of every fresh clone's test
  # run). pip stays the fallback: where uv cannot be had (no PyPI, only this machine's wheels),
  # pip installs from what pip is configured with.
  if .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" 2>/dev/null \
     && .venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python \
          -c requirements.lock -e ".[dev,test]"; then
    :
  else
    say "uv could not install them; installing with pip (a few minutes the first time)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev,test]"
  fi
  echo "$want" > "$stamp"
fi
say "ready"
