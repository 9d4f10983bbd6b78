#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine (only python3, git, make/bash) for polekit:
# system packages the tests and the demo need, then a virtualenv in .venv with
# polekit installed editable with every extra. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# The distribution's interpreter is what a gateway runs (and it is leaner than most custom
# builds), so prefer it to whatever python3 comes first on PATH.
PYTHON=python3
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  PYTHON=/usr/bin/python3
fi

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The tests need a PostgreSQL server; when none answers on 127.0.0.1:5432 the test
# suite starts a throwaway cluster with these binaries (tests/services.py).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The MicroPython agent's tests run on MicroPython's WebAssembly port under Node.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The dashboard's browser tests drive Debian's Chromium through its chromedriver (no downloads).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # Debian starts the packaged services; polekit starts its own where it needs them.
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.polekit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing polekit[all,test] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[all,test]'
  touch "$stamp"
fi
# The MicroPython interpreter (npm package, pinned by tests/micro/package-lock.json).
micro=tests/micro
if [ ! -d "$micro/node_modules" ] || [ "$micro/package-lock.json" -nt "$micro/node_modules" ]; then
  echo "bootstrap: installing the MicroPython wasm interpreter into $micro/node_modules"
  npm ci --prefix "$micro" --no-audit --no-fund --loglevel=error
  touch "$micro/node_modules"
fi
echo "bootstrap: ready (.venv/bin/polekit)"
