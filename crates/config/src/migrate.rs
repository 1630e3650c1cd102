//! `fulcrum migrate`: legacy lines rewritten to their modern form. OWNER: config-model helper.
