//! The admin HTTP API (axum, JSON), served by the daemon on loopback by default.
//!
//! Every route except `/healthz` and the webhook needs `Authorization: Bearer TOKEN`
//! (the token is in the data dir, printed by `sluice token`). A webhook proves itself
//! with its instance's own secret instead (see [`hook`]). Handlers are thin: they parse
//! and call [`Control`], which the CLI also uses when no daemon runs.
//!
//! Errors are JSON `{"error": {"code", "message"}}` with a 4xx/5xx status, including
//! malformed bodies and query strings, unknown routes and wrong methods.
//!
//! The routes are listed once in [`ROUTES`]; `openapi.json` (served at
//! `/openapi.json`, checked in beside this file) describes exactly those, and a test
//! keeps the two in step.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use crate::ratelimit::{Budget, InstanceLimitConfig};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::control::{ActInput, ConnectInput, Control, ControlError, ScanInput};
use crate::metrics::Metrics;
use crate::model::schedule::Schedule;
use crate::model::{Kind, parse_time};
use crate::store::tokens::ADMIN_TOKEN_NAME;
use crate::store::{AuditFilter, MAX_PAGE, RecordFilter, Secret};

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route: (method, path in OpenAPI syntax).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/v1/connectors"),
    ("GET", "/v1/plugins"),
    ("GET", "/v1/instances"),
    ("POST", "/v1/instances"),
    ("GET", "/v1/instances/{name}"),
    ("DELETE", "/v1/instances/{name}"),
    ("POST", "/v1/instances/{name}/disable"),
    ("POST", "/v1/instances/{name}/enable"),
    ("PUT", "/v1/instances/{name}/schedule"),
    ("PUT", "/v1/instances/{name}/pin"),
    ("POST", "/v1/instances/{name}/approve"),
    ("POST", "/v1/instances/{name}/scan"),
    ("POST", "/v1/instances/{name}/actions"),
    ("GET", "/v1/instances/{name}/{kind}"),
    ("GET", "/v1/instances/{name}/limits"),
    ("PUT", "/v1/instances/{name}/limits"),
    ("GET", "/v1/limits"),
    ("PUT", "/v1/limits/scopes/{scope}"),
    ("DELETE", "/v1/limits/scopes/{scope}"),
    ("PUT", "/v1/limits/hosts/{host}"),
    ("DELETE", "/v1/limits/hosts/{host}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{name}"),
    ("POST", "/hooks/{name}"),
];

/// What handlers share.
pub struct ApiState {
    pub control: Arc<Control>,
    pub token: Secret,
    pub metrics: Arc<Metrics>,
    /// For webhook secrets (derived from the data dir's hooks key).
    pub data_dir: PathBuf,
}

type St = State<Arc<ApiState>>;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
    fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"sluice\""),
            );
        }
        resp
    }
}

/// A JSON body whose parse errors come back as our JSON errors.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(v)) => object_body(v).map(JsonBody),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// Every body this API takes is an object. serde also reads a struct from an array
/// (its fields in order), so `[]` would otherwise be every default: an empty schedule
/// or no limits, silently replacing the instance's.
fn object_body<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid JSON body: the body must be a JSON object".to_string(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn json_rejection(e: JsonRejection) -> ApiError {
    let status = e.status();
    let code = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        "unsupported-media-type"
    } else {
        "bad-request"
    };
    let status = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::PAYLOAD_TOO_LARGE => status,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(
        status,
        code,
        format!("invalid JSON body: {}", e.body_text()),
    )
}

/// Query-string parameters whose parse errors come back as our JSON errors.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryParams(v)),
            Err(e) => Err(query_rejection(e)),
        }
    }
}

fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("invalid query string: {}", e.body_text()))
}

/// Build the API's router.
pub fn router(state: ApiState) -> Router {
    let state = Arc::new(state);
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/connectors", get(connectors))
        .route("/v1/plugins", get(plugins))
        .route("/v1/instances", get(instances).post(connect))
        .route("/v1/instances/{name}", get(instance).delete(remove))
        .route("/v1/instances/{name}/disable", post(disable))
        .route("/v1/instances/{name}/enable", post(enable))
        .route("/v1/instances/{name}/schedule", put(set_schedule))
        .route("/v1/instances/{name}/pin", put(pin))
        .route("/v1/instances/{name}/approve", post(approve))
        .route("/v1/instances/{name}/scan", post(scan))
        .route("/v1/instances/{name}/actions", post(act))
        .route("/v1/audit", get(audit))
        .route("/v1/tokens", get(tokens).post(create_token))
        .route("/v1/tokens/{name}", axum::routing::delete(revoke_token))
        .route("/v1/instances/{name}/{kind}", get(records))
        .route(
            "/v1/instances/{name}/limits",
            get(instance_limits).put(set_instance_limits),
        )
        .route("/v1/limits", get(limits))
        .route(
            "/v1/limits/scopes/{scope}",
            put(set_scope_limit).delete(remove_scope_limit),
        )
        .route(
            "/v1/limits/hosts/{host}",
            put(set_host_limit).delete(remove_host_limit),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/hooks/{name}", post(hook))
        .merge(protected)
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// Who sent a request: the name of the token it carried (see [`require_token`]).
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    /// The data dir's own token, which alone may manage tokens.
    pub admin: bool,
}

async fn require_token(State(st): St, mut req: Request, next: Next) -> Response {
    let Some(given) = bearer(req.headers()) else {
        return ApiError::unauthorized(
            "missing bearer token: send `Authorization: Bearer TOKEN` (`sluice token` prints it)",
        )
        .into_response();
    };
    let caller = if bool::from(given.as_bytes().ct_eq(st.token.expose().as_bytes())) {
        Caller {
            name: ADMIN_TOKEN_NAME.to_string(),
            admin: true,
        }
    } else {
        match st.control.store.token_name(given) {
            Ok(Some(name)) => Caller { name, admin: false },
            Ok(None) => return ApiError::unauthorized("wrong bearer token").into_response(),
            Err(e) => return ApiError::from(ControlError::from(e)).into_response(),
        }
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The credentials of an `Authorization: Bearer …` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
}

async fn no_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no-route",
        "no such route; see /openapi.json",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "method not allowed on this route; see /openapi.json",
    )
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn metrics(State(st): St) -> Result<Response, ApiError> {
    let counts = st.control.status_counts()?;
    st.metrics.set_instance_states(&counts);
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn connectors(State(st): St) -> Response {
    Json(st.control.connectors()).into_response()
}

async fn plugins(State(st): St) -> Response {
    Json(st.control.plugins()).into_response()
}

async fn instances(State(st): St) -> Result<Response, ApiError> {
    Ok(Json(st.control.instances()?).into_response())
}

async fn connect(
    State(st): St,
    JsonBody(input): JsonBody<ConnectInput>,
) -> Result<Response, ApiError> {
    let connected = st.control.connect(input).await?;
    Ok((StatusCode::CREATED, Json(connected)).into_response())
}

async fn instance(State(st): St, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.control.instance(&name).await?).into_response())
}

async fn remove(State(st): St, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.control.remove(&name).await?).into_response())
}

async fn disable(State(st): St, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.control.disable(&name).await?).into_response())
}

async fn enable(State(st): St, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.control.enable(&name).await?).into_response())
}

async fn approve(State(st): St, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.control.approve(&name).await?).into_response())
}

async fn set_schedule(
    State(st): St,
    Path(name): Path<String>,
    JsonBody(schedule): JsonBody<Schedule>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.set_schedule(&name, schedule).await?).into_response())
}

/// `PUT /v1/instances/{name}/pin`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PinInput {
    version: Option<String>,
}

async fn pin(
    State(st): St,
    Path(name): Path<String>,
    JsonBody(input): JsonBody<PinInput>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.pin(&name, input.version.as_deref()).await?).into_response())
}

async fn scan(State(st): St, Path(name): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    // An empty body means "everything, don't wait".
    let input: ScanInput = if body.iter().all(u8::is_ascii_whitespace) {
        ScanInput::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
        object_body(value)?
    };
    let wait = input.wait;
    let out = st.control.scan(&name, input).await?;
    let status = if wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(out)).into_response())
}

/// `POST /v1/instances/{name}/actions`: audited under the caller's token name.
async fn act(
    State(st): St,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(input): JsonBody<ActInput>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.act(&name, input, &caller.name).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    /// Only this instance.
    instance: Option<String>,
    /// At most this many entries, newest first.
    limit: Option<usize>,
    /// Also recompute the hash chain.
    #[serde(default)]
    verify: bool,
}

async fn audit(
    State(st): St,
    QueryParams(p): QueryParams<AuditParams>,
) -> Result<Response, ApiError> {
    let filter = AuditFilter {
        instance: p.instance,
        limit: p.limit,
    };
    Ok(Json(st.control.audit(&filter, p.verify)?).into_response())
}

fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.admin {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "admin-only",
        format!(
            "token `{}` may not manage tokens: use the data dir's own token (`sluice token`)",
            caller.name
        ),
    ))
}

async fn tokens(
    State(st): St,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    Ok(Json(st.control.tokens()?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    name: String,
}

async fn create_token(
    State(st): St,
    axum::Extension(caller): axum::Extension<Caller>,
    JsonBody(input): JsonBody<TokenInput>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let created = st.control.create_token(&input.name)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn revoke_token(
    State(st): St,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    Ok(Json(st.control.revoke_token(&name)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsParams {
    /// Only this instance.
    instance: Option<String>,
}

async fn limits(
    State(st): St,
    QueryParams(p): QueryParams<LimitsParams>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.limits(p.instance.as_deref())?).into_response())
}

async fn instance_limits(State(st): St, Path(name): Path<String>) -> Result<Response, ApiError> {
    let mut v = st.control.limits(Some(&name))?;
    Ok(Json(v.instances.remove(0)).into_response())
}

async fn set_instance_limits(
    State(st): St,
    Path(name): Path<String>,
    JsonBody(cfg): JsonBody<InstanceLimitConfig>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.set_instance_limits(&name, cfg)?).into_response())
}

async fn set_scope_limit(
    State(st): St,
    Path(scope): Path<String>,
    JsonBody(b): JsonBody<Budget>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.set_scope_limit(&scope, Some(b))?).into_response())
}

async fn remove_scope_limit(
    State(st): St,
    Path(scope): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.set_scope_limit(&scope, None)?).into_response())
}

async fn set_host_limit(
    State(st): St,
    Path(host): Path<String>,
    JsonBody(b): JsonBody<Budget>,
) -> Result<Response, ApiError> {
    Ok(Json(st.control.set_host_limit(&host, Some(b))?).into_response())
}

async fn remove_host_limit(State(st): St, Path(host): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.control.set_host_limit(&host, None)?).into_response())
}

/// Query parameters of the record listings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsParams {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub q: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

async fn records(
    State(st): St,
    Path((name, kind)): Path<(String, String)>,
    QueryParams(p): QueryParams<RecordsParams>,
) -> Result<Response, ApiError> {
    let kind: Kind = kind
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::NOT_FOUND, "not-found", e))?;
    if let Some(l) = p.limit
        && (l == 0 || l > MAX_PAGE)
    {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
    let filter = RecordFilter {
        since: time(&p.since).map_err(ApiError::bad_request)?,
        until: time(&p.until).map_err(ApiError::bad_request)?,
        actor: p.actor,
        kind: p.kind,
        status: p.status,
        q: p.q,
        include_deleted: p.deleted,
    };
    let page = st
        .control
        .query(&name, kind, &filter, p.cursor.as_deref(), p.limit)?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookParams {
    /// Comma-separated kinds to scan; activities when absent.
    kind: Option<String>,
}

/// `POST /hooks/{name}`: a provider's change notification starts an immediate
/// incremental scan.
///
/// The caller proves it knows the instance's hook secret (`sluice instances webhook
/// NAME`) in one of two ways: `Authorization: Bearer SECRET`, or an HMAC-SHA256 of the
/// raw body keyed with the secret in `X-Hub-Signature-256: sha256=HEX` (GitHub's
/// webhook signature) or `X-Sluice-Signature-256`.
async fn hook(
    State(st): St,
    Path(name): Path<String>,
    QueryParams(p): QueryParams<HookParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // An unknown instance gets the same answer, after the same work, as a wrong
    // secret: without credentials nobody learns which instance names exist.
    let inst = st.control.store.instance(&name).ok();
    let id = inst
        .as_ref()
        .map_or_else(|| format!("unknown:{name}"), |i| i.id.clone());
    let secret = crate::store::hook_secret(&st.data_dir, &id)
        .map_err(|e| ControlError::Internal(e.to_string()))?;
    let authentic = hook_authentic(&headers, &body, &secret);
    let (Some(inst), Some(proof)) = (inst, authentic) else {
        return Err(ApiError::unauthorized(
            "missing or wrong webhook secret or signature",
        ));
    };
    if let HookProof::Signature(signature) = &proof
        && !st
            .control
            .store
            .hook_first_seen(signature)
            .map_err(|e| ControlError::Internal(e.to_string()))?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "replayed",
            "this signed delivery was already accepted".to_string(),
        ));
    }
    let kinds = match p.kind.as_deref() {
        None | Some("") => vec![Kind::Activities],
        Some(list) => list
            .split(',')
            .map(|k| k.trim().parse::<Kind>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::bad_request)?,
    };
    st.control
        .scan(
            &inst.name,
            ScanInput {
                kinds: kinds.clone(),
                wait: false,
            },
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "instance": inst.name, "triggered": kinds })),
    )
        .into_response())
}

/// How a webhook delivery proved itself.
enum HookProof {
    /// The instance's secret as a bearer token.
    Bearer,
    /// An HMAC-SHA256 of the body (these bytes), which a replay would repeat.
    Signature(Vec<u8>),
}

fn hook_authentic(headers: &HeaderMap, body: &[u8], secret: &Secret) -> Option<HookProof> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(token) = bearer(headers) {
        return bool::from(token.as_bytes().ct_eq(secret.expose().as_bytes()))
            .then_some(HookProof::Bearer);
    }
    let sig = header("x-hub-signature-256")
        .or_else(|| header("x-sluice-signature-256"))
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h.trim()).ok())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).ok()?;
    mac.update(body);
    mac.verify_slice(&sig).ok()?;
    Some(HookProof::Signature(sig))
}

/// Sign a webhook body the way [`hook`] checks it (for tests and tools).
pub fn sign_hook_body(secret: &Secret, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
