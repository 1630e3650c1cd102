//! Parsing of the non-proxy sections. OWNER: config-sections helper.
