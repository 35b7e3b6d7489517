#!/usr/bin/env bash
# Builds @tensorflow/tfjs-node's native binding against the TensorFlow C library of a pip-installed
# `tensorflow-cpu`, because the package's own install step downloads libtensorflow from a host that
# firewalled machines cannot reach. Idempotent and best-effort: on any failure it explains and exits 0,
# and maskedssl falls back to the wasm backend.
#
#   MASKEDSSL_CACHE       cache folder (default: <repo>/.cache)
#   MASKEDSSL_PYTHON      python used to create the venv (default: python3)
#   MASKEDSSL_TF_WHEEL    the pip requirement for TensorFlow (default: tensorflow-cpu==2.21.0;
#                         a CUDA-enabled wheel plus @tensorflow/tfjs-node-gpu gives the GPU variant,
#                         see README "GPU")
#   MASKEDSSL_TFJS_NODE   which package to build: @tensorflow/tfjs-node (default) or @tensorflow/tfjs-node-gpu
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cache=${MASKEDSSL_CACHE:-$repo/.cache}
venv=$cache/venv
python=${MASKEDSSL_PYTHON:-python3}
tf_wheel=${MASKEDSSL_TF_WHEEL:-tensorflow-cpu==2.21.0}
pkg_name=${MASKEDSSL_TFJS_NODE:-@tensorflow/tfjs-node}
log=$cache/setup-native.log
mkdir -p "$cache"

say() { echo "[setup:native] $*"; }
give_up() {
  say "native TensorFlow backend NOT available: $*"
  say "maskedssl will fall back to the wasm backend (about 10x slower). Details: $log"
  exit 0
}

cd "$repo"
pkg_json=$(node -p "require.resolve('$pkg_name/package.json')" 2>/dev/null) \
  || give_up "$pkg_name is not installed (run 'npm install' first; it is an optional dependency)"
pkg_dir=$(dirname "$pkg_json")

# Already working? Then there is nothing to do.
if node -e "require('$pkg_name')" >/dev/null 2>&1; then
  say "$pkg_name loads; nothing to do"
  exit 0
fi

# 1. A venv with TensorFlow (its wheel ships the C library and headers) and the cross-check packages.
if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv"
  "$python" -m venv "$venv" >>"$log" 2>&1 || give_up "'$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
pip_quiet=(--disable-pip-version-check --retries 0 --timeout 5 -q)
if ! "$venv/bin/python" -c "import tensorflow" >/dev/null 2>&1; then
  say "pip install $tf_wheel (a minute or two)"
  "$venv/bin/pip" install "${pip_quiet[@]}" "$tf_wheel" >>"$log" 2>&1 || give_up "pip could not install $tf_wheel"
fi
tf_dir=$("$venv/bin/python" -c "import os, tensorflow as t; print(os.path.dirname(t.__file__))" 2>>"$log") \
  || give_up "tensorflow is installed in $venv but does not import"
[ -f "$tf_dir/libtensorflow_cc.so.2" ] && [ -f "$tf_dir/libtensorflow_framework.so.2" ] && [ -d "$tf_dir/include" ] \
  || give_up "$tf_dir lacks libtensorflow_cc.so.2, libtensorflow_framework.so.2 or include/"

# 2. Stage the library under the names binding.gyp (-ltensorflow) and scripts/deps-constants.js
#    (libtensorflow.so.2.9.1, which makes the package's own install skip its download) expect, and
#    under its real sonames, which the built binding asks for at run time (rpath deps/lib).
deps=$pkg_dir/deps
rm -rf "$deps"; mkdir -p "$deps/lib"
for n in libtensorflow_cc.so.2 libtensorflow.so libtensorflow.so.2 libtensorflow.so.2.9.1; do
  ln -s "$tf_dir/libtensorflow_cc.so.2" "$deps/lib/$n"
done
for n in libtensorflow_framework.so.2 libtensorflow_framework.so libtensorflow_framework.so.2.9.1; do
  ln -s "$tf_dir/libtensorflow_framework.so.2" "$deps/lib/$n"
done
ln -s "$tf_dir/include" "$deps/include"

# 3. Build the binding (or reuse one built before for the same package, TensorFlow and Node ABI).
tfjs_version=$(node -p "require('$pkg_json').version")
tf_version=$("$venv/bin/python" -c "import tensorflow as t; print(t.__version__)" 2>>"$log")
# node-pre-gyp builds for the highest N-API version the package lists that this Node supports.
napi=$(node -p "Math.max(...require('$pkg_json').binary.napi_versions.filter(v => v <= +process.versions.napi))")
key="${pkg_name//\//+}-$tfjs_version-tf$tf_version-node$(node -p process.versions.modules)"
built=$cache/native/$key/tfjs_binding.node
dest=$pkg_dir/lib/napi-v$napi
mkdir -p "$dest"
if [ -f "$built" ]; then
  say "reusing binding built before ($key)"
  cp "$built" "$dest/tfjs_binding.node"
else
  say "building the $pkg_name $tfjs_version binding against TensorFlow $tf_version (about a minute)"
  pre_gyp=$(node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', {paths: ['$pkg_dir']})" 2>>"$log") \
    || give_up "@mapbox/node-pre-gyp is not installed"
  node_gyp=$(node -p "require.resolve('node-gyp/bin/node-gyp.js', {paths: [require('path').dirname(process.execPath) + '/../lib/node_modules/npm']})" 2>/dev/null || true)
  nodedir_flag=()
  for d in "${npm_config_nodedir:-}" /usr /usr/local; do
    if [ -n "$d" ] && [ -f "$d/include/node/node_api.h" ]; then nodedir_flag=(--nodedir="$d"); break; fi
  done
  [ ${#nodedir_flag[@]} -gt 0 ] || say "no local Node headers found; node-gyp will try to download them"
  (cd "$pkg_dir" && npm_config_node_gyp="$node_gyp" node "$pre_gyp" install --build-from-source \
      "${nodedir_flag[@]}" >>"$log" 2>&1) || give_up "building the binding failed (a C++ toolchain: apt-get install g++ make python3)"
  [ -f "$dest/tfjs_binding.node" ] || give_up "the build did not produce $dest/tfjs_binding.node"
  mkdir -p "$(dirname "$built")" && cp "$dest/tfjs_binding.node" "$built"
fi

if node -e "require('$pkg_name')" >>"$log" 2>&1; then
  say "$pkg_name $tfjs_version works with TensorFlow $tf_version from $venv"
else
  give_up "the binding was built but $pkg_name does not load"
fi
