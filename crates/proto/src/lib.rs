//! fulcrum-proto
