//! A test-only connector that probes the sandbox from inside.
//!
//! The host's integration tests load `probe.wasm` and call `check` with config `mode`
//! set to one misbehaviour at a time, then assert the host contained it:
//!
//! | `mode` | what the probe does | what the host must do |
//! |---|---|---|
//! | `egress` | `http.send` GET to config `url` | allow or deny per egress grant; principal `status:<code>`, or `other("denied: …")` / `other("http-error:…")` |
//! | `spin` | loops forever | stop it at the epoch deadline |
//! | `alloc` | allocates 1 MiB chunks forever | stop it at the memory cap (trap, or `other("alloc-failed")`) |
//! | `fs-env` | reads `/`, `/etc/passwd`, env vars, args | grant nothing: `granted` = `read_dir:err`, `read:err`, `env:0`, `args:0` |
//! | `secret` | `config.get("token")` | never reveal secrets: principal `none` |
//! | `trap` | panics | fail only this call |
//! | `echo` | GET to config `url`, reporting the body and every response header | never let injected credentials back in: `granted` = the body, then `name: value` per header |
//! | `host-header` | GET to config `url` with its own `Host: evil.example` | send to the granted host under its own name; `granted` = the body |
//! | `big-request` | POSTs a 16 MiB body to config `url` | bound what one host call may carry in: the call traps |
//! | `log-forge` | logs text with `\n` and `\r` and a forged log line | keep each plugin log record on one line |
//! | `sleep` | sleeps config `seconds` (a WASI poll: no CPU, no HTTP) | stop it at the blocked-time limit, per call and per session |
//!
//! Built with feature `sleepy-describe` (crate `testing/probe-sleepy-describe`) its
//! `describe` sleeps an hour: the host must reject it at load within its describe limit.
//!
//! It deliberately bypasses the SDK's HTTP error mapping to see the host's raw
//! `http-error`. `describe` never traps; every other export is `unsupported`.

use std::hint::black_box;

use sluice_sdk::bindings::sluice::connector::http::{self as host_http, HttpError, Method};
use sluice_sdk::prelude::*;

/// One MiB: big enough to reach a memory cap quickly, small enough to land close to it.
const CHUNK: usize = 1 << 20;

/// The probe; stateless.
struct Probe;

impl Connector for Probe {
    fn describe() -> ConnectorInfo {
        if cfg!(feature = "sleepy-describe") {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        ConnectorInfo {
            config: vec![
                field("mode", "Probe mode", true, "egress"),
                field(
                    "url",
                    "URL for the egress probe",
                    false,
                    "https://example.test/",
                ),
                field("seconds", "Seconds to sleep (mode `sleep`)", false, "3600"),
            ],
            egress: vec!["{url}".into()],
            ..ConnectorInfo::new(
                "probe",
                "Sandbox probe",
                env!("CARGO_PKG_VERSION"),
                "Sluice tests",
                "Test-only: misbehaves on purpose so host tests can check the sandbox.",
            )
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        match config::required("mode")?.as_str() {
            "egress" => egress(),
            "spin" => spin(),
            "alloc" => alloc(),
            "fs-env" => Ok(fs_env()),
            "secret" => Ok(principal(
                config::get("token").unwrap_or_else(|| "none".into()),
            )),
            "trap" => panic!("probe trap"),
            "echo" => echo(Vec::new()),
            "host-header" => echo(vec![("host".into(), "evil.example".into())]),
            "big-request" => {
                let request = host_http::Request {
                    method: Method::Post,
                    url: config::required("url")?,
                    headers: Vec::new(),
                    body: Some(vec![b'x'; 16 << 20]),
                };
                let status = host_http::send(&request).map(|r| r.status);
                Ok(principal(format!("sent:{status:?}")))
            }
            "sleep" => {
                let seconds: f64 = config::required("seconds")?
                    .parse()
                    .map_err(|_| ConnectorError::invalid_config("seconds: not a number"))?;
                std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
                Ok(principal("slept".into()))
            }
            "log-forge" => {
                log::warn("first line\n2026-01-01T00:00:00Z ERROR sluice: forged\rline");
                Ok(principal("logged".into()))
            }
            other => Err(ConnectorError::invalid_config(format!(
                "unknown probe mode `{other}`"
            ))),
        }
    }
}

sluice_sdk::export_connector!(Probe);

/// A non-secret config field.
fn field(name: &str, label: &str, required: bool, example: &str) -> ConfigField {
    let field = ConfigField::new(name, label).example(example);
    if required { field.required() } else { field }
}

/// Permissions carrying only `principal`, the probe's way of reporting a result.
fn principal(principal: String) -> Permissions {
    Permissions::granted(Some(principal), Vec::new())
}

/// `egress`: one GET to config `url`, reporting the host's raw answer.
fn egress() -> Result<Permissions, ConnectorError> {
    let request = host_http::Request {
        method: Method::Get,
        url: config::required("url")?,
        headers: Vec::new(),
        body: None,
    };
    match host_http::send(&request) {
        Ok(response) => Ok(principal(format!("status:{}", response.status))),
        Err(HttpError::Denied(reason)) => Err(ConnectorError::other(format!("denied: {reason}"))),
        Err(error) => Err(ConnectorError::other(format!("http-error:{error:?}"))),
    }
}

/// `echo`, `host-header`: one GET to config `url` with `headers`, reporting everything
/// the plugin got back: the body, then `name: value` per response header.
fn echo(headers: Vec<(String, String)>) -> Result<Permissions, ConnectorError> {
    let request = host_http::Request {
        method: Method::Get,
        url: config::required("url")?,
        headers,
        body: None,
    };
    let response = host_http::send(&request)
        .map_err(|error| ConnectorError::other(format!("http-error:{error:?}")))?;
    let mut granted = vec![String::from_utf8_lossy(&response.body).into_owned()];
    granted.extend(
        response
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    Ok(Permissions {
        principal: Some(format!("status:{}", response.status)),
        granted,
        missing: Vec::new(),
    })
}

/// `spin`: burns CPU until the host's epoch deadline stops it.
fn spin() -> ! {
    let mut counter = 0_u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// `alloc`: grows memory 1 MiB at a time until the host's cap stops it, touching every
/// page so the memory is really used; returns `alloc-failed` if allocation fails
/// gracefully instead of trapping.
fn alloc() -> Result<Permissions, ConnectorError> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::new();
        if chunks.try_reserve(1).is_err() || chunk.try_reserve_exact(CHUNK).is_err() {
            return Err(ConnectorError::other("alloc-failed"));
        }
        chunk.resize(CHUNK, 0xA5);
        chunks.push(black_box(chunk));
    }
}

/// `fs-env`: what WASI lets the guest see; the host grants nothing, so expect
/// `["read_dir:err", "read:err", "env:0", "args:0"]`.
fn fs_env() -> Permissions {
    let outcome = |ok: bool| if ok { "ok" } else { "err" };
    let granted = vec![
        format!("read_dir:{}", outcome(std::fs::read_dir("/").is_ok())),
        format!(
            "read:{}",
            outcome(std::fs::read_to_string("/etc/passwd").is_ok())
        ),
        format!("env:{}", std::env::vars().count()),
        format!("args:{}", std::env::args().count()),
    ];
    Permissions {
        principal: Some("fs-env".into()),
        granted,
        missing: Vec::new(),
    }
}
