#!/usr/bin/env bash
# Debian packages and npm modules the test suite uses as real components:
#   promtool (prometheus), PostgreSQL, Chromium, Node.js + npm (and socket.io-client,
#   node-fetch@2 for the seed's fan-out script, installed under .cache/node).
# As root, missing packages are installed with apt-get (after one apt-get update); otherwise
# the command to run is printed and the script fails, so nothing is silently skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "installing Debian packages: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # No service of these packages is started here: tests start their own, on loopback.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  else
    echo "missing Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
fi

NODE_DIR=.cache/node
if [ ! -d "$NODE_DIR/node_modules/socket.io-client" ] || [ ! -d "$NODE_DIR/node_modules/node-fetch" ]; then
  echo "installing socket.io-client and node-fetch@2 into $NODE_DIR" >&2
  mkdir -p "$NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" socket.io-client@4 node-fetch@2 >/dev/null
fi
