//! Persistence settings: `cookie`, `appsession`, `stick-table`, `stick …`. OWNER: config-sections helper.

/// Proxy-level persistence settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersistSettings {}
