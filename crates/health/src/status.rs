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

    /// HAProxy's number for the status (`enum healthcheck_status`), as
    /// `show servers state` prints it in `srv_check_status`.
    pub fn haproxy_code(self) -> u32 {
        match self {
            CheckStatus::Unknown => 0,
            CheckStatus::Init => 1,
            CheckStatus::Hana => 4,
            CheckStatus::SockErr => 5,
            CheckStatus::L4Ok => 6,
            CheckStatus::L4Tout => 7,
            CheckStatus::L4Con => 8,
            CheckStatus::L6Ok => 9,
            CheckStatus::L6Tout => 10,
            CheckStatus::L6Rsp => 11,
            CheckStatus::L7Tout => 12,
            CheckStatus::L7Rsp => 13,
            CheckStatus::L7Ok => 15,
            CheckStatus::L7OkC => 16,
            CheckStatus::L7Sts => 17,
        }
    }

    /// HAProxy's `enum chk_result` for this status (`srv_check_result`):
    /// 0 unknown (no check ended yet), 2 failed, 3 passed, 4 conditionally passed.
    pub fn haproxy_result(self) -> u32 {
        match self.verdict() {
            Verdict::Neutral => 0,
            Verdict::Failed => 2,
            Verdict::Passed => 3,
            Verdict::CondPassed => 4,
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

    #[test]
    fn numbers_are_haproxy_s() {
        // Read back from HAProxy 2.6's `show servers state`.
        assert_eq!(CheckStatus::Init.haproxy_code(), 1);
        assert_eq!(CheckStatus::L4Ok.haproxy_code(), 6);
        assert_eq!(CheckStatus::L4Con.haproxy_code(), 8);
        assert_eq!(CheckStatus::L7Ok.haproxy_code(), 15);
        assert_eq!(CheckStatus::L7Sts.haproxy_code(), 17);
        assert_eq!(CheckStatus::Init.haproxy_result(), 0);
        assert_eq!(CheckStatus::L4Ok.haproxy_result(), 3);
        assert_eq!(CheckStatus::L4Con.haproxy_result(), 2);
        assert_eq!(CheckStatus::L7OkC.haproxy_result(), 4);
    }
}
