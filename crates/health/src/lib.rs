//! Health checks and server state.
pub mod agent;
pub mod error;
pub mod expect;
pub mod http;
pub mod message;
pub mod monitor;
pub mod passive;
pub mod proto;
pub mod runner;
pub mod script;
pub mod state;
pub mod status;
pub mod target;
