//! fulcrum-observe
