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
    #[error("the Authorization header holds no token")]
    Empty,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf is in the future)")]
    NotYetValid,
    #[error("the token is not signed with this server's development key")]
    BadSignature,
    #[error("the token has no {0} claim (exp, nbf, iss, aud and a string sub are required)")]
    MissingClaim(String),
    #[error("the token's sub claim is empty")]
    EmptySubject,
    #[error("the token's issuer is not {ISSUER}")]
    WrongIssuer,
    #[error("the token's audience is not {AUDIENCE}")]
    WrongAudience,
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
    nbf: u64,
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
            nbf: now,
            exp: now.saturating_add_signed(ttl_seconds),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )?)
    }

    /// Verifies an `Authorization` header value as API Gateway's JWT authorizer does: the token
    /// with or without the `Bearer ` prefix (Entrust's and PVWA's clients send it bare), its
    /// signature, `exp`, `nbf`, `iss`, `aud` and a non-empty string `sub`, all required. Returns
    /// the claims as API Gateway passes them to Lambda: every value a string.
    pub fn verify(&self, authorization: &str) -> Result<Map<String, Value>, TokenError> {
        let authorization = authorization.trim();
        let token = match authorization.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            None if authorization.eq_ignore_ascii_case("bearer") => "",
            _ => authorization,
        };
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
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
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                _ => TokenError::Invalid(e.to_string()),
            }
        })?;
        match data.claims.get("sub") {
            Some(Value::String(sub)) if sub.is_empty() => return Err(TokenError::EmptySubject),
            Some(Value::String(_)) => {}
            _ => return Err(TokenError::MissingClaim("sub".to_owned())),
        }
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
pub(crate) fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
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
pub(crate) fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
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

    /// A token signed with `key()` carrying exactly `claims`.
    fn signed(claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap()
    }

    #[test]
    fn accepts_the_token_with_or_without_bearer() {
        let token = key().mint("alice", "", 60).unwrap();
        for header in [
            token.clone(),
            format!("Bearer {token}"),
            format!("bearer {token}"),
            format!("BEARER  {token} "),
        ] {
            assert_eq!(key().verify(&header).unwrap()["sub"], "alice", "{header}");
        }
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
        assert_eq!(key().verify(&foreign), Err(TokenError::BadSignature));
        // alg "none": a header and claims with no signature.
        let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.";
        assert!(matches!(
            key().verify(&format!("Bearer {unsigned}")),
            Err(TokenError::Invalid(_))
        ));
        assert!(key().verify("Basic abc").is_err());
        assert_eq!(key().verify("Bearer "), Err(TokenError::Empty));
        assert_eq!(key().verify(""), Err(TokenError::Empty));
        assert!(key().verify("Bearer not.a.jwt").is_err());
    }

    #[test]
    fn every_registered_claim_is_required_and_checked() {
        let now = jsonwebtoken::get_current_timestamp();
        let full = serde_json::json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE,
                                      "nbf": now, "exp": now + 60});
        assert!(key().verify(&signed(full.clone())).is_ok());
        for claim in ["sub", "iss", "aud", "nbf", "exp"] {
            let mut claims = full.clone();
            claims.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                key().verify(&signed(claims)),
                Err(TokenError::MissingClaim(claim.into())),
                "{claim}"
            );
        }
        let with = |name: &str, value: serde_json::Value| {
            let mut claims = full.clone();
            claims[name] = value;
            key().verify(&signed(claims))
        };
        assert_eq!(
            with("nbf", (now + 3600).into()),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            with("iss", "someone-else".into()),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(with("aud", "other".into()), Err(TokenError::WrongAudience));
        for sub in [serde_json::Value::Null, 5.into(), serde_json::json!(["a"])] {
            assert!(with("sub", sub.clone()).is_err(), "sub {sub}");
        }
        assert_eq!(with("sub", "".into()), Err(TokenError::EmptySubject));
        assert_eq!(with("sub", " alice ".into()).unwrap()["sub"], " alice ");
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DevKey::load_or_create(&data).unwrap();
        let second = DevKey::load_or_create(&data).unwrap();
        let token = first.mint("bob", "", 60).unwrap();
        assert!(second.verify(&format!("Bearer {token}")).is_ok());
    }
}
