//! `balance` and `hash-type` (configuration.txt §4.2).

use super::value::parse_uint;
use crate::diag::{closest, Span};
use crate::model::balance::{Balance, HashFunction, HashMethod, HashType};
use crate::rules;

pub(crate) fn balance(args: &[String], span: &Span) -> Result<Balance, String> {
    let Some(algo) = args.first().map(String::as_str) else {
        return Err("'balance' expects an algorithm, e.g. 'roundrobin'".into());
    };
    let rest = &args[1..];
    let num = |k: &str| -> Result<Option<u32>, String> {
        match rest.iter().position(|w| w == k) {
            None => Ok(None),
            Some(i) => rest
                .get(i + 1)
                .ok_or_else(|| format!("'balance {algo} {k}' expects a number"))
                .and_then(|v| parse_uint(v, &format!("balance {algo} {k}")))
                .map(Some),
        }
    };
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::LeastConn,
        "first" => Balance::First,
        "source" => Balance::Source,
        "uri" => Balance::Uri {
            whole: rest.iter().any(|w| w == "whole"),
            path_only: rest.iter().any(|w| w == "path-only"),
            len: num("len")?,
            depth: num("depth")?,
        },
        "url_param" => Balance::UrlParam {
            name: rest
                .first()
                .cloned()
                .ok_or("'balance url_param' expects a parameter name")?,
            check_post: match rest.get(1).map(String::as_str) {
                Some("check_post") => Some(
                    rest.get(2)
                        .map_or(Ok(48), |v| parse_uint(v, "check_post"))?,
                ),
                _ => None,
            },
        },
        "random" => Balance::Random { draws: 2 },
        "rdp-cookie" => Balance::RdpCookie {
            name: "mstshash".into(),
        },
        "hash" => Balance::Hash(
            rules::parse_sample_expr(
                rest.first()
                    .ok_or("'balance hash' expects a sample expression")?,
                span,
            )
            .map_err(|e| e.message)?,
        ),
        a if a.starts_with("hdr(") && a.ends_with(')') && a.len() > 5 => Balance::Hdr {
            name: a[4..a.len() - 1].to_string(),
            use_domain_only: rest.iter().any(|w| w == "use_domain_only"),
        },
        a if a.starts_with("random(") && a.ends_with(')') => Balance::Random {
            draws: parse_uint(&a[7..a.len() - 1], "balance random(N)")?,
        },
        a if a.starts_with("rdp-cookie(") && a.ends_with(')') => Balance::RdpCookie {
            name: a[11..a.len() - 1].to_string(),
        },
        a => {
            let known = [
                "roundrobin",
                "static-rr",
                "leastconn",
                "first",
                "source",
                "uri",
                "url_param",
                "hdr(NAME)",
                "random",
                "rdp-cookie",
                "hash",
            ];
            return Err(match closest(a, known) {
                Some(s) => format!("unknown 'balance' algorithm '{a}'; did you mean '{s}'?"),
                None => format!(
                    "unknown 'balance' algorithm '{a}' (use {})",
                    known.join(", ")
                ),
            });
        }
    };
    Ok(b)
}

pub(crate) fn hash_type(args: &[String]) -> Result<HashType, String> {
    let mut h = HashType::default();
    match args.first().map(String::as_str) {
        Some("map-based") => {}
        Some("consistent") => h.method = HashMethod::Consistent,
        _ => return Err("'hash-type' expects 'map-based' or 'consistent'".into()),
    }
    for w in &args[1..] {
        match w.as_str() {
            "sdbm" => h.function = HashFunction::Sdbm,
            "djb2" => h.function = HashFunction::Djb2,
            "wt6" => h.function = HashFunction::Wt6,
            "crc32" => h.function = HashFunction::Crc32,
            "none" => h.function = HashFunction::None,
            "avalanche" => h.avalanche = true,
            other => {
                return Err(format!(
                    "'hash-type': unknown '{other}' (use sdbm, djb2, wt6, crc32, none, avalanche)"
                ))
            }
        }
    }
    // HAProxy reads a bare `hash-type consistent` as sdbm *with* avalanche; keeping the
    // same choice keeps every client on the server it had under HAProxy.
    if args.len() == 1 && h.method == HashMethod::Consistent {
        h.avalanche = true;
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Result<Balance, String> {
        let w: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        balance(&w, &Span::new("t", 1))
    }

    #[test]
    fn algorithms() {
        assert_eq!(b("static-rr"), Ok(Balance::StaticRr));
        assert_eq!(
            b("uri whole len 10 depth 2"),
            Ok(Balance::Uri {
                whole: true,
                path_only: false,
                len: Some(10),
                depth: Some(2)
            })
        );
        assert_eq!(
            b("url_param userid check_post"),
            Ok(Balance::UrlParam {
                name: "userid".into(),
                check_post: Some(48)
            })
        );
        assert_eq!(
            b("hdr(Host) use_domain_only"),
            Ok(Balance::Hdr {
                name: "Host".into(),
                use_domain_only: true
            })
        );
        assert_eq!(b("random(3)"), Ok(Balance::Random { draws: 3 }));
        assert_eq!(b("random"), Ok(Balance::Random { draws: 2 }));
        assert_eq!(
            b("rdp-cookie(user)"),
            Ok(Balance::RdpCookie {
                name: "user".into()
            })
        );
        assert!(matches!(b("hash req.cook(sid)"), Ok(Balance::Hash(_))));
    }

    #[test]
    fn errors_suggest() {
        assert!(b("roundrobbin")
            .unwrap_err()
            .contains("did you mean 'roundrobin'?"));
        assert!(b("uri len x").is_err());
        assert!(b("url_param").is_err());
        assert!(b("hdr()").is_err());
    }

    #[test]
    fn hash_types() {
        let w = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let h = hash_type(&w("consistent djb2 avalanche")).unwrap();
        assert_eq!(
            (h.method, h.function, h.avalanche),
            (HashMethod::Consistent, HashFunction::Djb2, true)
        );
        assert_eq!(hash_type(&w("map-based")).unwrap(), HashType::default());
        let bare = hash_type(&w("consistent")).unwrap();
        assert_eq!((bare.function, bare.avalanche), (HashFunction::Sdbm, true));
        assert!(!hash_type(&w("consistent sdbm")).unwrap().avalanche);
        assert!(hash_type(&w("consistant")).is_err());
        assert!(hash_type(&w("consistent md5")).is_err());
    }
}
