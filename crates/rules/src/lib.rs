//! fulcrum-rules
