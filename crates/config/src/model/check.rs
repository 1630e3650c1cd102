//! Health-check settings of a proxy and of a server. OWNER: config-sections helper.

/// Proxy-level check settings (`option httpchk`, `http-check …`, `tcp-check …`, `option *-check`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSettings {}

/// Server-level check settings (`check`, `inter`, `rise`, `fall`, `port`, `addr`, `agent-*`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerCheck {}
