//! Operator client (being written).
