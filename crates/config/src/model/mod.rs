//! The typed configuration model. OWNER: config-model helper.
