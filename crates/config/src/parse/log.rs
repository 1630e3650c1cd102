//! `log` lines, in `global` and in proxies.

use super::addr::{parse_address, Use};
use crate::diag::{closest, Diagnostic, Span};
use crate::model::addr::{Address, Family, Host, Ports};
use crate::model::log::{LogTarget, FACILITIES, LEVELS};

/// Words after `log` (not `global`): `ADDR [len N] [format F] [sample R:S] FACILITY [MAX [MIN]]`.
pub(crate) fn parse_target(args: &[String], span: &Span) -> Result<LogTarget, Diagnostic> {
    let alert = |m: String| Diagnostic::alert(span, m);
    let Some(addr) = args.first() else {
        return Err(alert("'log' expects an address and a facility".into())
            .with_hint("write e.g. 'log 127.0.0.1 local0' or 'log global'"));
    };
    let (address, ring) = match addr.as_str() {
        "stdout" => (Address::Fd(1), None),
        "stderr" => (Address::Fd(2), None),
        a if a.starts_with("ring@") => (Address::Abns(String::new()), Some(a[5..].to_string())),
        a => {
            let mut ad = parse_address(a, Use::Server).map_err(|e| alert(format!("'log': {e}")))?;
            if let Address::Inet {
                ports: p @ Ports::None,
                ..
            } = &mut ad
            {
                *p = Ports::One(514);
            }
            if matches!(
                ad,
                Address::Inet {
                    host: Host::Wildcard,
                    family: Family::Any,
                    ..
                }
            ) {
                return Err(alert(format!("'log': '{a}' is not a log server address")));
            }
            (ad, None)
        }
    };
    let mut t = LogTarget {
        address,
        ring,
        len: None,
        format: None,
        sample: None,
        facility: 0,
        max_level: 7,
        min_level: 0,
        span: span.clone(),
    };
    let mut i = 1;
    loop {
        let Some(w) = args.get(i) else {
            return Err(alert("'log' expects a facility after the address".into())
                .with_hint(format!("write e.g. 'log {addr} local0'")));
        };
        let val = || {
            args.get(i + 1)
                .ok_or_else(|| alert(format!("'log … {w}' expects a value")))
        };
        match w.as_str() {
            "len" => {
                let v = val()?;
                t.len =
                    Some(v.parse().map_err(|_| {
                        alert(format!("'log … len' expects a number, found '{v}'"))
                    })?);
            }
            "format" => t.format = Some(val()?.clone()),
            "sample" => t.sample = Some(val()?.clone()),
            _ => break,
        }
        i += 2;
    }
    let fac = &args[i];
    t.facility = match FACILITIES.iter().position(|f| f == fac) {
        Some(n) => n as u8,
        None => return Err(unknown(span, "facility", fac, &FACILITIES)),
    };
    if let Some(l) = args.get(i + 1) {
        t.max_level = level(l, span)?;
    }
    if let Some(l) = args.get(i + 2) {
        t.min_level = level(l, span)?;
    }
    if let Some(extra) = args.get(i + 3) {
        return Err(alert(format!(
            "'log': unexpected '{extra}' after the levels"
        )));
    }
    Ok(t)
}

fn level(w: &str, span: &Span) -> Result<u8, Diagnostic> {
    LEVELS
        .iter()
        .position(|l| *l == w)
        .map(|n| n as u8)
        .ok_or_else(|| unknown(span, "level", w, &LEVELS))
}

fn unknown(span: &Span, what: &str, w: &str, list: &[&'static str]) -> Diagnostic {
    let d = Diagnostic::alert(span, format!("'log': unknown {what} '{w}'"));
    match closest(w, list.iter().copied()) {
        Some(s) => d.with_hint(format!("did you mean '{s}'?")),
        None => d.with_hint(format!("use one of: {}", list.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn log_targets() {
        let sp = Span::new("t", 1);
        let t = parse_target(&words("127.0.0.1:514 local0 warning"), &sp).unwrap();
        assert_eq!(t.facility, 16);
        assert_eq!(t.max_level, 4);
        let t = parse_target(&words("127.0.0.1 local3"), &sp).unwrap();
        assert_eq!(t.address.port(), Some(514));
        let t = parse_target(&words("/dev/log local3 info"), &sp).unwrap();
        assert_eq!(t.address, Address::Unix("/dev/log".into()));
        let e = parse_target(&words("127.0.0.1 locl0"), &sp).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean 'local0'?"));
        assert!(parse_target(&words("127.0.0.1"), &sp).is_err());
        assert!(parse_target(&words("127.0.0.1 local0 err notice extra"), &sp).is_err());
    }
}
