//! Fulcrum's configuration stage: HAProxy configuration text → typed, validated model.
//!
//! The stages, in the order the data flows:
//! - [`reader`]: files → [`reader::SourceLine`]s (HAProxy §2 quoting, escapes,
//!   environment variables, `.if` blocks), each with its `file:line`;
//! - [`parse`]: lines → [`model::Config`], one typed value per keyword, with
//!   `defaults` inheritance applied as HAProxy does;
//! - [`validate`]: whole-config checks (names, references, files), all errors at once.
//!
//! Nothing here opens a socket; diagnostics are values ([`diag::Diagnostic`]).

pub mod diag;
pub mod logformat;
pub mod migrate;
pub mod model;
pub mod parse;
pub mod reader;
pub mod rules;
pub mod validate;

pub use diag::{Diagnostic, Diagnostics, Level, Span};
