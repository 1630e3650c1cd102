//! `bind ADDR[,ADDR…] [options]` in proxies, and `stats socket` in `global`.

use super::addr::{parse_address_list, Use};
use super::value::parse_uint;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::model::Bind;

const FLAGS: &[&str] = &[
    "v4v6",
    "v6only",
    "accept-proxy",
    "transparent",
    "ssl",
    "tfo",
    "defer-accept",
    "strict-sni",
    "prefer-client-ciphers",
    "generate-certificates",
    "allow-0rtt",
    "no-ca-names",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "no-tls-tickets",
    "quic-force-retry",
    "no-alpn",
    "ssl-skip-self-issued-ca",
];

const VALUED: &[&str] = &[
    "name",
    "interface",
    "backlog",
    "maxconn",
    "process",
    "thread",
    "crt",
    "alpn",
    "id",
    "mss",
    "mode",
    "uid",
    "gid",
    "user",
    "group",
    "level",
    "severity-output",
    "expose-fd",
    "ca-file",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "verify",
    "npn",
    "crt-list",
    "namespace",
    "nice",
    "tcp-ut",
    "proto",
    "accept-netscaler-cip",
    "ca-sign-file",
    "ca-sign-pass",
    "crt-ignore-err",
    "ca-ignore-err",
    "sigalgs",
    "client-sigalgs",
    "label",
    "shards",
    "quic-cc-algo",
    "ca-verify-file",
    "guid-prefix",
];

const WORDS: super::OptionWords = super::OptionWords {
    noun: "option",
    flags: FLAGS,
    valued: VALUED,
};

/// Words after `bind` (or after `stats socket`); `what` names the keyword in messages.
pub(crate) fn parse(args: &[String], span: &Span, what: &str, d: &mut Diagnostics) -> Option<Bind> {
    let Some(addr) = args.first() else {
        d.push(
            Diagnostic::alert(span, format!("'{what}' expects an address"))
                .with_hint(format!("write e.g. '{what} *:80'")),
        );
        return None;
    };
    let mut b = Bind {
        span: Some(span.clone()),
        ..Bind::default()
    };
    let mut ok = true;
    match parse_address_list(addr, Use::Bind) {
        Ok(a) => b.addresses = a,
        Err(e) => {
            d.push(
                Diagnostic::alert(span, format!("'{what}': {e}"))
                    .with_hint("write an IP address and port, e.g. '*:80', '0.0.0.0:80', '[::]:443' or 'unix@/path'"),
            );
            ok = false;
        }
    }
    let mut i = 1;
    while let Some(w) = args.get(i) {
        let w = w.as_str();
        if FLAGS.contains(&w) {
            match w {
                "v4v6" => b.v4v6 = true,
                "v6only" => b.v6only = true,
                "accept-proxy" => b.accept_proxy = true,
                "transparent" => b.transparent = true,
                "ssl" => b.ssl = true,
                "tfo" => b.tfo = true,
                "defer-accept" => b.defer_accept = true,
                _ => {}
            }
            i += 1;
            continue;
        }
        let v = super::option_value(&WORDS, args, i, what, span, d)?;
        if let Err(e) = set(&mut b, w, v) {
            d.push(Diagnostic::alert(span, format!("'{what}': {e}")));
            ok = false;
        }
        i += 2;
    }
    if b.ssl || !b.crt.is_empty() {
        d.push(Diagnostic::notice(
            span,
            format!("'{what} … ssl/crt': TLS parsed, not yet supported"),
        ));
    }
    ok.then_some(b)
}

fn set(b: &mut Bind, w: &str, v: &str) -> Result<(), String> {
    match w {
        "name" => b.name = Some(v.to_string()),
        "interface" => b.interface = Some(v.to_string()),
        "backlog" => b.backlog = Some(parse_uint(v, "backlog")?),
        "maxconn" => b.maxconn = Some(parse_uint(v, "maxconn")?),
        "process" => b.process = Some(v.to_string()),
        "thread" => b.thread = Some(v.to_string()),
        "crt" => b.crt.push(v.to_string()),
        "alpn" => b.alpn = Some(v.to_string()),
        "id" => b.id = Some(parse_uint(v, "id")?),
        "mss" => b.mss = Some(v.to_string()),
        "mode" => {
            b.mode =
                Some(u32::from_str_radix(v, 8).map_err(|_| {
                    format!("'mode' expects an octal permission like 660, found '{v}'")
                })?)
        }
        "uid" => b.uid = Some(parse_uint(v, "uid")?),
        "gid" => b.gid = Some(parse_uint(v, "gid")?),
        "user" => b.user = Some(v.to_string()),
        "group" => b.group = Some(v.to_string()),
        "level" => match v {
            "user" | "operator" | "admin" => b.level = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "'level' expects 'user', 'operator' or 'admin', found '{v}'"
                ))
            }
        },
        "severity-output" => b.severity_output = Some(v.to_string()),
        "expose-fd" => match v {
            "listeners" => b.expose_fd_listeners = true,
            _ => return Err(format!("'expose-fd' only accepts 'listeners', found '{v}'")),
        },
        // TLS and other settings: accepted as written, TLS comes later.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::addr::Address;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn bind_options() {
        let mut d = Diagnostics::default();
        let sp = Span::new("t", 1);
        let b = parse(
            &words("*:7000 name http accept-proxy maxconn 100 v4v6"),
            &sp,
            "bind",
            &mut d,
        )
        .unwrap();
        assert_eq!(b.name.as_deref(), Some("http"));
        assert!(b.accept_proxy && b.v4v6);
        assert_eq!(b.maxconn, Some(100));
        let s = parse(
            &words("/run/admin.sock mode 660 level admin expose-fd listeners"),
            &sp,
            "stats socket",
            &mut d,
        )
        .unwrap();
        assert_eq!(s.addresses, vec![Address::Unix("/run/admin.sock".into())]);
        assert_eq!(s.mode, Some(0o660));
        assert_eq!(s.level.as_deref(), Some("admin"));
        assert!(s.expose_fd_listeners);
        assert!(d.items.is_empty(), "{:?}", d.items);
    }

    #[test]
    fn bind_errors() {
        let mut d = Diagnostics::default();
        let sp = Span::new("t", 1);
        assert!(parse(&words("x.x.x.x:80"), &sp, "bind", &mut d).is_none());
        assert!(parse(&words(":80 acept-proxy"), &sp, "bind", &mut d).is_none());
        assert_eq!(
            d.items[1].hint.as_deref(),
            Some("did you mean 'accept-proxy'?")
        );
        assert!(parse(&words(":80 level root"), &sp, "bind", &mut d).is_none());
    }
}
