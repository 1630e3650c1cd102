//! Health checks and server state.
pub mod error;
pub mod expect;
pub mod state;
pub mod status;
