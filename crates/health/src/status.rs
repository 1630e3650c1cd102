//! Check status codes with HAProxy's names and descriptions: the stats
//! `check_status` column shows the name, log lines the description after
//! `reason:`.

use std::fmt;

/// What one check concluded, in HAProxy's classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Counts toward `rise`.
    Passed,
    /// Passed, but the server must get no new traffic (`disable-on-404`).
    CondPassed,
    /// Counts toward `fall`.
    Failed,
    /// No effect on the counters (a check still running, never run).
    Neutral,
}

/// A check status code (`L4OK`, `L7STS`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    Unknown,
    Init,
    /// Passive error tracking (`observe`) failed the server.
    Hana,
    SockErr,
    L4Ok,
    L4Tout,
    L4Con,
    L6Ok,
    L6Tout,
    L6Rsp,
    L7Tout,
    L7Rsp,
    L7Ok,
    L7OkC,
    L7Sts,
}

impl CheckStatus {
    /// The name shown in stats (`check_status`).
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "UNK",
            CheckStatus::Init => "INI",
            CheckStatus::Hana => "HANA",
            CheckStatus::SockErr => "SOCKERR",
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Tout => "L4TOUT",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Tout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Tout => "L7TOUT",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7OkC => "L7OKC",
            CheckStatus::L7Sts => "L7STS",
        }
    }

    /// The text logged after `reason:`.
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "Unknown",
            CheckStatus::Init => "Initializing",
            CheckStatus::Hana => "Health analyze",
            CheckStatus::SockErr => "Socket error",
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Tout => "Layer4 timeout",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Tout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Tout => "Layer7 timeout",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7OkC => "Layer7 check conditionally passed",
            CheckStatus::L7Sts => "Layer7 wrong status",
        }
    }

    /// Parses a name as written in `ok-status`/`error-status`/`tout-status`.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter()
            .copied()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    pub fn verdict(self) -> Verdict {
        match self {
            CheckStatus::Unknown | CheckStatus::Init => Verdict::Neutral,
            CheckStatus::L4Ok | CheckStatus::L6Ok | CheckStatus::L7Ok => Verdict::Passed,
            CheckStatus::L7OkC => Verdict::CondPassed,
            _ => Verdict::Failed,
        }
    }

    /// Layer 5-7 statuses carry a response code (HAProxy's `>= L57DATA`):
    /// logs then say `code: N`.
    pub fn has_code(self) -> bool {
        matches!(
            self,
            CheckStatus::L7Ok | CheckStatus::L7OkC | CheckStatus::L7Sts
        )
    }
}

const ALL: [CheckStatus; 15] = [
    CheckStatus::Unknown,
    CheckStatus::Init,
    CheckStatus::Hana,
    CheckStatus::SockErr,
    CheckStatus::L4Ok,
    CheckStatus::L4Tout,
    CheckStatus::L4Con,
    CheckStatus::L6Ok,
    CheckStatus::L6Tout,
    CheckStatus::L6Rsp,
    CheckStatus::L7Tout,
    CheckStatus::L7Rsp,
    CheckStatus::L7Ok,
    CheckStatus::L7OkC,
    CheckStatus::L7Sts,
];

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one check run: status, response code (HTTP status, SMTP
/// code) and a short explanation (`info:` in logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: CheckStatus,
    pub code: Option<u32>,
    pub info: String,
}

impl Outcome {
    pub fn new(status: CheckStatus) -> Self {
        Outcome {
            status,
            code: None,
            info: String::new(),
        }
    }
    pub fn with_info(status: CheckStatus, info: impl Into<String>) -> Self {
        Outcome {
            status,
            code: None,
            info: info.into(),
        }
    }
    pub fn code(mut self, code: u32) -> Self {
        self.code = Some(code);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_classes_match_haproxy() {
        for s in ALL {
            assert_eq!(CheckStatus::from_name(s.name()), Some(s));
        }
        assert_eq!(CheckStatus::from_name("l7sts"), Some(CheckStatus::L7Sts));
        assert_eq!(
            CheckStatus::L4Con.description(),
            "Layer4 connection problem"
        );
        assert_eq!(CheckStatus::L7OkC.verdict(), Verdict::CondPassed);
        assert_eq!(CheckStatus::L6Rsp.verdict(), Verdict::Failed);
        assert!(CheckStatus::L7Sts.has_code() && !CheckStatus::L7Rsp.has_code());
    }
}
