//! Request budgets as connectors declare them and operators configure them: the
//! vocabulary the store keeps and `crate::ratelimit` enforces.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RateLimit;

/// A request budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Requests allowed in any window of `per_secs`.
    pub requests: u32,
    pub per_secs: u32,
    /// Requests allowed back to back before the steady rate applies (at least 1).
    #[serde(default = "one")]
    pub burst: u32,
    /// Requests in flight at once; 0 means no limit.
    #[serde(default)]
    pub max_concurrency: u32,
}

fn one() -> u32 {
    1
}

impl Budget {
    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 || self.per_secs == 0 {
            return Err("a budget needs at least 1 request per at least 1 second".into());
        }
        if self.burst == 0 || self.burst > self.requests {
            return Err(format!(
                "burst must be between 1 and the budget's {} requests",
                self.requests
            ));
        }
        Ok(())
    }

    /// Parse `REQUESTS/DURATION` such as `5000/1h`, `100/1m` or `3000/3600s`. Burst
    /// defaults to 2% of the budget, concurrency to unlimited.
    pub fn parse(text: &str) -> Result<Budget, String> {
        let err =
            || format!("invalid rate `{text}`: expected REQUESTS/DURATION, e.g. 5000/1h or 100/1m");
        let (n, per) = text.split_once('/').ok_or_else(err)?;
        let requests: u32 = n.trim().parse().map_err(|_| err())?;
        let per = per.trim();
        let per = if per.chars().all(|c| c.is_ascii_digit()) {
            Duration::from_secs(per.parse().map_err(|_| err())?)
        } else {
            humantime::parse_duration(per).map_err(|_| err())?
        };
        let b = Budget {
            requests,
            per_secs: per.as_secs().try_into().map_err(|_| err())?,
            burst: (requests / 50).max(1),
            max_concurrency: 0,
        };
        b.validate()?;
        Ok(b)
    }

    /// From a connector's declaration, repaired so it is always usable.
    pub fn from_declared(r: &RateLimit) -> Budget {
        let requests = r.requests.max(1);
        Budget {
            requests,
            per_secs: r.per_seconds.max(1),
            burst: r.burst.clamp(1, requests),
            max_concurrency: r.max_concurrency,
        }
    }

    /// `5000/1h, burst 100, 4 at once`.
    pub fn describe(&self) -> String {
        let per = humantime::format_duration(Duration::from_secs(u64::from(self.per_secs)));
        let mut s = format!("{}/{per}, burst {}", self.requests, self.burst);
        if self.max_concurrency > 0 {
            s.push_str(&format!(", {} at once", self.max_concurrency));
        }
        s
    }
}

/// Who set a budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Connector,
    Operator,
}

/// The operator's limit settings for one instance (stored with the instance).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceLimitConfig {
    /// Budgets by scope (`*` or an API host): each replaces the connector's budget of
    /// the same scope, or adds one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub budgets: BTreeMap<String, Budget>,
    /// A shared scope this instance draws from together with every instance naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
}

impl InstanceLimitConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (scope, b) in &self.budgets {
            b.validate()
                .map_err(|e| format!("budget for scope `{scope}`: {e}"))?;
        }
        if let Some(s) = &self.shared {
            validate_scope_name(s)?;
        }
        Ok(())
    }
}

/// Shared-scope and host budgets, set by the operator for the whole daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalLimitConfig {
    #[serde(default)]
    pub scopes: BTreeMap<String, Budget>,
    #[serde(default)]
    pub hosts: BTreeMap<String, Budget>,
}

pub fn validate_scope_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid scope name `{s}`: use letters, digits, `-`, `_` or `.`, at most 64"
        ))
    }
}

/// One budget in force for an instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EffectiveRule {
    /// `*` or the API host it covers.
    pub scope: String,
    pub budget: Budget,
    pub source: Source,
    /// The connector's default for this scope, when the operator replaced it.
    pub connector_default: Option<Budget>,
}

/// The host a connector's scope template names, expanded over the instance config.
fn template_host(template: &str, config: &BTreeMap<String, String>) -> Option<String> {
    let s = super::template::expand(template, config).ok()?;
    let url = if s.contains("://") {
        s
    } else {
        format!("https://{s}")
    };
    url::Url::parse(&url)
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase())
}

/// The budgets in force for an instance: connector defaults, replaced or extended by
/// the operator's.
pub fn effective_rules(
    declared: &[RateLimit],
    config: &BTreeMap<String, String>,
    overrides: &InstanceLimitConfig,
) -> Vec<EffectiveRule> {
    let mut rules: Vec<EffectiveRule> = Vec::new();
    for r in declared {
        let scope = if r.scope == "*" || r.scope.is_empty() {
            "*".to_string()
        } else {
            match template_host(&r.scope, config) {
                Some(h) => h,
                None => continue,
            }
        };
        rules.push(EffectiveRule {
            scope,
            budget: Budget::from_declared(r),
            source: Source::Connector,
            connector_default: None,
        });
    }
    for (scope, b) in &overrides.budgets {
        let scope = scope.to_ascii_lowercase();
        let mut replaced = false;
        for rule in rules.iter_mut().filter(|r| r.scope == scope) {
            // One operator budget replaces every connector budget of the scope.
            if !replaced {
                rule.connector_default = Some(rule.budget);
                rule.budget = *b;
                rule.source = Source::Operator;
                replaced = true;
            } else {
                rule.scope = String::new();
            }
        }
        rules.retain(|r| !r.scope.is_empty());
        if !replaced {
            rules.push(EffectiveRule {
                scope,
                budget: *b,
                source: Source::Operator,
                connector_default: None,
            });
        }
    }
    rules
}
