//! Lines → model. OWNER: config-model helper.
