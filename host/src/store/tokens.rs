//! Named API tokens: one per person or automation, so the audit log can say who acted.
//!
//! Tree `api_tokens`: name → [`TokenInfo`]. Only a token's SHA-256 is stored; the token
//! itself is shown once, when created. The data dir's `api.token` stays the `admin`
//! token (the only one that may create and revoke tokens).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Store, StoreError, from_json, to_json};
use crate::model::{Millis, now_millis};

/// The name of the data dir's own token (`sluice token`).
pub const ADMIN_TOKEN_NAME: &str = "admin";

/// A named token, without its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenInfo {
    pub name: String,
    pub created: Millis,
    /// SHA-256 of the token (hex); never shown by the API.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Save a new token under `name`; fails when the name is taken.
    pub fn create_token(&self, name: &str, token: &str) -> Result<TokenInfo, StoreError> {
        let info = TokenInfo {
            name: name.to_string(),
            created: now_millis(),
            sha256: digest(token),
        };
        let swapped = self.t()?.tokens.compare_and_swap(
            name,
            None as Option<&[u8]>,
            Some(to_json(&info)?),
        )?;
        if swapped.is_err() {
            return Err(StoreError::DuplicateToken(name.to_string()));
        }
        self.t()?.tokens.flush()?;
        Ok(TokenInfo {
            sha256: String::new(),
            ..info
        })
    }

    /// Every named token, by name, without hashes.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.t()?
            .tokens
            .iter()
            .values()
            .map(|v| {
                let mut t: TokenInfo = from_json(&v?)?;
                t.sha256.clear();
                Ok(t)
            })
            .collect()
    }

    /// Delete a named token; `None` if there was none.
    pub fn revoke_token(&self, name: &str) -> Result<Option<TokenInfo>, StoreError> {
        let old = self.t()?.tokens.remove(name)?;
        self.t()?.tokens.flush()?;
        old.map(|v| {
            let mut t: TokenInfo = from_json(&v)?;
            t.sha256.clear();
            Ok(t)
        })
        .transpose()
    }

    /// The name of the token `given` is, if any (compared in constant time).
    pub fn token_name(&self, given: &str) -> Result<Option<String>, StoreError> {
        let d = digest(given);
        for v in self.t()?.tokens.iter().values() {
            let t: TokenInfo = from_json(&v?)?;
            if bool::from(t.sha256.as_bytes().ct_eq(d.as_bytes())) {
                return Ok(Some(t.name));
            }
        }
        Ok(None)
    }
}
