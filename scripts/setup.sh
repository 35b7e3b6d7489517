#!/usr/bin/env bash
# Idempotent set-up behind the README's commands: npm dependencies, the native TensorFlow backend
# (best-effort), the Python venv used by cross-check tests and peer benchmarks (best-effort), and a
# look for Fashion-MNIST. Each step is skipped when already done.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
say() { echo "[setup] $*"; }

node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19)?1:0)')
[ "$node_ok" = 1 ] || { say "Node >= 20.19 is required, found $(node --version)"; exit 1; }

# 1. npm dependencies, when missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund || { say "npm ci failed"; exit 1; }
fi

# 2. Native TensorFlow backend (falls back to wasm when it cannot be built).
bash packages/core/scripts/setup-native.sh

# 3. Cross-check packages in the same venv (tests that need them skip, saying why, when absent).
venv=${MASKEDSSL_CACHE:-$repo/.cache}/venv
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c "import numpy, sklearn, torch, safetensors" >/dev/null 2>&1; then
  say "pip install -r requirements-dev.txt (numpy, scikit-learn, torch, safetensors)"
  "$venv/bin/pip" install --disable-pip-version-check --retries 0 --timeout 5 -q -r requirements-dev.txt \
    || say "could not install the cross-check packages; the tests that need them will be skipped"
fi

# 4. Fashion-MNIST: Debian's dataset-fashion-mnist when we may install it, otherwise say how.
if [ -z "${MASKEDSSL_DATA:-}" ] && [ ! -d /usr/share/datasets/fashion-mnist ] && [ ! -d "${XDG_CACHE_HOME:-$HOME/.cache}/maskedssl/fashion-mnist" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "apt-get install dataset-fashion-mnist"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1 \
      || say "could not install dataset-fashion-mnist; Fashion-MNIST tests will be skipped"
  else
    say "Fashion-MNIST not found: 'sudo apt-get install dataset-fashion-mnist', or put the four IDX files in ~/.cache/maskedssl/fashion-mnist"
  fi
fi
exit 0
