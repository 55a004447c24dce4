//! GitHub's wire behaviour: the route table, the gate every request passes (token,
//! injected faults, primary budget, common headers), page-number paging with `Link`
//! headers, and GitHub's error bodies.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, LINK, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use super::Shared;
use super::audit::AuditQuery;
use super::model::{self, BOT_ID, Person, TeamMember};
use crate::faults::{self, BudgetSnapshot, Fault};
use crate::server::RequestUrl;

/// Where GitHub's error bodies point.
const DOCS: &str = "https://docs.github.com/rest";
const RATE_LIMIT_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
/// `x-oauth-scopes` of the mock token: what an org-auditing classic token carries.
pub(crate) const TOKEN_SCOPES: &str = "admin:org, read:audit_log, read:org";
/// GitHub's default `per_page` for list endpoints.
const DEFAULT_PER_PAGE: usize = 30;

/// What handlers return: the body, or GitHub's error answer.
type Answer = Result<Response, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/user", get(authenticated_user))
        .route("/rate_limit", get(rate_limit))
        .route("/orgs/{org}", get(organization))
        .route("/orgs/{org}/members", get(members))
        .route(
            "/orgs/{org}/outside_collaborators",
            get(outside_collaborators),
        )
        .route(
            "/orgs/{org}/outside_collaborators/{username}",
            delete(remove_outside_collaborator),
        )
        .route("/orgs/{org}/teams", get(teams))
        .route("/orgs/{org}/teams/{slug}/members", get(team_members))
        .route("/orgs/{org}/installations", get(installations))
        .route(
            "/orgs/{org}/credential-authorizations",
            get(credential_authorizations),
        )
        .route(
            "/orgs/{org}/credential-authorizations/{credential_id}",
            delete(remove_credential_authorization),
        )
        .route("/orgs/{org}/audit-log", get(audit_log))
        .route("/repos/{owner}/{repo}", get(repository))
        // GitHub hides routes and methods it does not serve behind a plain 404.
        .fallback(not_found_answer)
        .method_not_allowed_fallback(not_found_answer)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Every request passes here first: authentication, then injected faults, then the
/// primary budget; every answer leaves with the rate-limit and request-id headers.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let request_id = shared.next_request_id();
    let (mut response, budget, authenticated) =
        match authenticate(request.headers(), &shared.token()) {
            Err(message) => {
                // Failed logins count against the small unauthenticated budget, as on GitHub.
                let budget = shared.anonymous_budget.consume();
                let response = if budget.allowed {
                    error(StatusCode::UNAUTHORIZED, message, DOCS)
                } else {
                    error(
                        StatusCode::FORBIDDEN,
                        "API rate limit exceeded for 127.0.0.1. (But here's the good news: \
                         Authenticated requests get a higher rate limit. Check out the \
                         documentation for more details.)",
                        RATE_LIMIT_DOCS,
                    )
                };
                (response, budget, false)
            }
            Ok(()) => {
                let (response, budget) = authorized(&shared, request, next, &request_id).await;
                (response, budget, true)
            }
        };
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-ratelimit-limit", budget.limit.to_string());
    set("x-ratelimit-remaining", budget.remaining().to_string());
    set("x-ratelimit-used", budget.used.to_string());
    set("x-ratelimit-reset", budget.reset_epoch_secs.to_string());
    set("x-ratelimit-resource", "core".to_owned());
    set("x-github-request-id", request_id);
    set("x-github-api-version-selected", "2022-11-28".to_owned());
    set("x-github-media-type", "github.v3; format=json".to_owned());
    if authenticated {
        set("x-oauth-scopes", TOKEN_SCOPES.to_owned());
    }
    response
}

/// An authenticated request: the one place injected faults are applied. The pending
/// fault, if any, decides the answer; refusals and damaged bodies leave the primary
/// budget alone, while a slow answer is a real one and counts like any other.
async fn authorized(
    shared: &Shared,
    request: Request,
    next: Next,
    request_id: &str,
) -> (Response, BudgetSnapshot) {
    match shared.faults.take() {
        None => budgeted(shared, request, next, request_id).await,
        Some(Fault::SecondaryLimit {
            retry_after_secs,
            as_403,
        }) => (
            secondary_limit_answer(retry_after_secs, as_403, request_id),
            shared.budget.peek(),
        ),
        Some(Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (error(status, "Server Error", DOCS), shared.budget.peek())
        }
        // The endpoint answers (and acts) as usual; only its body is damaged.
        Some(Fault::ResetMidBody) => (
            faults::reset_mid_body(next.run(request).await).await,
            shared.budget.peek(),
        ),
        Some(Fault::TruncatedBody) => (
            faults::truncate_body(next.run(request).await).await,
            shared.budget.peek(),
        ),
        Some(Fault::Slow { delay }) => {
            let answer = budgeted(shared, request, next, request_id).await;
            tokio::time::sleep(delay).await;
            answer
        }
    }
}

/// The normal path: the request is counted against the primary budget (`GET
/// /rate_limit` is free, as GitHub documents) and served if the budget allows.
async fn budgeted(
    shared: &Shared,
    request: Request,
    next: Next,
    request_id: &str,
) -> (Response, BudgetSnapshot) {
    let budget = if request.uri().path() == "/rate_limit" {
        shared.budget.peek()
    } else {
        shared.budget.consume()
    };
    let response = if budget.allowed {
        next.run(request).await
    } else {
        let message = format!(
            "API rate limit exceeded for user ID {BOT_ID}. If you reach out to \
             GitHub Support for help, please include the request ID {request_id}."
        );
        error(StatusCode::FORBIDDEN, &message, RATE_LIMIT_DOCS)
    };
    (response, budget)
}

/// Accepts `Authorization: Bearer <token>` and `Authorization: token <token>` (scheme
/// case-insensitive); the error is GitHub's 401 message.
fn authenticate(headers: &HeaderMap, token: &str) -> Result<(), &'static str> {
    let Some(value) = headers.get("authorization") else {
        return Err("Requires authentication");
    };
    let presented = value.to_str().ok().and_then(|value| {
        let (scheme, credential) = value.trim().split_once(' ')?;
        let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
        known.then(|| credential.trim())
    });
    match presented {
        Some(presented) if presented == token => Ok(()),
        _ => Err("Bad credentials"),
    }
}

/// GitHub's secondary-limit refusal: 429 (or 403) with `retry-after`.
fn secondary_limit_answer(retry_after_secs: u64, as_403: bool, request_id: &str) -> Response {
    let status = if as_403 {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    let message = format!(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you \
         try again. If you reach out to GitHub Support for help, please include the \
         request ID {request_id}."
    );
    let mut response = error(
        status,
        &message,
        &format!("{RATE_LIMIT_DOCS}#about-secondary-rate-limits"),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// A JSON body with GitHub's content type.
fn json_body(status: StatusCode, body: &Value) -> Response {
    raw_json(status, body.to_string())
}

/// A body that already is JSON text (fixtures are served byte for byte).
fn raw_json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

/// GitHub's error body: `message`, `documentation_url`, and `status` as a string.
fn error(status: StatusCode, message: &str, documentation_url: &str) -> Response {
    json_body(
        status,
        &json!({
            "message": message,
            "documentation_url": documentation_url,
            "status": status.as_u16().to_string()
        }),
    )
}

/// The client errors handlers answer with, in GitHub's body shapes.
#[derive(Debug)]
enum ApiError {
    /// 404 `Not Found`: unknown org, team, user or grant, or an unserved route.
    NotFound,
    /// 422: a parameter GitHub would reject.
    Invalid {
        resource: &'static str,
        field: &'static str,
        message: String,
    },
}

impl ApiError {
    fn invalid(resource: &'static str, field: &'static str, message: &str) -> ApiError {
        ApiError::Invalid {
            resource,
            field,
            message: message.to_owned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound => error(StatusCode::NOT_FOUND, "Not Found", DOCS),
            ApiError::Invalid {
                resource,
                field,
                message,
            } => json_body(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({
                    "message": message,
                    "errors": [{ "resource": resource, "field": field, "code": "invalid" }],
                    "documentation_url": DOCS,
                    "status": "422"
                }),
            ),
        }
    }
}

async fn not_found_answer() -> ApiError {
    ApiError::NotFound
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

impl Shared {
    /// 404 unless `org` names the mock's organisation (case-insensitively, as GitHub).
    fn check_org(&self, org: &str) -> Result<(), ApiError> {
        if org.eq_ignore_ascii_case(&self.config.org) {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }
}

/// `per_page`: default 30, clamped to `max`; junk or 0 means the default.
pub(crate) fn per_page(url: &RequestUrl, max: usize) -> usize {
    url.param("per_page")
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PER_PAGE)
        .min(max.max(1))
}

/// Page-number paging: the requested page of `items` and the `Link` header for it.
struct Paged<'a, T> {
    items: &'a [T],
    link: Option<String>,
}

fn paginate<'a, T>(url: &RequestUrl, max_per_page: usize, items: &'a [T]) -> Paged<'a, T> {
    let per_page = per_page(url, max_per_page);
    let page = url
        .param("page")
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = start.saturating_add(per_page).min(items.len());
    Paged {
        items: &items[start..end],
        link: page_links(url, page, items.len().div_ceil(per_page)),
    }
}

/// GitHub's `Link` header for page `page` of `last`: `prev`, `next`, `last`, `first`
/// in that order, each the request's own URL with only `page` changed; none at all
/// when everything fits on the first page.
fn page_links(url: &RequestUrl, page: usize, last: usize) -> Option<String> {
    let link = |page: usize, rel: &str| {
        let page = page.to_string();
        format!(
            "<{}>; rel=\"{rel}\"",
            url.with_params(&[], &[("page", &page)])
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

fn with_link(mut response: Response, link: Option<String>) -> Response {
    if let Some(value) = link.and_then(|link| HeaderValue::from_str(&link).ok()) {
        response.headers_mut().insert(LINK, value);
    }
    response
}

/// A page of a generated list: the JSON array plus its `Link` header.
fn paged_list<T>(
    shared: &Shared,
    url: &RequestUrl,
    items: &[T],
    to_json: impl Fn(&T) -> Value,
) -> Response {
    let page = paginate(url, shared.config.max_per_page, items);
    let body = Value::Array(page.items.iter().map(to_json).collect());
    with_link(json_body(StatusCode::OK, &body), page.link)
}

/// Fixture lists are one page: page 1 is the file, later pages are empty.
fn fixture_page(url: &RequestUrl, body: &str, empty: &str) -> Response {
    let first = url.param("page").is_none_or(|page| page == "1");
    raw_json(StatusCode::OK, if first { body } else { empty }.to_owned())
}

/// `filter=2fa_disabled|all` on member and collaborator lists.
fn two_factor_filter(url: &RequestUrl, people: Vec<Person>) -> Result<Vec<Person>, ApiError> {
    match url.param("filter") {
        None | Some("all") => Ok(people),
        Some("2fa_disabled") => Ok(people.into_iter().filter(|p| !p.two_factor).collect()),
        Some(_) => Err(ApiError::invalid(
            "Organization",
            "filter",
            "Validation Failed",
        )),
    }
}

async fn authenticated_user(url: RequestUrl) -> Response {
    json_body(StatusCode::OK, &model::token_owner(url.base()))
}

async fn rate_limit(State(shared): State<Arc<Shared>>) -> Response {
    let core = |budget: BudgetSnapshot| {
        json!({
            "limit": budget.limit,
            "used": budget.used,
            "remaining": budget.remaining(),
            "reset": budget.reset_epoch_secs
        })
    };
    let budget = shared.budget.peek();
    // The other budgets GitHub lists: the mock serves none of their endpoints, so
    // nothing spends them, but clients that read them at start-up find them there.
    let untouched = |limit: u32| json!({ "limit": limit, "used": 0, "remaining": limit, "reset": budget.reset_epoch_secs });
    json_body(
        StatusCode::OK,
        &json!({
            "resources": {
                "core": core(budget),
                "search": untouched(30),
                "graphql": untouched(5_000),
                "integration_manifest": untouched(5_000),
                "code_search": untouched(10)
            },
            "rate": core(budget)
        }),
    )
}

async fn organization(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    let body = model::organization(url.base(), &shared.config, &shared.state());
    Ok(json_body(StatusCode::OK, &body))
}

async fn members(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    let role = url.param("role").unwrap_or("all");
    if !matches!(role, "all" | "admin" | "member") {
        return Err(ApiError::invalid(
            "Organization",
            "role",
            "Validation Failed",
        ));
    }
    if let Some(fixtures) = &shared.fixtures {
        // One example user, listed for `all` and `admin` but not again for `member`,
        // so a connector merging roles sees it once.
        // The examples say nothing about 2FA, so no one is reported without it.
        let body = if role == "member" || url.param("filter") == Some("2fa_disabled") {
            "[]"
        } else {
            &fixtures.members
        };
        return Ok(fixture_page(&url, body, "[]"));
    }
    let people: Vec<Person> = shared
        .state()
        .members
        .iter()
        .filter(|p| role == "all" || p.admin == (role == "admin"))
        .cloned()
        .collect();
    let people = two_factor_filter(&url, people)?;
    Ok(paged_list(&shared, &url, &people, |p| {
        model::person_json(url.base(), p)
    }))
}

async fn outside_collaborators(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    if let Some(fixtures) = &shared.fixtures {
        let body = if url.param("filter") == Some("2fa_disabled") {
            "[]"
        } else {
            &fixtures.outside_collaborators
        };
        return Ok(fixture_page(&url, body, "[]"));
    }
    let people = two_factor_filter(&url, shared.state().outside.clone())?;
    Ok(paged_list(&shared, &url, &people, |p| {
        model::person_json(url.base(), p)
    }))
}

async fn remove_outside_collaborator(
    State(shared): State<Arc<Shared>>,
    Path((org, username)): Path<(String, String)>,
) -> Answer {
    shared.check_org(&org)?;
    if let Some(fixtures) = &shared.fixtures {
        // Fixture bodies stay verbatim; the answer is what GitHub would say.
        return if fixtures.outside_logins.contains(&username) {
            Ok(no_content())
        } else {
            Err(ApiError::NotFound)
        };
    }
    let mut state = shared.state();
    if state.members.iter().any(|p| p.login == username) {
        return Err(ApiError::invalid(
            "Organization",
            "username",
            "You cannot specify an organization member to remove as an outside collaborator.",
        ));
    }
    let before = state.outside.len();
    state.outside.retain(|p| p.login != username);
    if state.outside.len() == before {
        return Err(ApiError::NotFound);
    }
    Ok(no_content())
}

async fn teams(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    if let Some(fixtures) = &shared.fixtures {
        return Ok(fixture_page(&url, &fixtures.teams, "[]"));
    }
    let teams = shared.state().teams.clone();
    Ok(paged_list(&shared, &url, &teams, |team| {
        model::team_json(url.base(), &shared.config.org, team)
    }))
}

async fn team_members(
    State(shared): State<Arc<Shared>>,
    Path((org, slug)): Path<(String, String)>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    if shared.fixtures.is_some() {
        return Ok(raw_json(StatusCode::OK, "[]".to_owned()));
    }
    let role = url.param("role").unwrap_or("all");
    let keep = |member: &TeamMember| match role {
        "maintainer" => member.maintainer,
        "member" => !member.maintainer,
        _ => true,
    };
    if !matches!(role, "all" | "maintainer" | "member") {
        return Err(ApiError::invalid("Team", "role", "Validation Failed"));
    }
    let people: Vec<Person> = {
        let state = shared.state();
        let team = state
            .teams
            .iter()
            .find(|team| model::team_slug(team.id) == slug)
            .ok_or(ApiError::NotFound)?;
        team.members
            .iter()
            .filter(|member| keep(member))
            .filter_map(|member| state.person(member.user_id).cloned())
            .collect()
    };
    Ok(paged_list(&shared, &url, &people, |p| {
        model::person_json(url.base(), p)
    }))
}

async fn installations(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    if let Some(fixtures) = &shared.fixtures {
        let empty = json!({ "total_count": fixtures.installation_count, "installations": [] });
        return Ok(fixture_page(
            &url,
            &fixtures.installations,
            &empty.to_string(),
        ));
    }
    let installations = shared.state().installations.clone();
    let page = paginate(&url, shared.config.max_per_page, &installations);
    let body = json!({
        "total_count": installations.len(),
        "installations": page
            .items
            .iter()
            .map(|&seq| model::installation_json(url.base(), &shared.config.org, seq))
            .collect::<Vec<_>>()
    });
    Ok(with_link(json_body(StatusCode::OK, &body), page.link))
}

async fn credential_authorizations(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    // The endpoint exists only for organisations using SAML SSO.
    if !shared.config.saml_sso {
        return Err(ApiError::NotFound);
    }
    if let Some(fixtures) = &shared.fixtures {
        return Ok(fixture_page(
            &url,
            &fixtures.credential_authorizations,
            "[]",
        ));
    }
    let credentials: Vec<_> = shared
        .state()
        .credentials
        .iter()
        .filter(|c| url.param("login").is_none_or(|login| c.login == login))
        .cloned()
        .collect();
    // Page-number paging without a `Link` header: GitHub's description declares none.
    let page = paginate(&url, shared.config.max_per_page, &credentials);
    let body = Value::Array(page.items.iter().map(model::credential_json).collect());
    Ok(json_body(StatusCode::OK, &body))
}

async fn remove_credential_authorization(
    State(shared): State<Arc<Shared>>,
    Path((org, credential_id)): Path<(String, String)>,
) -> Answer {
    shared.check_org(&org)?;
    if !shared.config.saml_sso {
        return Err(ApiError::NotFound);
    }
    let credential_id: u64 = credential_id.parse().map_err(|_| ApiError::NotFound)?;
    if let Some(fixtures) = &shared.fixtures {
        return if fixtures.credential_ids.contains(&credential_id) {
            Ok(no_content())
        } else {
            Err(ApiError::NotFound)
        };
    }
    let mut state = shared.state();
    let before = state.credentials.len();
    state
        .credentials
        .retain(|c| c.credential_id != credential_id);
    if state.credentials.len() == before {
        return Err(ApiError::NotFound);
    }
    Ok(no_content())
}

/// `GET /repos/{owner}/{repo}` for the organisation's repositories.
async fn repository(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&owner)?;
    let n = model::repository_number(&repo).ok_or(ApiError::NotFound)?;
    Ok(json_body(
        StatusCode::OK,
        &model::repository_json(url.base(), &shared.config.org, n),
    ))
}

async fn audit_log(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Answer {
    shared.check_org(&org)?;
    if let Some(fixtures) = &shared.fixtures {
        return Ok(raw_json(StatusCode::OK, fixtures.audit_log.clone()));
    }
    let query = AuditQuery::parse(&url, shared.config.max_per_page)
        .map_err(|message| ApiError::invalid("AuditLog", "phrase", &message))?;
    let len = shared.state().audit_len;
    let page = shared.audit.page(&query, len);
    let cursor_link = |rel: &str, param: &str, cursor: &str| {
        format!(
            "<{}>; rel=\"{rel}\"",
            url.with_params(&["after", "before"], &[(param, cursor)])
        )
    };
    let mut links = Vec::new();
    if let Some(cursor) = &page.prev {
        links.push(cursor_link("prev", "before", cursor));
    }
    if let Some(cursor) = &page.next {
        links.push(cursor_link("next", "after", cursor));
    }
    if page.prev.is_some() {
        links.push(format!(
            "<{}>; rel=\"first\"",
            url.with_params(&["after", "before"], &[])
        ));
    }
    let events: Vec<_> = page.events.iter().map(|&i| shared.audit.event(i)).collect();
    let body = serde_json::to_string(&events).expect("audit events serialise");
    Ok(with_link(
        raw_json(StatusCode::OK, body),
        (!links.is_empty()).then(|| links.join(", ")),
    ))
}
