//! A job's secret seed: random bytes, kept on the job item and never shown, from which an
//! operation derives the secrets of its side effects. A redelivered row then writes the same
//! bytes again, so a side effect can be written unconditionally and in batches (one write unit
//! a row) without a second delivery ever changing what the first one issued.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// 256 random bits, as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobSeed(String);

impl JobSeed {
    /// A fresh seed from the operating system's random source (two v4 UUIDs: 244 bits).
    pub fn random() -> Self {
        Self(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// The secret the seed gives for `purpose`: HMAC-SHA256 of `purpose` under the seed, its
    /// first 128 bits as 32 hex digits. Knowing other purposes' secrets (an enrollment owner
    /// holds its own claim token) tells nothing of this one's.
    pub fn derive(&self, purpose: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_bytes())
            .expect("HMAC accepts a key of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Never printed: a log line holding a job must not hold what its secrets derive from.
impl std::fmt::Debug for JobSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobSeed(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_secret_for_a_purpose_and_another_for_another() {
        let seed = JobSeed::random();
        let token = seed.derive("E#1");
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(seed.derive("E#1"), token, "deterministic");
        assert_ne!(seed.derive("E#2"), token, "per purpose");
        assert_ne!(JobSeed::random().derive("E#1"), token, "per seed");
    }

    #[test]
    fn a_seed_is_never_printed_and_survives_storage() {
        let seed = JobSeed::random();
        assert_eq!(format!("{seed:?}"), "JobSeed(..)");
        let stored = serde_json::to_value(&seed).unwrap();
        assert_eq!(stored.as_str().map(str::len), Some(64));
        let read: JobSeed = serde_json::from_value(stored).unwrap();
        assert_eq!(read, seed);
    }
}
