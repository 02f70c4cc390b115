//! Tolerated failures (Step Functions' `ToleratedFailureCount` / `ToleratedFailurePercentage`,
//! S3 Batch Operations' failure threshold): a job failing more rows than its caller accepts
//! ends FAILED early, and its chunks not yet started are skipped, instead of running to the
//! end. Optional on create, additive to both contracts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A percentage is judged only once this many rows (or every row of a smaller job) have an
/// outcome: one failed row of the first chunk is no trend.
pub const PERCENTAGE_MIN_ROWS: u32 = 100;

/// The request properties.
pub const COUNT_FIELD: &str = "toleratedFailureCount";
pub const PERCENTAGE_FIELD: &str = "toleratedFailurePercentage";

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureTolerance {
    /// The job fails once more rows than this failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_count: Option<u32>,
    /// The job fails once more than this percentage of its rows with an outcome failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_percentage: Option<f64>,
}

/// A property that is not a valid tolerance: (its name, what is wrong).
#[derive(Debug, PartialEq)]
pub struct InvalidTolerance(pub &'static str, pub String);

/// A JSON number with no fractional part (`5` or `5.0`, as JSON Schema's `integer` allows).
fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let n = value.as_f64()?;
        (n.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&n)).then_some(n as u64)
    })
}

impl FailureTolerance {
    /// Reads the optional properties of a create body.
    pub fn from_body(body: &Map<String, Value>) -> Result<Self, InvalidTolerance> {
        let count = match body.get(COUNT_FIELD) {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                whole_number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        InvalidTolerance(
                            COUNT_FIELD,
                            format!(
                                "{COUNT_FIELD} must be a whole number from 0 to {}",
                                u32::MAX
                            ),
                        )
                    })?,
            ),
        };
        let percentage = match body.get(PERCENTAGE_FIELD) {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_f64()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        InvalidTolerance(
                            PERCENTAGE_FIELD,
                            format!("{PERCENTAGE_FIELD} must be a number from 0 to 100"),
                        )
                    })?,
            ),
        };
        Ok(Self {
            tolerated_failure_count: count,
            tolerated_failure_percentage: percentage,
        })
    }

    /// Why a job with these counts must fail now, if it must.
    pub fn exceeded(&self, failed: u32, accounted: u32, total: u32) -> Option<String> {
        if let Some(count) = self.tolerated_failure_count {
            if failed > count {
                return Some(format!(
                    "The job was stopped: {failed} rows failed, more than the {count} tolerated ({COUNT_FIELD}); rows not yet started were skipped"
                ));
            }
        }
        let percentage = self.tolerated_failure_percentage?;
        let judged = accounted >= PERCENTAGE_MIN_ROWS.min(total) && accounted > 0;
        if judged && f64::from(failed) * 100.0 > percentage * f64::from(accounted) {
            return Some(format!(
                "The job was stopped: {failed} of {accounted} rows failed, more than the {percentage}% tolerated ({PERCENTAGE_FIELD}); rows not yet started were skipped"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<FailureTolerance, InvalidTolerance> {
        FailureTolerance::from_body(body.as_object().unwrap())
    }

    #[test]
    fn reads_and_checks_the_properties() {
        assert_eq!(parse(json!({})).unwrap(), FailureTolerance::default());
        let both = parse(json!({"toleratedFailureCount": 3, "toleratedFailurePercentage": 12.5}));
        assert_eq!(both.unwrap().tolerated_failure_percentage, Some(12.5));
        // JSON Schema's integer: 5.0 is 5.
        let whole = parse(json!({ COUNT_FIELD: 5.0 })).unwrap();
        assert_eq!(whole.tolerated_failure_count, Some(5));
        for bad in [
            json!(-1),
            json!(1.5),
            json!("3"),
            json!(5_000_000_000_u64),
            json!(-2.0),
        ] {
            assert_eq!(
                parse(json!({ COUNT_FIELD: bad })).unwrap_err().0,
                COUNT_FIELD
            );
        }
        for bad in [json!(-0.1), json!(100.5), json!("5")] {
            assert_eq!(
                parse(json!({ PERCENTAGE_FIELD: bad })).unwrap_err().0,
                PERCENTAGE_FIELD
            );
        }
    }

    #[test]
    fn a_count_is_exceeded_by_one_more_failure() {
        let tolerance = FailureTolerance {
            tolerated_failure_count: Some(2),
            ..Default::default()
        };
        assert_eq!(tolerance.exceeded(2, 10, 1000), None);
        assert!(tolerance
            .exceeded(3, 10, 1000)
            .unwrap()
            .contains("3 rows failed"));
        let zero = FailureTolerance {
            tolerated_failure_count: Some(0),
            ..Default::default()
        };
        assert!(zero.exceeded(1, 1, 1).is_some());
    }

    #[test]
    fn a_percentage_is_judged_after_enough_rows() {
        let tolerance = FailureTolerance {
            tolerated_failure_percentage: Some(10.0),
            ..Default::default()
        };
        assert_eq!(tolerance.exceeded(50, 50, 1000), None, "too early to judge");
        assert_eq!(
            tolerance.exceeded(10, 100, 1000),
            None,
            "exactly 10% is tolerated"
        );
        assert!(tolerance.exceeded(11, 100, 1000).is_some());
        assert!(
            tolerance.exceeded(2, 5, 5).is_some(),
            "a small job is judged whole"
        );
        assert_eq!(FailureTolerance::default().exceeded(1000, 1000, 1000), None);
    }
}
