//! Key files in the data dir besides the secrets key: the admin API's bearer token,
//! and the webhook key from which each instance's webhook secret is derived (so that
//! secret never needs storing or showing). Each is generated on first use, mode 0600.

use std::path::Path;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::write_private_file;
use crate::model::secret::Secret;

/// The webhook key's file in the data dir.
pub const HOOKS_KEY_FILE: &str = "hooks.key";
/// The admin API token's file in the data dir.
pub const TOKEN_FILE: &str = "api.token";

fn read_or_create_key(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Ok(_) => anyhow::bail!(
            "{} is empty; delete it to generate a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use rand::RngCore;
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            let value = hex::encode(b);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            write_private_file(path, value.as_bytes())?;
            Ok(value)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The admin API's bearer token, generated (mode 0600) on first use.
pub fn api_token(data_dir: &Path) -> anyhow::Result<Secret> {
    read_or_create_key(&data_dir.join(TOKEN_FILE)).map(Secret::new)
}

/// The secret a provider's webhook must present (or sign with) for one instance:
/// derived from the data dir's hooks key, so it never needs storing or showing in the
/// API, and differs per instance.
pub fn hook_secret(data_dir: &Path, instance_id: &str) -> anyhow::Result<Secret> {
    let key = read_or_create_key(&data_dir.join(HOOKS_KEY_FILE))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|e| anyhow::anyhow!("hooks key: {e}"))?;
    mac.update(b"sluice-hook:");
    mac.update(instance_id.as_bytes());
    Ok(Secret::new(hex::encode(mac.finalize().into_bytes())))
}
