//! Secrets as opaque values: what a connector's secret config fields hold. Only the
//! store (encrypted at rest) and the outbound pipeline (credential injection) ever
//! look inside; everything else passes them along without being able to print them.

use std::collections::BTreeMap;
use std::fmt;

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plain value, for the one place that needs it: building request headers.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Secrets arrive in API request bodies as plain strings. There is deliberately no
/// `Serialize`: a secret is never written back out.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A string the API reads and never answers with.
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "writeOnly": true })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An instance's secret config fields by name.
pub type Secrets = BTreeMap<String, Secret>;
