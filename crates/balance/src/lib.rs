//! fulcrum-balance
