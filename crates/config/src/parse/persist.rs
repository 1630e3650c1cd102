//! Parsing of persistence keywords. OWNER: config-sections helper. Same contract as `check`.

use crate::diag::{Diagnostics, Span};
use crate::model::persist::PersistSettings;

/// A proxy-section line (`cookie`, `appsession`, `stick-table`, `stick`, `dynamic-cookie-key`, …).
pub fn proxy_keyword(
    _words: &[String],
    _span: &Span,
    _s: &mut PersistSettings,
    _d: &mut Diagnostics,
) -> bool {
    false
}
