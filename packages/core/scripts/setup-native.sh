#!/usr/bin/env bash
# Builds @tensorflow/tfjs-node's native binding against the TensorFlow C library of a pip-installed
# `tensorflow-cpu`, because the package's own install step downloads libtensorflow from a host that
# firewalled machines cannot reach. Idempotent and best-effort: on any failure it explains and exits 0,
# and maskedssl falls back to the wasm backend. Before building, the binding's source is patched to
# accept list(string) op attributes (patch-tfjs-binding.mjs; needed by oneDNN's fused MatMul + BiasAdd
# + GELU that the inference forward runs, src/nn/native-ops.ts); when the patch does not apply or the
# patched build fails, the binding is built unpatched and everything still works, without those ops.
#
# It works on the tfjs-node installed in the project of the working directory (its node_modules): run
# as `maskedssl setup native` in a project that installed @maskedssl/core, or as `npm run setup:native`
# (scripts/setup.sh) in this repository, where the cache and venv are <repo>/.cache.
#
#   MASKEDSSL_CACHE       cache folder (default: <repo>/.cache in a checkout, else ~/.cache/maskedssl)
#   MASKEDSSL_PYTHON      python used to create the venv (default: python3)
#   MASKEDSSL_TF_WHEEL    the pip requirement for TensorFlow (default: tensorflow-cpu==2.21.0;
#                         a CUDA-enabled wheel plus @tensorflow/tfjs-node-gpu gives the GPU variant,
#                         see README "GPU")
#   MASKEDSSL_TFJS_NODE   which package to build: @tensorflow/tfjs-node (default) or @tensorflow/tfjs-node-gpu
#   MASKEDSSL_SETUP_STRICT=1   exit 1 (not 0) when the backend cannot be set up (maskedssl setup native)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$PWD
patcher=$here/patch-tfjs-binding.mjs
if [ -z "${MASKEDSSL_CACHE:-}" ] && [ -f "$here/../../../scripts/setup.sh" ] && [ -d "$here/../../../packages/core" ]; then
  cache=$(cd "$here/../../.." && pwd)/.cache   # a checkout of the repository
else
  cache=${MASKEDSSL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/maskedssl}
fi
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
  [ "${MASKEDSSL_SETUP_STRICT:-0}" = 1 ] && exit 1
  exit 0
}

cd "$project"
pkg_json=$(node -p "require.resolve('$pkg_name/package.json')" 2>/dev/null) \
  || give_up "$pkg_name is not installed in $project (npm install $pkg_name@4.22.0: an optional peer dependency of @maskedssl/core)"
pkg_dir=$(dirname "$pkg_json")

tfjs_version=$(node -p "require('$pkg_json').version")
# node-pre-gyp builds for the highest N-API version the package lists that this Node supports.
napi=$(node -p "Math.max(...require('$pkg_json').binary.napi_versions.filter(v => v <= +process.versions.napi))")
dest=$pkg_dir/lib/napi-v$napi

# 0. Patch the binding's source for list(string) attributes. A patched build gets its own cache key
#    (the patch script's hash); a patched build that failed once is not retried (delete the marker
#    file $patch_failed to retry).
patch_hash=$(node -e "process.stdout.write(require('crypto').createHash('sha256').update(require('fs').readFileSync('$patcher')).digest('hex').slice(0, 12))" 2>>"$log")
patch_failed=$cache/native/patched-build-failed-${pkg_name//\//+}-$tfjs_version-$patch_hash
patch_tag=""
if [ -f "$patch_failed" ]; then
  node "$patcher" revert "$pkg_dir" >>"$log" 2>&1
  say "the list(string) patch of the binding failed to build before ($patch_failed); using the unpatched binding (no fused inference ops)"
elif out=$(node "$patcher" apply "$pkg_dir" 2>&1); then
  echo "patch-tfjs-binding: $out" >>"$log"
  patch_tag="-strlist-$patch_hash"
else
  echo "patch-tfjs-binding: $out" >>"$log"
  say "could not patch the binding for list(string) attributes (${out:-no output}); building it unpatched (no fused inference ops)"
fi

# Already working (and patched when the patch applies)? Then there is nothing to do.
if node -e "require('$pkg_name')" >/dev/null 2>&1; then
  if [ -z "$patch_tag" ] || grep -qa "$(node "$patcher" marker)" "$dest/tfjs_binding.node" 2>/dev/null; then
    say "$pkg_name loads; nothing to do"
    exit 0
  fi
  say "$pkg_name loads, but its binding predates the list(string) patch: rebuilding it"
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

# 3. Build the binding (or reuse one built before for the same package, patch, TensorFlow and Node ABI).
tf_version=$("$venv/bin/python" -c "import tensorflow as t; print(t.__version__)" 2>>"$log")
key_base="${pkg_name//\//+}-$tfjs_version-tf$tf_version-node$(node -p process.versions.modules)"
mkdir -p "$dest"

# Builds the binding from the package's (patched or not) source into $dest; non-zero on failure.
build_binding() {
  local pre_gyp node_gyp d
  pre_gyp=$(node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', {paths: ['$pkg_dir']})" 2>>"$log") \
    || give_up "@mapbox/node-pre-gyp is not installed"
  node_gyp=$(node -p "require.resolve('node-gyp/bin/node-gyp.js', {paths: [require('path').dirname(process.execPath) + '/../lib/node_modules/npm']})" 2>/dev/null || true)
  local nodedir_flag=()
  for d in "${npm_config_nodedir:-}" /usr /usr/local; do
    if [ -n "$d" ] && [ -f "$d/include/node/node_api.h" ]; then nodedir_flag=(--nodedir="$d"); break; fi
  done
  [ ${#nodedir_flag[@]} -gt 0 ] || say "no local Node headers found; node-gyp will try to download them"
  rm -f "$dest/tfjs_binding.node"
  (cd "$pkg_dir" && npm_config_node_gyp="$node_gyp" node "$pre_gyp" install --build-from-source \
      "${nodedir_flag[@]}" >>"$log" 2>&1) && [ -f "$dest/tfjs_binding.node" ]
}

# Puts the binding of cache key $1 into $dest (from the cache, else built and cached) and checks that
# the package loads with it; non-zero when it cannot.
install_binding() {
  local built=$cache/native/$1/tfjs_binding.node
  if [ -f "$built" ]; then
    say "reusing binding built before ($1)"
    cp "$built" "$dest/tfjs_binding.node"
  else
    say "building the $pkg_name $tfjs_version binding against TensorFlow $tf_version${patch_tag:+ (with the list(string) patch)} (about a minute)"
    build_binding || return 1
    { mkdir -p "$(dirname "$built")" && cp "$dest/tfjs_binding.node" "$built"; } 2>>"$log" || say "could not cache the binding in $built"
  fi
  node -e "require('$pkg_name')" >>"$log" 2>&1
}

if ! install_binding "$key_base$patch_tag"; then
  [ -n "$patch_tag" ] || give_up "building or loading the binding failed (a C++ toolchain: apt-get install g++ make python3)"
  say "the patched binding did not build or load; reverting the patch and building it unpatched (no fused inference ops)"
  mkdir -p "$(dirname "$patch_failed")" && touch "$patch_failed"
  rm -rf "$cache/native/$key_base$patch_tag"
  node "$patcher" revert "$pkg_dir" >>"$log" 2>&1
  patch_tag=""
  install_binding "$key_base" || give_up "building or loading the binding failed (a C++ toolchain: apt-get install g++ make python3)"
fi
say "$pkg_name $tfjs_version works with TensorFlow $tf_version from $venv${patch_tag:+ (binding patched for list(string) attributes)}"
