#!/usr/bin/env bash
# Builds the browser version into web/dist (index.html, the loader, the wasm module and its JS
# glue), installing what it needs: the wasm32 target, wasm-bindgen-cli at the exact version in
# Cargo.lock, and binaryen's wasm-opt from npm (web/package.json).
#   web/build.sh           build
#   web/build.sh --serve   build, then serve on http://localhost:8080 (PORT to change)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mixflow-target}"
dist=web/dist

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# wasm-bindgen's CLI must match the library version exactly, or the glue it writes is refused.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
  echo "installing wasm-bindgen-cli $version"
  cargo install --quiet "wasm-bindgen-cli@$version"
fi
# Debian's binaryen (108) breaks wasm-bindgen's reference-type table; npm's is current.
if [ ! -x web/node_modules/.bin/wasm-opt ]; then
  (cd web && npm ci --no-audit --no-fund --silent)
fi

start=$(date +%s)
# With the `gpu` feature (the default): the page trains on WebGPU where the browser has it.
cargo build --profile web --target wasm32-unknown-unknown --bin mixflow
echo "cargo build (wasm32, profile web): $(( $(date +%s) - start )) s"

rm -rf "$dist"
mkdir -p "$dist/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$dist/pkg" \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/web/mixflow.wasm"
wasm="$dist/pkg/mixflow_bg.wasm"
raw=$(stat -c %s "$wasm")
start=$(date +%s)
web/node_modules/.bin/wasm-opt -Os --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --enable-simd "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
echo "wasm-opt: $raw -> $(stat -c %s "$wasm") bytes in $(( $(date +%s) - start )) s"
cp index.html web/app.css web/loader.js web/worker.js "$dist/"
echo "wasm: $(stat -c %s "$wasm") bytes raw, $(gzip -9 -c "$wasm" | wc -c) bytes gzipped"

if [ "${1:-}" = "--serve" ]; then
  port="${PORT:-8080}"
  echo "serving MixFlow Explorer on http://localhost:$port"
  exec python3 -m http.server --directory "$dist" --bind 127.0.0.1 "$port"
fi
