#!/usr/bin/env bash
# Builds the Python connector into target/py/hello_py.wasm with componentize-py (from
# PyPI, in a venv under target/py). Needs python3 (3.10+) with venv.
# Used by `just build-py-connector` and by the test that loads it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/target/py"
venv="$out/venv"
version="0.25.1"
mkdir -p "$out"
if [ ! -x "$venv/bin/componentize-py" ] || ! "$venv/bin/componentize-py" --version | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$version"
fi
cd "$root/connectors-py/hello-py"
# --stub-wasi: the component imports nothing but sluice:connector (no WASI at all).
"$venv/bin/componentize-py" -d "$root/wit/since_v0.1.0" -w plugin componentize --stub-wasi app \
    -o "$out/hello_py.wasm.tmp"
mv "$out/hello_py.wasm.tmp" "$out/hello_py.wasm"
echo "built $out/hello_py.wasm"
