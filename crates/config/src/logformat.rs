//! Log-format strings (configuration.txt §8.2.4), as used by `log-format`,
//! `unique-id-format` and every action argument that accepts `%[expr]`.
//!
//! OWNER: observe helper. Parsed once at load into [`LogFormat`]; rendered by `fulcrum-observe`.

/// A parsed log-format string. Placeholder until the real parser lands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFormat {
    pub source: String,
}

impl LogFormat {
    /// Parses a log-format string; `Err` carries a one-line reason.
    pub fn parse(text: &str) -> Result<LogFormat, String> {
        Ok(LogFormat {
            source: text.to_string(),
        })
    }
}
