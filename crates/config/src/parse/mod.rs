//! Lines → model. OWNER: config-model helper, except the submodules `check`, `persist`
//! and `sections`, owned by the config-sections helper.

pub mod check;
pub mod persist;
pub mod sections;
