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
//! Every [`Operation`] (listed by [`for_each_op`]) is served by one generic handler,
//! [`operation`]; only health, metrics, the description and webhooks are written here
//! by hand. The OpenAPI description served at `/openapi.json` is generated from the
//! same list ([`openapi::document`]), so it describes exactly the routes served.

pub mod openapi;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::control::{
    Control, ControlError, InputFrom, Method, OpVisitor, Operation, ScanInput, for_each_op,
};
use crate::metrics::Metrics;
use crate::model::Kind;
use crate::store::Secret;
use crate::store::tokens::ADMIN_TOKEN_NAME;

/// The routes served besides the [`Operation`]s (method, path in OpenAPI syntax):
/// health, metrics, this description and webhooks, which are not operations on
/// [`Control`] and are documented by hand in `openapi-base.json`.
const OTHER_ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/hooks/{name}"),
];

/// Every route served: (method, path in OpenAPI syntax).
pub fn routes() -> Vec<(&'static str, &'static str)> {
    struct Collect(Vec<(&'static str, &'static str)>);
    impl OpVisitor for Collect {
        fn visit<O: Operation>(&mut self) {
            self.0.push((O::METHOD.as_str(), O::PATH));
        }
    }
    let mut all = Collect(OTHER_ROUTES.to_vec());
    for_each_op(&mut all);
    all.0
}

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

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Response {
        e.into_response()
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

/// Build the API's router: one generic handler per operation, and the routes that are
/// not operations.
pub fn router(state: ApiState) -> Router {
    struct Register(Router<Arc<ApiState>>);
    impl OpVisitor for Register {
        fn visit<O: Operation>(&mut self) {
            let handler = operation::<O>;
            let route = match O::METHOD {
                Method::Get => get(handler),
                Method::Post => post(handler),
                Method::Put => put(handler),
                Method::Delete => delete(handler),
            };
            // Two operations on one path (GET and POST `/v1/instances`) merge.
            self.0 = std::mem::take(&mut self.0).route(O::PATH, route);
        }
    }
    let state = Arc::new(state);
    let mut ops = Register(
        Router::new()
            .route("/metrics", get(metrics))
            .route("/openapi.json", get(openapi)),
    );
    for_each_op(&mut ops);
    let protected = ops
        .0
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/hooks/{name}", post(hook))
        .merge(protected)
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// The one handler of every [`Operation`]: path parameters, then the input from where
/// the operation takes it, then the admin check; errors are the API's JSON errors.
async fn operation<O: Operation>(State(st): St, req: Request) -> Response {
    match serve::<O>(&st, req).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn serve<O: Operation>(st: &Arc<ApiState>, req: Request) -> Result<Response, Response> {
    let (mut parts, body) = req.into_parts();
    // The `require_token` layer put it there.
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("no caller").into_response())?;
    let params = path_params::<O::Params>(O::PATH, &mut parts)
        .await
        .map_err(IntoResponse::into_response)?;
    let input: O::Input = match O::INPUT {
        InputFrom::Nothing => serde_json::from_value(serde_json::Value::Null)
            .map_err(|e| ApiError::from(ControlError::Internal(e.to_string())))?,
        InputFrom::Query => QueryParams::from_request_parts(&mut parts, st).await?.0,
        InputFrom::Json => {
            JsonBody::from_request(Request::from_parts(parts, body), st)
                .await?
                .0
        }
        InputFrom::JsonOrEmpty => {
            // Past the body limit the answer (413) is the framework's, as for any raw body.
            let bytes = Bytes::from_request(Request::from_parts(parts, body), st)
                .await
                .map_err(IntoResponse::into_response)?;
            optional_body(&bytes)?
        }
    };
    if O::ADMIN_ONLY {
        admin_only(&caller)?;
    }
    let status = StatusCode::from_u16(O::status(&input)).unwrap_or(StatusCode::OK);
    let output = O::run(&st.control, &caller.name, params, input)
        .await
        .map_err(ApiError::from)?;
    Ok((status, Json(output)).into_response())
}

/// An operation's path parameters (of `path`): `()` for none, else a struct of their
/// values.
async fn path_params<P: DeserializeOwned>(path: &str, parts: &mut Parts) -> Result<P, ApiError> {
    if !path.contains('{') {
        return serde_json::from_value(serde_json::Value::Null)
            .map_err(|e| ApiError::from(ControlError::Internal(e.to_string())));
    }
    let raw = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))?;
    let map: serde_json::Map<String, serde_json::Value> = raw
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
}

/// An optional JSON object body: empty (or blank) reads as `{}`.
fn optional_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return object_body(json!({}));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    object_body(value)
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
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| openapi::document().to_string());
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
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
/// webhook signature) or `X-Sluice-Signature-256`, or an HMAC-SHA1 in
/// `X-Spark-Signature: HEX` (how Webex signs a webhook created with `secret`).
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
                // A change notification: files list what changed since the last
                // listing; other kinds scan as usual (activities are incremental).
                changes_only: true,
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
    /// An HMAC of the body (these bytes), which a replay would repeat.
    Signature(Vec<u8>),
}

fn hook_authentic(headers: &HeaderMap, body: &[u8], secret: &Secret) -> Option<HookProof> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(token) = bearer(headers) {
        return bool::from(token.as_bytes().ct_eq(secret.expose().as_bytes()))
            .then_some(HookProof::Bearer);
    }
    let key = secret.expose().as_bytes();
    if let Some(sig) = header("x-spark-signature") {
        // SHA-1 is weak as a hash but HMAC-SHA1 is still unforgeable without the key;
        // it is the only signature Webex sends.
        let sig = hex::decode(sig.trim()).ok()?;
        let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
        mac.update(body);
        mac.verify_slice(&sig).ok()?;
        return Some(HookProof::Signature(sig));
    }
    let sig = header("x-hub-signature-256")
        .or_else(|| header("x-sluice-signature-256"))
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h.trim()).ok())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
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
