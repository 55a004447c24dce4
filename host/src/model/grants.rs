//! Operator grants: what a connector asks for against what the operator allowed.
//!
//! Capabilities are two-sided (as in Zed's extension host): a connector's `describe()`
//! *asks* for egress destinations (URL templates, resolved over the instance's config)
//! and governance actions; the operator *grants* them per instance, at connect time or
//! later with `instances approve`. The grants are stored with the instance and are
//! what the host enforces: the egress policy holds only destinations that are both
//! asked for and granted, and `act` is refused for an action that is not granted.
//!
//! Writes a connector sends while scanning (declared `scan-writes`, e.g. Microsoft
//! 365's `POST …/subscriptions/start`) are granted the same way, each as `METHOD URL`
//! resolved over the config: a write is more than a destination, so a newer version
//! that declares a new one to an already granted host still asks for approval.
//!
//! A new connector version that asks for more than an instance's grants does not
//! widen its reach silently: the instance waits in `needs approval` (see
//! `Control::schedule`). Grants may name more than the connector asks for today (a
//! host or action granted ahead of a known upgrade); that is harmless, because only
//! what is both asked for and granted is ever allowed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::template::{Destination, expand};
use super::{ActionKind, AuthScheme, ConnectorInfo, ScanWrite};

/// Egress destinations and actions, as asked for by a connector or granted by the
/// operator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Grants {
    /// Destinations as `scheme://host[:port]/path-prefix/` (the form the egress
    /// policy prints and compares), token endpoints included.
    #[serde(default)]
    pub egress: Vec<String>,
    #[serde(default)]
    pub actions: Vec<ActionKind>,
    /// Writes sent while scanning, as `METHOD URL` (see [`scan_write`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_writes: Vec<String>,
    /// Which rules these grants were made under ([`GRANTS_SCHEMA`]); older grants are
    /// migrated by `Control` (0: before token endpoints were destinations, 1: before
    /// scan writes were granted).
    #[serde(default)]
    pub schema: u32,
}

/// The grants' current rules: 1 = token endpoints are granted egress destinations;
/// 2 = scan writes are granted.
pub const GRANTS_SCHEMA: u32 = 2;

/// A declared scan write over `config`, as grants spell it: `POST https://host/path`
/// (the URL without its query).
pub fn scan_write(write: &ScanWrite, config: &BTreeMap<String, String>) -> Result<String, String> {
    let url = expand(&write.url, config).map_err(|e| format!("scan write {e}"))?;
    let url = url.split(['?', '#']).next().unwrap_or_default();
    Ok(format!(
        "{} {url}",
        write.method.trim().to_ascii_uppercase()
    ))
}

/// The destination of `scheme`'s token endpoint on an instance with `config`, in the
/// form grants spell destinations; `None` for schemes without one.
pub fn token_endpoint(
    scheme: &AuthScheme,
    config: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    let Some(template) = scheme.token_url() else {
        return Ok(None);
    };
    destination(template, config)
        .map(Some)
        .map_err(|e| format!("token endpoint {e}"))
}

/// The destination `template` resolves to over `config`, as grants spell it.
fn destination(template: &str, config: &BTreeMap<String, String>) -> Result<String, String> {
    let url = expand(template, config).map_err(|e| e.to_string())?;
    Destination::from_url(&url).map(|d| d.to_string())
}

impl Grants {
    /// What connector `info` asks for on an instance with this (defaulted) config and
    /// auth option (`None`: the default): its egress destinations, the auth scheme's
    /// token endpoint (where the host sends the instance's client secret or refresh
    /// token) and its actions.
    pub fn asked_by(
        info: &ConnectorInfo,
        auth: Option<&str>,
        config: &BTreeMap<String, String>,
    ) -> Result<Grants, String> {
        let scheme = &info.auth_option(auth)?.scheme;
        let mut egress = info
            .egress
            .iter()
            .map(|t| destination(t, config).map_err(|e| format!("egress {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        egress.extend(token_endpoint(scheme, config)?);
        let mut asks = Grants {
            egress,
            actions: info.actions.clone(),
            scan_writes: (info.scan_writes.iter())
                .map(|w| scan_write(w, config))
                .collect::<Result<_, _>>()?,
            schema: GRANTS_SCHEMA,
        };
        asks.dedup();
        Ok(asks)
    }

    /// What `asks` wants beyond these grants (empty: nothing to approve).
    pub fn missing(&self, asks: &Grants) -> Grants {
        Grants {
            schema: asks.schema,
            egress: asks
                .egress
                .iter()
                .filter(|d| !self.egress.contains(d))
                .cloned()
                .collect(),
            actions: asks
                .actions
                .iter()
                .filter(|a| !self.actions.contains(a))
                .copied()
                .collect(),
            scan_writes: asks
                .scan_writes
                .iter()
                .filter(|w| !self.scan_writes.contains(w))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.egress.is_empty() && self.actions.is_empty() && self.scan_writes.is_empty()
    }

    /// Add everything in `more`.
    pub fn extend(&mut self, more: &Grants) {
        self.egress.extend(more.egress.iter().cloned());
        self.actions.extend(more.actions.iter().copied());
        self.scan_writes.extend(more.scan_writes.iter().cloned());
        self.schema = self.schema.max(more.schema);
        self.dedup();
    }

    fn dedup(&mut self) {
        self.egress.sort();
        self.egress.dedup();
        self.actions.sort_by_key(|a| a.as_str());
        self.actions.dedup();
        self.scan_writes.sort();
        self.scan_writes.dedup();
    }

    /// Whether granted egress covers the URL of scan write `write` (`METHOD URL`).
    fn covers(&self, write: &str) -> bool {
        let url = write.split_once(' ').map_or(write, |(_, url)| url);
        Destination::from_url(url)
            .map(|d| d.to_string())
            .is_ok_and(|d| self.egress.iter().any(|g| d.starts_with(g.as_str())))
    }

    /// One line per side, for messages: `egress: https://a/, https://b/`.
    pub fn lines(&self) -> Vec<String> {
        let join = |v: Vec<&str>| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let mut lines = vec![
            format!(
                "egress:  {}",
                join(self.egress.iter().map(String::as_str).collect())
            ),
            format!(
                "actions: {}",
                join(self.actions.iter().map(|a| a.as_str()).collect())
            ),
        ];
        if !self.scan_writes.is_empty() {
            lines.push(format!(
                "writes while scanning: {}",
                join(self.scan_writes.iter().map(String::as_str).collect())
            ));
        }
        lines
    }
}

/// One side of an operator's grant: everything the connector asks for (`"all"`),
/// nothing (`"none"`), or a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantSet<T> {
    All,
    Only(Vec<T>),
}

/// `"all"`, `"none"` (an empty list) or a list.
impl<T: schemars::JsonSchema> schemars::JsonSchema for GrantSet<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("GrantSet_{}", T::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let list = generator.subschema_for::<Vec<T>>();
        schemars::json_schema!({
            "oneOf": [{ "type": "string", "enum": ["all", "none"] }, list]
        })
    }
}

impl<T: Serialize> Serialize for GrantSet<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            GrantSet::All => s.serialize_str("all"),
            GrantSet::Only(v) => v.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for GrantSet<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Word(String),
            List(Vec<T>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(GrantSet::All),
            Raw::Word(w) if w == "none" => Ok(GrantSet::Only(Vec::new())),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"all\", \"none\" or a list, got \"{w}\""
            ))),
            Raw::List(v) => Ok(GrantSet::Only(v)),
        }
    }
}

/// What the operator grants when connecting (`"grants"` of `POST /v1/instances`,
/// `--grant*` on `sluice connect`). A side left out is undecided: connecting fails
/// if the connector asks for anything on that side.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<GrantSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<GrantSet<ActionKind>>,
}

/// Why a grant request was not accepted. Nothing was saved and no request was made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GrantError {
    /// The connector asks for something the request does not decide.
    #[error("{0}")]
    Required(String),
    #[error("{0}")]
    Invalid(String),
}

impl GrantRequest {
    /// Everything the connector asks for.
    pub fn all() -> GrantRequest {
        GrantRequest {
            egress: Some(GrantSet::All),
            actions: Some(GrantSet::All),
        }
    }

    /// The grants this request gives for `asks` (what `connector` asks for).
    pub fn resolve(&self, connector: &str, asks: &Grants) -> Result<Grants, GrantError> {
        let undecided_egress = self.egress.is_none() && !asks.egress.is_empty();
        let undecided_actions = self.actions.is_none() && !asks.actions.is_empty();
        if undecided_egress || undecided_actions {
            return Err(GrantError::Required(format!(
                "connector `{connector}` asks for these; grant them to connect:\n  {}\n\
                 CLI: --grant all, or --grant-egress URL|all|none and --grant-action ACTION|all|none; \
                 API: \"grants\": {{\"egress\": \"all\", \"actions\": \"all\"}} (or lists)",
                asks.lines().join("\n  ")
            )));
        }
        let egress = match &self.egress {
            None => Vec::new(),
            Some(GrantSet::All) => asks.egress.clone(),
            Some(GrantSet::Only(list)) => list
                .iter()
                .map(|d| Destination::from_operator(d).map(|d| d.to_string()))
                .collect::<Result<_, _>>()
                .map_err(|e| GrantError::Invalid(format!("egress grant: {e}")))?,
        };
        let actions = match &self.actions {
            None => Vec::new(),
            Some(GrantSet::All) => asks.actions.clone(),
            Some(GrantSet::Only(list)) => list.clone(),
        };
        let mut grants = Grants {
            egress,
            actions,
            scan_writes: Vec::new(),
            schema: GRANTS_SCHEMA,
        };
        // A declared scan write goes with its destination: granting the host grants
        // the writes the connector declares to it now (later ones ask again).
        grants.scan_writes = (asks.scan_writes.iter())
            .filter(|w| grants.covers(w))
            .cloned()
            .collect();
        grants.dedup();
        Ok(grants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthOption;

    fn asks() -> Grants {
        Grants {
            egress: vec!["https://api.github.com/".into()],
            actions: vec![ActionKind::RevokeAppPermission, ActionKind::SuspendUser],
            scan_writes: vec![],
            schema: GRANTS_SCHEMA,
        }
    }

    /// A connector whose client secret goes to `token_url`; its API is `{base}`.
    fn oauth_connector(token_url: &str) -> ConnectorInfo {
        ConnectorInfo {
            id: "c".into(),
            name: "C".into(),
            version: "1.0.0".into(),
            provider: "P".into(),
            description: String::new(),
            capabilities: vec![],
            actions: vec![],
            config: vec![],
            auth: vec![AuthOption {
                id: "oauth".into(),
                label: "OAuth".into(),
                scheme: AuthScheme::Oauth2ClientCredentials {
                    token_url: token_url.into(),
                    client_id_field: "client_id".into(),
                    client_secret_field: "client_secret".into(),
                    scopes: vec![],
                    client_auth: Default::default(),
                    grant_type: None,
                    params: vec![],
                },
            }],
            egress: vec!["https://{tenant}.api.example.com".into()],
            rate_limits: vec![],
            scan_writes: vec![],
            max_look_back_days: None,
            activity_partitions: false,
        }
    }

    #[test]
    fn the_token_endpoint_is_asked_for_like_any_destination() {
        let config = BTreeMap::from([("tenant".to_string(), "acme".to_string())]);
        let v1 = oauth_connector("https://login.example.com/{tenant}/token");
        let asks = Grants::asked_by(&v1, None, &config).unwrap();
        assert_eq!(
            asks.egress,
            [
                "https://acme.api.example.com/",
                "https://login.example.com/acme/token/"
            ]
        );
        // A newer version that sends the secret elsewhere asks for more: approval.
        let v2 = oauth_connector("https://collector.example.net/token");
        let missing = asks.missing(&Grants::asked_by(&v2, None, &config).unwrap());
        assert_eq!(missing.egress, ["https://collector.example.net/token/"]);
        assert!(!missing.is_empty());
        // Static schemes have no token endpoint.
        let bearer = AuthScheme::Bearer {
            token_field: "t".into(),
        };
        assert_eq!(token_endpoint(&bearer, &config), Ok(None));
    }

    #[test]
    fn a_scan_write_is_granted_with_its_destination_and_asked_for_again_when_new() {
        let config = BTreeMap::from([("tenant".to_string(), "acme".to_string())]);
        let mut info = oauth_connector("https://login.example.com/token");
        info.scan_writes = vec![ScanWrite {
            method: "post".into(),
            url: "https://{tenant}.api.example.com/subscriptions/start?type=audit".into(),
            reason: String::new(),
        }];
        let asks = Grants::asked_by(&info, None, &config).unwrap();
        let start = "POST https://acme.api.example.com/subscriptions/start";
        assert_eq!(asks.scan_writes, [start]);
        assert_eq!(GrantRequest::all().resolve("c", &asks).unwrap(), asks);
        // Granting only the token endpoint leaves the write out.
        let only_token = GrantRequest {
            egress: Some(GrantSet::Only(vec![
                "https://login.example.com/token".into(),
            ])),
            actions: None,
        };
        let granted = only_token.resolve("c", &asks).unwrap();
        assert!(granted.scan_writes.is_empty(), "{granted:?}");
        assert_eq!(granted.missing(&asks).scan_writes, [start]);
        // A newer version's second write to the same granted host asks for approval.
        let all = GrantRequest::all().resolve("c", &asks).unwrap();
        info.scan_writes.push(ScanWrite {
            method: "DELETE".into(),
            url: "https://{tenant}.api.example.com/subscriptions/old".into(),
            reason: String::new(),
        });
        let newer = Grants::asked_by(&info, None, &config).unwrap();
        let missing = all.missing(&newer);
        assert_eq!(
            missing.scan_writes,
            ["DELETE https://acme.api.example.com/subscriptions/old"]
        );
        assert!(missing.egress.is_empty() && !missing.is_empty());
    }

    #[test]
    fn undecided_sides_that_are_asked_for_fail_listing_the_asks() {
        let err = GrantRequest::default()
            .resolve("github", &asks())
            .unwrap_err();
        let GrantError::Required(m) = err else {
            panic!("{err:?}")
        };
        assert!(m.contains("https://api.github.com/"), "{m}");
        assert!(m.contains("revoke-app-permission"), "{m}");
        // Nothing asked on a side: nothing to decide.
        let none = Grants {
            schema: GRANTS_SCHEMA,
            ..Grants::default()
        };
        assert_eq!(GrantRequest::default().resolve("x", &none), Ok(none));
    }

    #[test]
    fn lists_are_normalized_and_all_takes_the_asks() {
        let req: GrantRequest = serde_json::from_value(serde_json::json!({
            "egress": ["API.github.com", "https://audit.example.com:8443/x"],
            "actions": "none",
        }))
        .unwrap();
        let g = req.resolve("github", &asks()).unwrap();
        assert_eq!(
            g.egress,
            [
                "https://api.github.com/",
                "https://audit.example.com:8443/x/"
            ]
        );
        assert!(g.actions.is_empty());
        assert_eq!(GrantRequest::all().resolve("github", &asks()), Ok(asks()));
        let missing = g.missing(&asks());
        assert!(missing.egress.is_empty());
        assert_eq!(missing.actions.len(), 2);
    }
}
