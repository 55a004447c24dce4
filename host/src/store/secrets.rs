//! Secrets at rest: ChaCha20-Poly1305 with a key file in the data dir.
//!
//! The key lives beside the database (mode 0600), so a copied database alone reveals
//! nothing; each value gets a fresh nonce and is bound to its instance id as associated
//! data, so ciphertext cannot be moved between instances.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use super::StoreError;
use crate::model::secret::{Secret, Secrets};

/// Encrypts and decrypts secret maps with the data dir's key.
pub(crate) struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    /// Load the key from `path`, creating it (mode 0600) on first use: only when
    /// `sealed_secrets` is 0, since a new key could not decrypt secrets sealed with the
    /// old one (a deleted key file must be restored, not silently replaced).
    pub(crate) fn open(path: &Path, sealed_secrets: usize) -> Result<Self, StoreError> {
        let key = match fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => bytes,
            Ok(_) => {
                return Err(StoreError::Corrupt(format!(
                    "secret key file {} is not 32 bytes",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && sealed_secrets > 0 => {
                return Err(StoreError::Corrupt(format!(
                    "the secret key file {} is missing, but {sealed_secrets} instance(s) have secrets encrypted with it; restore it from a backup (a new key could not decrypt them), or remove those instances' data dir",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(path, &key)?;
                key
            }
            Err(e) => return Err(StoreError::Io(format!("reading {}: {e}", path.display()))),
        };
        Ok(SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    pub(crate) fn seal(&self, instance_id: &str, secrets: &Secrets) -> Result<Vec<u8>, StoreError> {
        let plain: BTreeMap<&str, &str> = secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        let plain = serde_json::to_vec(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: instance_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt("encrypting secrets failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub(crate) fn open_sealed(
        &self,
        instance_id: &str,
        bytes: &[u8],
    ) -> Result<Secrets, StoreError> {
        if bytes.len() < 12 {
            return Err(StoreError::Corrupt("sealed secrets too short".into()));
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: instance_id.as_bytes(),
                },
            )
            .map_err(|_| {
                StoreError::Corrupt(
                    "cannot decrypt secrets (wrong secret.key for this database?)".into(),
                )
            })?;
        let map: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect())
    }
}

/// Write a file readable only by its owner.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| StoreError::Io(format!("creating {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::Io(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_round_trip_and_are_bound_to_their_instance() {
        let dir = tempfile::tempdir().unwrap();
        let sb = SecretBox::open(&dir.path().join("secret.key"), 0).unwrap();
        let mut s = Secrets::new();
        s.insert("token".into(), Secret::new("ghp_supersecret"));
        let sealed = sb.seal("i1", &s).unwrap();
        assert!(
            !sealed.windows(6).any(|w| w == b"ghp_su"),
            "plaintext leaked"
        );
        assert_eq!(sb.open_sealed("i1", &sealed).unwrap(), s);
        assert!(sb.open_sealed("i2", &sealed).is_err());
        // Reopening reads the same key.
        let again = SecretBox::open(&dir.path().join("secret.key"), 0).unwrap();
        assert_eq!(again.open_sealed("i1", &sealed).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}
