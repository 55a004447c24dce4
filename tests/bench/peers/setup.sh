#!/usr/bin/env bash
# Creates one virtualenv per peer collector under $1 (default target/peers-venv) and
# installs the pinned version of each from PyPI, with its dependencies held to the
# versions in <peer>.lock beside this script (one venv each: grove needs pydantic 1
# and urllib3 1, the other two pydantic 2). Idempotent: a venv that already has the
# pinned version is left alone. Needs python3 with the venv module (Debian:
# python3-venv).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${1:-$here/../../../target/peers-venv}"
python="${PEERS_PYTHON:-python3}"

# peer venv name, PyPI package, pinned version, console script
peers=(
  "grove grove 2.2.0 grove"
  "singer meltanolabs-tap-github 1.30.1 tap-github"
  "airbyte airbyte-source-github 2.7.1 source-github"
)

mkdir -p "$root"
for line in "${peers[@]}"; do
  read -r name package version script <<<"$line"
  venv="$root/$name"
  have="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null || true)"
  if [[ "$have" == "$version" && -x "$venv/bin/$script" ]]; then
    echo "peers: $package $version already in $venv"
    continue
  fi
  echo "peers: installing $package==$version into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  constraints=()
  if [[ -f "$here/$name.lock" ]]; then
    constraints=(--constraint "$here/$name.lock")
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${constraints[@]}" "$package==$version"
done
