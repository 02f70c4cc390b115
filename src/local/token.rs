//! Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with a development
//! key kept in the data directory (or given in `BULKOPS_JWT_SECRET`). The server verifies
//! them and hands their claims to the handlers; `bulkops token` mints them.

use std::path::Path;

use anyhow::Context;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The environment variable that overrides the key file.
pub const SECRET_VAR: &str = "BULKOPS_JWT_SECRET";
/// The issuer and audience of local tokens (API Gateway checks both; so does the server).
pub const ISSUER: &str = "bulkops-local";
pub const AUDIENCE: &str = "bulkops";
const KEY_FILE: &str = "dev-jwt-secret";

/// The development signing key.
#[derive(Clone)]
pub struct DevKey {
    secret: Vec<u8>,
}

/// Why a token was refused (each becomes a 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the Authorization header must be \"Bearer <token>\"")]
    NotBearer,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not signed with this server's development key")]
    BadSignature,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    scope: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

impl DevKey {
    pub fn from_secret(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    /// `BULKOPS_JWT_SECRET`, else `<data dir>/dev-jwt-secret`, created with a random key
    /// (readable by the owner only) on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        if let Ok(secret) = std::env::var(SECRET_VAR) {
            anyhow::ensure!(secret.len() >= 32, "{SECRET_VAR} must be at least 32 bytes");
            return Ok(Self::from_secret(secret));
        }
        let path = data_dir.join(KEY_FILE);
        if let Ok(secret) = std::fs::read_to_string(&path) {
            return Ok(Self::from_secret(secret.trim()));
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        // Two v4 UUIDs: 244 random bits from the OS generator.
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
        Ok(Self::from_secret(secret))
    }

    /// A token for `sub` with the space-separated `scope`, valid for `ttl_seconds` (negative
    /// values mint an already expired token, for tests).
    pub fn mint(&self, sub: &str, scope: &str, ttl_seconds: i64) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            scope: scope.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now.saturating_add_signed(ttl_seconds),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )?)
    }

    /// Verifies `Authorization: Bearer <jwt>` and returns the claims as API Gateway passes
    /// them to Lambda: every value a string.
    pub fn verify(&self, authorization: &str) -> Result<Map<String, Value>, TokenError> {
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::NotBearer)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let data = decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Invalid(e.to_string()),
            }
        })?;
        Ok(data
            .claims
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (name, Value::String(text))
            })
            .collect())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    std::fs::write(path, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DevKey {
        DevKey::from_secret("0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_minted_token_verifies_with_string_claims() {
        let token = key()
            .mint("alice", "ISSUANCE:ADD ISSUANCE:VIEW", 60)
            .unwrap();
        let claims = key().verify(&format!("Bearer {token}")).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["scope"], "ISSUANCE:ADD ISSUANCE:VIEW");
        assert!(claims["exp"].is_string());
    }

    #[test]
    fn refuses_expired_foreign_unsigned_and_malformed_tokens() {
        let expired = key().mint("alice", "", -5).unwrap();
        assert_eq!(
            key().verify(&format!("Bearer {expired}")),
            Err(TokenError::Expired)
        );
        let foreign = DevKey::from_secret("another-key-another-key-another-key")
            .mint("alice", "", 60)
            .unwrap();
        assert_eq!(
            key().verify(&format!("Bearer {foreign}")),
            Err(TokenError::BadSignature)
        );
        // alg "none": a header and claims with no signature.
        let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.";
        assert!(matches!(
            key().verify(&format!("Bearer {unsigned}")),
            Err(TokenError::Invalid(_))
        ));
        assert_eq!(key().verify("Basic abc"), Err(TokenError::NotBearer));
        assert_eq!(key().verify("Bearer "), Err(TokenError::NotBearer));
        assert!(key().verify("Bearer not.a.jwt").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("bulkops-key-{}", uuid::Uuid::new_v4()));
        let first = DevKey::load_or_create(&dir).unwrap();
        let second = DevKey::load_or_create(&dir).unwrap();
        let token = first.mint("bob", "", 60).unwrap();
        assert!(second.verify(&format!("Bearer {token}")).is_ok());
        std::fs::remove_dir_all(dir).ok();
    }
}
