//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `{id}.{timestamp}.{body}`, keyed with the bytes of a `whsec_<base64>` secret, so that a
//! receiver can verify with any Standard Webhooks (or Svix) library.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a serialized symmetric secret.
pub const PREFIX: &str = "whsec_";
/// The secret file inside the data directory.
pub const SECRET_FILE: &str = "webhook-secret";
/// The specification's bounds on the key: 24 to 64 bytes (192 to 512 bits).
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;
/// What a new secret has: in the specification's range, as many bits as SHA-256's output.
const NEW_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret is `whsec_` followed by base64")]
    Prefix,
    #[error("the webhook secret's base64 part does not decode: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("a webhook secret's key is {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes; this one is {0}")]
    Length(usize),
    #[error("the webhook secret file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no random bytes for a new webhook secret: {0}")]
    Random(String),
}

/// A symmetric webhook secret: the `whsec_…` text and the key it stands for.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    // Never in a log line by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Self {
            text: text.to_owned(),
            key,
        })
    }
}

impl WebhookSecret {
    /// A new secret of random bytes from the operating system.
    pub fn generate() -> Result<Self, SecretError> {
        let mut key = vec![0u8; NEW_KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Self {
            text: format!("{PREFIX}{}", STANDARD.encode(&key)),
            key,
        })
    }

    /// `<data_dir>/webhook-secret`, created (readable by the owner only) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(SECRET_FILE);
        let file_error = |source| SecretError::File {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return text.parse(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e)),
        }
        std::fs::create_dir_all(data_dir).map_err(file_error)?;
        let secret = Self::generate()?;
        super::token::write_private(&path, &secret.text).map_err(file_error)?;
        Ok(secret)
    }

    /// The serialized secret (`whsec_…`), for the receiver's configuration.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The `webhook-signature` header value for one delivery attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Whether `header` (space-separated `v1,…` signatures) holds a valid signature of the
    /// attempt, compared in constant time.
    pub fn verify(&self, header: &str, id: &str, timestamp: i64, body: &[u8]) -> bool {
        header.split(' ').any(|signature| {
            let Some(encoded) = signature.strip_prefix("v1,") else {
                return false;
            };
            let Ok(expected) = STANDARD.decode(encoded) else {
                return false;
            };
            let mut mac = self.mac();
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; the length was checked when the secret was made.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference libraries' signing test (secret, id, timestamp and
    /// body as published with them). Matching it is what says a receiver's library accepts
    /// ours: a round trip through our own `verify` would pass with the format wrong too.
    #[test]
    fn signs_the_specification_test_vector() {
        let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            .parse()
            .expect("the vector's secret");
        let body = br#"{"test": 2432232314}"#;
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(secret.verify(
            &format!("v1,bm9wZQ== {signature}"),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            body
        ));
        assert!(!secret.verify(
            &signature,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_331,
            body
        ));
    }

    #[test]
    fn secrets_are_whsec_base64_of_24_to_64_bytes() {
        assert!(matches!(
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse::<WebhookSecret>(),
            Err(SecretError::Prefix)
        ));
        assert!(matches!(
            "whsec_not base64!".parse::<WebhookSecret>(),
            Err(SecretError::Base64(_))
        ));
        let short = format!("{PREFIX}{}", STANDARD.encode([7u8; 16]));
        assert!(matches!(
            short.parse::<WebhookSecret>(),
            Err(SecretError::Length(16))
        ));
        let generated = WebhookSecret::generate().expect("random");
        assert_eq!(generated.key.len(), NEW_KEY_BYTES);
        let parsed: WebhookSecret = generated.expose().parse().expect("round trip");
        assert_eq!(parsed, generated);
        assert_ne!(WebhookSecret::generate().expect("random"), generated);
        assert_eq!(format!("{generated:?}"), "WebhookSecret(whsec_…)");
    }

    #[test]
    fn the_secret_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = WebhookSecret::load_or_create(dir.path()).expect("create");
        let again = WebhookSecret::load_or_create(dir.path()).expect("load");
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
