//! Agent check replies (`agent-check`): one ASCII line of words separated by
//! spaces, tabs or commas, case-insensitive; `#` starts a description.

/// The administrative part of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentAdmin {
    Ready,
    Drain,
    Maint,
}

/// The operational part of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentOp {
    Up,
    Down,
    Fail,
    Stopped,
}

impl AgentOp {
    pub fn word(self) -> &'static str {
        match self {
            AgentOp::Up => "up",
            AgentOp::Down => "down",
            AgentOp::Fail => "fail",
            AgentOp::Stopped => "stopped",
        }
    }
}

/// What an agent said; several parts may come in one reply (`up 75%`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentReply {
    /// `N%`: the weight as a percentage of the configured one.
    pub weight_pct: Option<u32>,
    pub admin: Option<AgentAdmin>,
    pub op: Option<AgentOp>,
    /// `maxconn:N`.
    pub maxconn: Option<u32>,
    /// Text after `#`.
    pub desc: Option<String>,
}

/// Parses the first line of an agent reply; unknown words are ignored.
pub fn parse(reply: &str) -> AgentReply {
    let line = reply.lines().next().unwrap_or_default();
    let (words, desc) = match line.split_once('#') {
        Some((w, d)) => (w, Some(d.trim().to_string()).filter(|d| !d.is_empty())),
        None => (line, None),
    };
    let mut r = AgentReply {
        desc,
        ..Default::default()
    };
    for w in words.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
        let lw = w.to_ascii_lowercase();
        if let Some(p) = lw.strip_suffix('%') {
            r.weight_pct = p.parse().ok().or(r.weight_pct);
        } else if let Some(m) = lw.strip_prefix("maxconn:") {
            r.maxconn = m.parse().ok().or(r.maxconn);
        } else {
            match lw.as_str() {
                "ready" => r.admin = Some(AgentAdmin::Ready),
                "drain" => r.admin = Some(AgentAdmin::Drain),
                "maint" => r.admin = Some(AgentAdmin::Maint),
                "up" => r.op = Some(AgentOp::Up),
                "down" => r.op = Some(AgentOp::Down),
                "fail" => r.op = Some(AgentOp::Fail),
                "stopped" => r.op = Some(AgentOp::Stopped),
                _ => {}
            }
        }
    }
    r
}

/// The user weight an `N%` reply gives: `initial × N / 100`, at most 256.
pub fn weight_for(initial: u32, pct: u32) -> u32 {
    (u64::from(initial) * u64::from(pct) / 100).min(256) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_combine_and_description_is_kept() {
        let r = parse("UP 75%,maxconn:30 # busy\n");
        assert_eq!(r.op, Some(AgentOp::Up));
        assert_eq!(r.weight_pct, Some(75));
        assert_eq!(r.maxconn, Some(30));
        assert_eq!(r.desc.as_deref(), Some("busy"));
        assert_eq!(parse("drain").admin, Some(AgentAdmin::Drain));
        assert_eq!(parse("maint\tdown").op, Some(AgentOp::Down));
        assert_eq!(parse("hello world"), AgentReply::default());
    }

    #[test]
    fn weight_is_a_share_of_the_configured_one() {
        assert_eq!(weight_for(10, 50), 5);
        assert_eq!(weight_for(200, 200), 256);
    }

    proptest! {
        #[test]
        fn any_line_parses(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }
    }
}
