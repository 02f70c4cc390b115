//! The partition keys of the one table, in one place: every key the code builds starts with
//! one of these prefixes, and template.yaml grants each function exactly the prefixes
//! [`FUNCTION_KEYS`] lists for it (its DynamoDB statements carry them as
//! `dynamodb:LeadingKeys` conditions; a test keeps the two equal).
//!
//! | prefix          | items                                                   |
//! |-----------------|---------------------------------------------------------|
//! | `JOB#`          | a job, its chunk outcomes and its staged secrets        |
//! | `TOKEN#`        | client tokens of event-driven requests                  |
//! | `IDEMPOTENCY#`  | Idempotency-Keys of HTTP creates and their answers      |
//! | `SEQUENCE#`     | the named sequences bulk ids are drawn from             |
//! | `QUOTA#`        | a caller's active jobs, for the per-caller quotas       |
//! | `ENROLLMENT#`   | enrollments and the passes issued for them (SEND_MFP)   |
//! | `SAFE#`         | safes and the accounts created in them (ADD_ACCOUNTS)   |
//! | `PLATFORM#`     | platforms (ADD_ACCOUNTS reference data)                 |
//!
//! and of the indexes: `gsi1pk` is `JOBS#…` (a job type's, or an owner's, listing), `gsi2pk`
//! is `OUTBOX` (jobs with unpublished events), `gsi3pk` is `AWAITING_UPLOAD` (staged jobs
//! waiting for their file).

/// A job, its chunk outcomes and its staged secrets: `JOB#<job id>`.
pub const JOB_PREFIX: &str = "JOB#";
/// A client token: `TOKEN#<token key>`.
pub const TOKEN_PREFIX: &str = "TOKEN#";
/// An Idempotency-Key of an HTTP create: `IDEMPOTENCY#<scoped key>`.
pub const IDEMPOTENCY_PREFIX: &str = "IDEMPOTENCY#";
/// A caller's quota record: `QUOTA#<SHA-256 of its sub>` (fixed length: no caller's key is a
/// prefix of another's).
pub const QUOTA_PREFIX: &str = "QUOTA#";
/// A named sequence: `SEQUENCE#<name>`.
pub const SEQUENCE_PREFIX: &str = "SEQUENCE#";
/// An enrollment and the passes issued for it: `ENROLLMENT#<workflow id>#<where clause>`.
pub const ENROLLMENT_PREFIX: &str = "ENROLLMENT#";
/// A safe and its accounts: `SAFE#<safe name, lowercase>`.
pub const SAFE_PREFIX: &str = "SAFE#";
/// A platform: `PLATFORM#<platform id, lowercase>`.
pub const PLATFORM_PREFIX: &str = "PLATFORM#";

/// The job listing index (`gsi1pk` = a [`JOBS_PREFIX`] partition).
pub const JOBS_INDEX: &str = "gsi1";
/// A listing partition of `gsi1`: `JOBS#<job type>[#<owner hash>]`.
pub const JOBS_PREFIX: &str = "JOBS#";
/// The sparse index of jobs with unpublished events (`gsi2pk` = [`OUTBOX_PARTITION`]).
pub const OUTBOX_INDEX: &str = "gsi2";
/// The one partition of `gsi2`.
pub const OUTBOX_PARTITION: &str = "OUTBOX";

/// The sparse index of staged jobs waiting for their file (`gsi3pk` =
/// [`AWAITING_UPLOAD_PARTITION`], `gsi3sk` = `<when overdue:013>#<job id>`): the publisher's
/// sweep ends those overdue that nobody reads.
pub const AWAITING_UPLOAD_INDEX: &str = "gsi3";
/// The one partition of `gsi3`.
pub const AWAITING_UPLOAD_PARTITION: &str = "AWAITING_UPLOAD";

/// The longest key part kept as it is. DynamoDB allows 2,048 bytes of partition key and 1,024
/// of sort key, and a row's fields can be far longer: a key built from one must still fit, or
/// its chunk fails on every delivery.
pub const MAX_READABLE_KEY_PART: usize = 512;

/// `text` as part of a key: itself when it is at most [`MAX_READABLE_KEY_PART`] bytes and holds
/// no `~`; otherwise `~` and its SHA-256 in hex. Either way the part is exact (different texts
/// give different parts), and a readable part never equals a hashed one.
pub fn key_part(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_READABLE_KEY_PART && !text.contains('~') {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("~{}", super::sha256_hex(text.as_bytes())))
    }
}

/// Partition key values a grant allows: every key starting with a prefix, or one exact key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitions {
    Prefix(&'static str),
    Exact(&'static str),
}

impl Partitions {
    /// The `dynamodb:LeadingKeys` pattern (`StringLike`) matching these partitions.
    pub fn pattern(self) -> String {
        match self {
            Partitions::Prefix(prefix) => format!("{prefix}*"),
            Partitions::Exact(key) => key.to_owned(),
        }
    }

    /// Whether `key` is one of these partitions.
    pub fn matches(self, key: &str) -> bool {
        match self {
            Partitions::Prefix(prefix) => key.starts_with(prefix),
            Partitions::Exact(exact) => key == exact,
        }
    }
}

/// The partitions one function (a template.yaml logical id) reads and writes.
#[derive(Clone, Copy, Debug)]
pub struct FunctionKeys {
    /// The function's logical id in template.yaml.
    pub function: &'static str,
    /// Partitions of the base table (its item, batch and query actions).
    pub table: &'static [Partitions],
    /// `(index, partitions)` for each index the function queries.
    pub indexes: &'static [(&'static str, &'static [Partitions])],
}

use Partitions::{Exact, Prefix};

/// What every function of template.yaml touches, and nothing more.
pub const FUNCTION_KEYS: &[FunctionKeys] = &[
    // Creates jobs (bulk ids from a sequence), stages their secrets, releases or abandons them;
    // holds and answers the requests' Idempotency-Keys; admits jobs under their callers' quotas.
    FunctionKeys {
        function: "SubmitFunction",
        table: &[
            Prefix(JOB_PREFIX),
            Prefix(SEQUENCE_PREFIX),
            Prefix(IDEMPOTENCY_PREFIX),
            Prefix(QUOTA_PREFIX),
        ],
        indexes: &[],
    },
    // Reads a job and its chunk outcomes; lists jobs through gsi1.
    FunctionKeys {
        function: "QueryFunction",
        table: &[Prefix(JOB_PREFIX)],
        indexes: &[(JOBS_INDEX, &[Prefix(JOBS_PREFIX)])],
    },
    FunctionKeys {
        function: "CancelFunction",
        table: &[Prefix(JOB_PREFIX)],
        indexes: &[],
    },
    // Runs chunks: job bookkeeping plus every operation's reference data and side effects.
    FunctionKeys {
        function: "ProcessorFunction",
        table: &[
            Prefix(JOB_PREFIX),
            Prefix(ENROLLMENT_PREFIX),
            Prefix(SAFE_PREFIX),
            Prefix(PLATFORM_PREFIX),
        ],
        indexes: &[],
    },
    // Ends dead-lettered chunks: job bookkeeping, and reads the side effects a dying delivery
    // may have written (passes under their enrollment, accounts in their safe).
    FunctionKeys {
        function: "DeadLetterFunction",
        table: &[
            Prefix(JOB_PREFIX),
            Prefix(ENROLLMENT_PREFIX),
            Prefix(SAFE_PREFIX),
        ],
        indexes: &[],
    },
    // Sweeps the outbox index and marks events published on the job items; ends the staged
    // jobs the awaiting index shows overdue.
    FunctionKeys {
        function: "PublisherFunction",
        table: &[Prefix(JOB_PREFIX)],
        indexes: &[
            (OUTBOX_INDEX, &[Exact(OUTBOX_PARTITION)]),
            (AWAITING_UPLOAD_INDEX, &[Exact(AWAITING_UPLOAD_PARTITION)]),
        ],
    },
    // Splits staged files: reads the job, parks its chunks, releases (or fails) it, reads the
    // first window back to queue it, and publishes the job's events.
    FunctionKeys {
        function: "SplitterFunction",
        table: &[Prefix(JOB_PREFIX)],
        indexes: &[],
    },
    // Submits event-driven requests: as SubmitFunction, plus their client tokens.
    FunctionKeys {
        function: "IntakeFunction",
        table: &[
            Prefix(JOB_PREFIX),
            Prefix(SEQUENCE_PREFIX),
            Prefix(TOKEN_PREFIX),
        ],
        indexes: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        let all = [
            JOB_PREFIX,
            TOKEN_PREFIX,
            SEQUENCE_PREFIX,
            QUOTA_PREFIX,
            IDEMPOTENCY_PREFIX,
            ENROLLMENT_PREFIX,
            SAFE_PREFIX,
            PLATFORM_PREFIX,
        ];
        for a in all {
            for b in all {
                assert!(a == b || !b.starts_with(a), "{a} grants {b}");
            }
        }
        // The listing partitions are not job items, although they look alike.
        assert!(!Prefix(JOB_PREFIX).matches("JOBS#SEND_MFP"));
    }

    #[test]
    fn key_parts_fit_and_stay_exact() {
        assert_eq!(key_part("unix"), "unix");
        let long = "a".repeat(10_000);
        let hashed = key_part(&long);
        assert_eq!(hashed.len(), 65);
        assert_ne!(hashed, key_part(&"a".repeat(10_001)));
        // A readable part that looks like a hashed one is hashed itself.
        assert_ne!(key_part(&hashed), hashed);
        assert_eq!(key_part(&"b".repeat(MAX_READABLE_KEY_PART)).len(), 512);
    }

    #[test]
    fn patterns_are_what_the_policies_say() {
        assert_eq!(Prefix(JOB_PREFIX).pattern(), "JOB#*");
        assert_eq!(Exact(OUTBOX_PARTITION).pattern(), "OUTBOX");
        assert!(Exact(OUTBOX_PARTITION).matches("OUTBOX"));
        assert!(!Exact(OUTBOX_PARTITION).matches("OUTBOX#1"));
    }
}
