//! Cost per million rows on AWS list prices, from a benchmark run's billed units and its
//! measured handler time (an upper bound: on moto every call is slower than on DynamoDB).

use crate::capacity::Capacity;

/// us-east-1 list prices (on-demand DynamoDB since 2024-11, SQS standard queues, Lambda on
/// arm64 as template.yaml deploys it), in dollars.
pub const WRITE_UNIT: f64 = 0.625 / 1e6;
pub const READ_UNIT: f64 = 0.125 / 1e6;
pub const SQS_REQUEST: f64 = 0.40 / 1e6;
pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// The functions' memory (template.yaml's `Globals.Function.MemorySize`), in GB.
pub const LAMBDA_GB: f64 = 256.0 / 1024.0;

/// What one benchmark run used.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub rows: usize,
    pub capacity: Capacity,
    /// Seconds spent inside the handlers (submit and every processor invocation).
    pub handler_seconds: f64,
    /// Function invocations (one submit, one per processor batch).
    pub invocations: usize,
}

impl Usage {
    fn per_million(&self, units: f64) -> f64 {
        units * 1e6 / self.rows.max(1) as f64
    }

    /// Dollars per million rows: DynamoDB, SQS, Lambda.
    pub fn dollars(&self) -> (f64, f64, f64) {
        let c = &self.capacity;
        let dynamodb = self.per_million(c.write_units) * WRITE_UNIT
            + self.per_million(c.read_units) * READ_UNIT;
        let sqs = self.per_million(c.sqs_requests) * SQS_REQUEST;
        let lambda = self.per_million(self.handler_seconds * LAMBDA_GB) * LAMBDA_GB_SECOND
            + self.per_million(self.invocations as f64) * LAMBDA_REQUEST;
        (dynamodb, sqs, lambda)
    }
}

/// The Markdown table of one or more workloads' cost per million rows.
pub fn cost_table(workloads: &[(&str, Usage)]) -> String {
    let mut table = String::from(
        "| workload (moto run, AWS list prices) | write units / row | read units / row | SQS requests / 1,000 rows | Lambda GB-s / 1,000 rows (upper bound) | $ per million rows: DynamoDB | SQS | Lambda | total |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, usage) in workloads {
        let rows = usage.rows.max(1) as f64;
        let (dynamodb, sqs, lambda) = usage.dollars();
        table.push_str(&format!(
            "| {name} | {:.2} | {:.2} | {:.1} | {:.3} | {dynamodb:.2} | {sqs:.3} | {lambda:.3} | {:.2} |\n",
            usage.capacity.write_units / rows,
            usage.capacity.read_units / rows,
            usage.capacity.sqs_requests * 1_000.0 / rows,
            usage.handler_seconds * LAMBDA_GB * 1_000.0 / rows,
            dynamodb + sqs + lambda,
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_write_unit_a_row_costs_the_write_price_per_million() {
        let usage = Usage {
            rows: 1_000,
            capacity: Capacity {
                write_units: 1_000.0,
                read_units: 0.0,
                sqs_requests: 0.0,
            },
            handler_seconds: 0.0,
            invocations: 0,
        };
        let (dynamodb, sqs, lambda) = usage.dollars();
        assert!((dynamodb - 0.625).abs() < 1e-9, "{dynamodb}");
        assert_eq!((sqs, lambda), (0.0, 0.0));
        assert!(cost_table(&[("x", usage)]).contains("| x | 1.00 | 0.00 |"));
    }
}
