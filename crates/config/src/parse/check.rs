//! Parsing of health-check keywords. OWNER: config-sections helper.
//!
//! Contract with the proxy parser: each `*_keyword` function is offered a line and
//! returns `true` when the keyword is its own (having recorded the value, or pushed a
//! diagnostic), `false` when it is not.

use crate::diag::{Diagnostics, Span};
use crate::model::check::{CheckSettings, ServerCheck};

/// A proxy-section line (`words[0]` is the keyword, e.g. `option`, `http-check`, `tcp-check`).
pub fn proxy_keyword(
    _words: &[String],
    _span: &Span,
    _s: &mut CheckSettings,
    _d: &mut Diagnostics,
) -> bool {
    false
}

/// One option of a `server` / `default-server` line starting at `words[0]`
/// (e.g. `["inter", "3s", …]`). Returns how many words it consumed (0 = not a check option).
pub fn server_option(
    _words: &[String],
    _span: &Span,
    _s: &mut ServerCheck,
    _d: &mut Diagnostics,
) -> usize {
    0
}
