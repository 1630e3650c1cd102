//! Passive health (`observe layer4|layer7`, `error-limit`, `on-error`):
//! errors seen on live traffic count like failed checks.
//!
//! nginx's `max_fails=N fail_timeout=T` is written
//! `check inter T observe layer4 error-limit N on-error mark-down rise 1`:
//! after N consecutive connection failures the server is marked down, and
//! the next good check (within T) brings it back.

use fulcrum_config::model::check::{Observe, OnError};

/// What the engine saw on one connection or response to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassiveOutcome {
    ConnectOk,
    ConnectError,
    ConnectTimeout,
    /// A response with this status arrived.
    HttpStatus(u16),
    ReadError,
    ReadTimeout,
    BrokenPipe,
}

impl PassiveOutcome {
    /// HAProxy's words for the last error in `Detected N consecutive errors`.
    pub fn description(self) -> &'static str {
        match self {
            PassiveOutcome::ConnectOk => "L4 successful connection",
            PassiveOutcome::ConnectError | PassiveOutcome::ConnectTimeout => {
                "L4 unsuccessful connection"
            }
            PassiveOutcome::HttpStatus(s) if (500..600).contains(&s) => "Wrong http response",
            PassiveOutcome::HttpStatus(_) => "Correct http response",
            PassiveOutcome::ReadError => "Read error (http)",
            PassiveOutcome::ReadTimeout => "Read timeout (http)",
            PassiveOutcome::BrokenPipe => "Broken pipe (http)",
        }
    }

    /// `Some(true)` an error, `Some(false)` a success (clears the count),
    /// `None` ignored in this mode. As HAProxy: `layer4` counts connections
    /// only; `layer7` ignores connect successes (only a good response clears
    /// the count), so errors on answered connections add up.
    fn is_error(self, mode: Observe) -> Option<bool> {
        match (self, mode) {
            (PassiveOutcome::ConnectOk, Observe::Layer4) => Some(false),
            (PassiveOutcome::ConnectOk, Observe::Layer7) => None,
            (PassiveOutcome::ConnectError | PassiveOutcome::ConnectTimeout, _) => Some(true),
            (_, Observe::Layer4) => None,
            // 501 and 505 answer the client's request, not a server fault:
            // HAProxy counts them as correct responses.
            (PassiveOutcome::HttpStatus(501 | 505), _) => Some(false),
            (PassiveOutcome::HttpStatus(s), _) => Some(!(100..500).contains(&s)),
            _ => Some(true),
        }
    }
}

/// What reaching `error-limit` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassiveAction {
    None,
    /// Check again soon (`fastinter`); every mode does this.
    FastInter,
    /// Count one failed check; `info` is HAProxy's explanation.
    FailCheck {
        info: String,
    },
    /// Leave the server one failure from down, then count one.
    SuddenDeath {
        info: String,
    },
    /// Mark the server down now.
    MarkDown {
        info: String,
    },
}

/// The consecutive-error counter of one observed server.
#[derive(Clone, Debug)]
pub struct Observer {
    mode: Observe,
    limit: u32,
    on_error: OnError,
    consecutive: u32,
}

impl Observer {
    pub fn new(mode: Observe, limit: u32, on_error: OnError) -> Self {
        Observer {
            mode,
            limit: limit.max(1),
            on_error,
            consecutive: 0,
        }
    }

    pub fn consecutive(&self) -> u32 {
        self.consecutive
    }

    /// A passed health check clears the count, as in HAProxy.
    pub fn reset(&mut self) {
        self.consecutive = 0;
    }

    pub fn report(&mut self, o: PassiveOutcome) -> PassiveAction {
        match o.is_error(self.mode) {
            None => return PassiveAction::None,
            Some(false) => {
                self.consecutive = 0;
                return PassiveAction::None;
            }
            Some(true) => self.consecutive += 1,
        }
        if self.consecutive < self.limit {
            return PassiveAction::None;
        }
        let info = format!(
            "Detected {} consecutive errors, last one was: {}",
            self.consecutive,
            o.description()
        );
        self.consecutive = 0;
        match self.on_error {
            OnError::FastInter => PassiveAction::FastInter,
            OnError::FailCheck => PassiveAction::FailCheck { info },
            OnError::SuddenDeath => PassiveAction::SuddenDeath { info },
            OnError::MarkDown => PassiveAction::MarkDown { info },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer7_counts_consecutive_5xx_and_501_resets() {
        let mut o = Observer::new(Observe::Layer7, 3, OnError::MarkDown);
        assert_eq!(
            o.report(PassiveOutcome::HttpStatus(500)),
            PassiveAction::None
        );
        // 501 is the client's fault: a correct response, the count restarts.
        assert_eq!(
            o.report(PassiveOutcome::HttpStatus(501)),
            PassiveAction::None
        );
        assert_eq!(o.consecutive(), 0);
        assert_eq!(
            o.report(PassiveOutcome::HttpStatus(500)),
            PassiveAction::None
        );
        assert_eq!(
            o.report(PassiveOutcome::HttpStatus(503)),
            PassiveAction::None
        );
        assert_eq!(
            o.report(PassiveOutcome::HttpStatus(502)),
            PassiveAction::MarkDown {
                info: "Detected 3 consecutive errors, last one was: Wrong http response".into()
            }
        );
        assert_eq!(o.consecutive(), 0);
    }

    #[test]
    fn a_success_resets_and_layer4_ignores_http() {
        let mut o = Observe::Layer4;
        let mut ob = Observer::new(o, 2, OnError::FailCheck);
        ob.report(PassiveOutcome::ConnectError);
        ob.report(PassiveOutcome::ConnectOk);
        assert_eq!(
            ob.report(PassiveOutcome::ConnectTimeout),
            PassiveAction::None
        );
        assert_eq!(
            ob.report(PassiveOutcome::HttpStatus(500)),
            PassiveAction::None
        );
        o = Observe::Layer7;
        let mut f = Observer::new(o, 1, OnError::FastInter);
        assert_eq!(
            f.report(PassiveOutcome::ReadTimeout),
            PassiveAction::FastInter
        );
    }

    #[test]
    fn layer7_errors_add_up_across_successful_connects() {
        // Each request connects fine then gets a 502: the connects must not
        // clear the count, or a 5xx burst would never reach the limit.
        let mut o = Observer::new(Observe::Layer7, 3, OnError::MarkDown);
        for _ in 0..2 {
            assert_eq!(o.report(PassiveOutcome::ConnectOk), PassiveAction::None);
            assert_eq!(
                o.report(PassiveOutcome::HttpStatus(502)),
                PassiveAction::None
            );
        }
        assert_eq!(o.consecutive(), 2);
        assert_eq!(o.report(PassiveOutcome::ConnectOk), PassiveAction::None);
        assert!(matches!(
            o.report(PassiveOutcome::HttpStatus(502)),
            PassiveAction::MarkDown { .. }
        ));
        // A good answer clears it; layer4 still clears on a connect success.
        o.report(PassiveOutcome::HttpStatus(500));
        o.report(PassiveOutcome::HttpStatus(200));
        assert_eq!(o.consecutive(), 0);
        let mut l4 = Observer::new(Observe::Layer4, 3, OnError::MarkDown);
        l4.report(PassiveOutcome::ConnectError);
        l4.report(PassiveOutcome::ConnectOk);
        assert_eq!(l4.consecutive(), 0);
    }
}
