#!/usr/bin/env bash
# Builds the JavaScript connector into target/js/hello_js.wasm with componentize-js
# (from npm, installed into target/js/node_modules). Needs node (20+) and npm.
# Used by `just build-js-connector` and by the test that loads it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/target/js"
componentize_js="0.23.0"
# jco comes with componentize-js anyway; pinned here so `jco wit` below is the same each time.
jco="1.35.0"
mkdir -p "$out"

installed() { # the version of npm package $1 in target/js, or nothing
    node -p "require('$out/node_modules/$1/package.json').version" 2>/dev/null || true
}
if [ "$(installed @bytecodealliance/componentize-js)" != "$componentize_js" ] \
    || [ "$(installed @bytecodealliance/jco)" != "$jco" ]; then
    npm install --prefix "$out" --save-exact --no-audit --no-fund --loglevel=error \
        "@bytecodealliance/componentize-js@$componentize_js" "@bytecodealliance/jco@$jco"
fi

cd "$root/connectors-js/hello-js"
# --disable every WASI feature of the engine (console output, random, clocks, fetch):
# the component imports nothing but sluice:connector. HTTP goes through its `http`.
"$out/node_modules/.bin/componentize-js" app.js \
    --wit "$root/wit/since_v0.2.0" --world-name plugin \
    --disable stdio random clocks http fetch-event \
    --out "$out/hello_js.wasm.tmp"
mv "$out/hello_js.wasm.tmp" "$out/hello_js.wasm"
echo "built $out/hello_js.wasm ($(du -k "$out/hello_js.wasm" | cut -f1) KiB), importing:"
"$out/node_modules/.bin/jco" wit "$out/hello_js.wasm" | grep '^ *import ' || true
