//! Whole-configuration checks. OWNER: config-model helper.
