//! Whether and at which severity a finished request is logged:
//! `option dontlognull`, `option dontlog-normal`, `option log-separate-errors`.

use super::record::LogRecord;
use super::syslog::Severity;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogPolicy {
    /// `option dontlognull`: skip connections that sent nothing.
    pub dontlognull: bool,
    /// `option dontlog-normal`: log only errors.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`: errors at `err` instead of `info`.
    pub separate_errors: bool,
}

impl LogPolicy {
    /// HAProxy's notion of an error line (`log-separate-errors`,
    /// `error-log-format`): a redispatch, an abnormal end, a retry, or a 5xx.
    pub fn is_error(rec: &LogRecord) -> bool {
        rec.redispatched
            || rec.termination.is_error()
            || rec.retries > 0
            || rec.status.is_some_and(|s| s >= 500)
    }

    /// The severity to log `rec` at, or `None` to skip it.
    pub fn severity(&self, rec: &LogRecord) -> Option<Severity> {
        let error = Self::is_error(rec);
        if self.dontlognull && rec.bytes_uploaded == 0 && rec.request_line.is_none() {
            return None;
        }
        if self.dontlog_normal && !error {
            return None;
        }
        // `set-log-level` replaces the level the options would pick (HAProxy's
        // `strm_log`), so a logger's level filter then applies to it.
        if let Some(level) = rec.level {
            return Some(level);
        }
        Some(if self.separate_errors && error {
            Severity::Err
        } else {
            Severity::Info
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::TermState;

    #[test]
    fn options_filter_and_raise() {
        let ok = LogRecord {
            request_line: Some("GET / HTTP/1.1".into()),
            status: Some(200),
            ..LogRecord::default()
        };
        let err = LogRecord {
            termination: TermState::SERVER_TIMEOUT_HEADERS,
            status: Some(504),
            ..ok.clone()
        };
        let null = LogRecord::default();
        let all = LogPolicy::default();
        assert_eq!(all.severity(&null), Some(Severity::Info));
        assert_eq!(all.severity(&err), Some(Severity::Info));
        let p = LogPolicy {
            dontlognull: true,
            dontlog_normal: true,
            separate_errors: true,
        };
        assert_eq!(p.severity(&null), None);
        assert_eq!(p.severity(&ok), None);
        assert_eq!(p.severity(&err), Some(Severity::Err));
        let five = LogRecord {
            status: Some(503),
            ..ok
        };
        assert_eq!(p.severity(&five), Some(Severity::Err));
        let retried = LogRecord {
            retries: 1,
            status: Some(200),
            ..five
        };
        assert_eq!(p.severity(&retried), Some(Severity::Err));
        let raised = LogRecord {
            level: Some(Severity::Notice),
            ..retried
        };
        assert_eq!(p.severity(&raised), Some(Severity::Notice));
    }
}
