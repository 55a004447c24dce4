# Everyday recipes. Plain cargo works too: host/build.rs builds the wasm plugins.

# List recipes
default:
    @just --list

# Build the wasm plugins (plugins/ workspace) for wasm32-wasip2
build-plugins:
    rustup target add wasm32-wasip2
    cd plugins && cargo build --release --target wasm32-wasip2 --workspace

# Run the demo against the built-in mock providers
demo *ARGS:
    cargo run -p sluice-cli -- demo {{ARGS}}

# Start a new connector crate in ./NAME, where you run just (see docs/connector-guide.md)
new-connector NAME *ARGS:
    cargo run -q --manifest-path "{{justfile_directory()}}/Cargo.toml" -p sluice-cli -- new-connector {{NAME}} --dir "{{invocation_directory()}}" {{ARGS}}

# Build the Python connector (connectors-py/hello-py) with componentize-py into target/py/hello_py.wasm
build-py-connector:
    connectors-py/hello-py/build.sh

# Build the JavaScript connector (connectors-js/hello-js) with componentize-js into target/js/hello_js.wasm
build-js-connector:
    connectors-js/hello-js/build.sh

# The whole test suite (what .ci/run runs)
test:
    cargo test --workspace

# Benchmarks measured side by side, as a table and target/bench-results.json (--quick for a smoke run, --peers for the Python collectors)
bench *ARGS:
    cargo build --release -p sluice-cli -p sluice-bench
    target/release/sluice-bench {{ARGS}}

# Formatting and lints for both workspaces
lint:
    cargo fmt --all --check
    cd plugins && cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cd plugins && cargo clippy --release --workspace -- -D warnings
