//! Admin operations as types: one [`Operation`] per route of the admin API.
//!
//! An operation says where it lives (method and path), where its input comes from,
//! what it answers, how the OpenAPI description documents it, and how it runs on a
//! [`Control`]. Everything else is generic over it: the API registers one handler for
//! every operation [`for_each`](super::for_each_op) lists, the CLI's remote client
//! sends any operation to a daemon and its local backend calls [`Operation::run`], and
//! the OpenAPI description is generated from the same list and the types' schemas.
//! Adding an operation is defining it here in `control` (beside the method it calls)
//! and listing it; the command line adds its command and its printer.

use std::future::Future;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Control, ControlError};

/// An HTTP method an operation is served on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Where an operation's [`Operation::Input`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFrom {
    /// Nothing: the input is `()`; a body or query string is ignored.
    Nothing,
    /// The query string; unknown parameters are refused.
    Query,
    /// A JSON object body, sent as `application/json`.
    Json,
    /// An optional JSON object body: an empty body reads as `{}`, and `Content-Type`
    /// is not checked (a webhook-style trigger can POST nothing).
    JsonOrEmpty,
}

/// What the OpenAPI description says about an operation (the schemas of its
/// parameters, input and output come from their types).
#[derive(Debug)]
pub struct OpDoc {
    /// `operationId`.
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// The answers by status, 401 aside (every authenticated route has it). A 2xx
    /// answer carries the output; any other carries the error body. A description
    /// that is the name of a shared answer (`components.responses`, e.g.
    /// `InstanceNotFound`) refers to it.
    pub responses: &'static [(u16, &'static str)],
}

/// One admin operation: a route of the API, a call of the CLI's remote client, and a
/// path in the OpenAPI description.
pub trait Operation: Send + Sync + 'static {
    const METHOD: Method;
    /// In OpenAPI syntax: `/v1/instances/{name}/pin`. Each `{param}` is a field of
    /// [`Operation::Params`].
    const PATH: &'static str;
    const INPUT: InputFrom;
    const DOC: OpDoc;
    /// Only the data dir's own token may call it (not a named token). The local CLI
    /// runs as the data dir's owner.
    const ADMIN_ONLY: bool = false;

    /// The path parameters: `()` when the path has none, else a struct with one
    /// string field per `{param}`.
    type Params: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    /// The body or query string (see [`Operation::INPUT`]); `()` for none.
    type Input: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    type Output: Serialize + DeserializeOwned + JsonSchema + Send + 'static;

    /// The success status for this input.
    fn status(_input: &Self::Input) -> u16 {
        200
    }

    /// Run it on `control` on behalf of `who` (a token's name, or `local:USER`).
    fn run(
        control: &Control,
        who: &str,
        params: Self::Params,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, ControlError>> + Send;
}

/// Something done once per operation type: registering a route, documenting a path.
pub trait OpVisitor {
    fn visit<O: Operation>(&mut self);
}

/// `{name}`: an instance.
#[derive(Clone, Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct InstanceName {
    /// The instance's name (its id is accepted too).
    pub name: String,
}

/// `{name}/{kind}`: one kind of an instance's records.
#[derive(Clone, Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct InstanceKind {
    /// The instance's name (its id is accepted too).
    pub name: String,
    /// The record kind; `posture` is accepted for `findings`. Any other value is 404
    /// (`not-found`); `limits` is not a kind but its own route
    /// (`/v1/instances/{name}/limits`).
    pub kind: String,
}

/// `{scope}`: a shared rate-limit scope.
#[derive(Clone, Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct ScopeName {
    /// The shared scope's name: letters, digits, `-`, `_` or `.`, at most 64
    /// (anything else is 400).
    pub scope: String,
}

/// `{host}`: an API host.
#[derive(Clone, Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct HostName {
    /// A bare API host name such as `api.github.com`; compared case-insensitively
    /// and stored lowercase. A value with `/`, `:` or a space (a URL, a port) is 400.
    pub host: String,
}

/// `{name}`: a named API token.
#[derive(Clone, Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct TokenName {
    /// The token's name.
    pub name: String,
}
