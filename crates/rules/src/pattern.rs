//! ACL/map patterns: parsed once per match method, matched against samples.

use std::collections::HashMap;
use std::net::IpAddr;

use fulcrum_config::rules::MatchMethod;
use regex::bytes::Regex;

use crate::value::Sample;

#[derive(Clone, Debug)]
pub(crate) enum Pat {
    Range(i64, i64),
    Net(IpAddr, u8),
    Bytes(Vec<u8>),
    Reg(Regex),
}

/// The patterns of one ACL (or the keys of one map) with their match method.
#[derive(Clone, Debug)]
pub(crate) struct PatternSet {
    pub method: MatchMethod,
    pub icase: bool,
    pub pats: Vec<Pat>,
    /// Exact-string index for `str` (lower-cased keys with `-i`): first pattern index.
    exact: Option<HashMap<Vec<u8>, usize>>,
}

fn parse_int_range(w: &str) -> Option<(i64, i64)> {
    if let Some((a, b)) = w.split_once(':') {
        let lo = if a.is_empty() {
            i64::MIN
        } else {
            a.parse().ok()?
        };
        let hi = if b.is_empty() {
            i64::MAX
        } else {
            b.parse().ok()?
        };
        return Some((lo, hi));
    }
    let v = w.parse().ok()?;
    Some((v, v))
}

pub(crate) fn parse_net(w: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match w.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (w, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            Ok(_) => return None,
            Err(_) => {
                let m: std::net::Ipv4Addr = l.parse().ok()?;
                let m = u32::from(m);
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return None;
                }
                m.leading_ones() as u8
            }
        },
    };
    Some((ip, bits))
}

fn v4_bits(ip: IpAddr) -> Option<u32> {
    match ip {
        IpAddr::V4(a) => Some(u32::from(a)),
        IpAddr::V6(a) => a.to_ipv4_mapped().map(u32::from),
    }
}

pub(crate) fn net_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match net {
        IpAddr::V4(n) => match v4_bits(ip) {
            Some(a) => {
                let m = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                a & m == u32::from(n) & m
            }
            None => false,
        },
        IpAddr::V6(n) => {
            let a = match ip {
                IpAddr::V6(a) => u128::from(a),
                IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
            };
            let m = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            a & m == u128::from(n) & m
        }
    }
}

/// `pattern` found in `s` as a whole word bounded by `delims` or the ends
/// (HAProxy's `dir` and `dom` matching); delimiters around the pattern are ignored.
fn word_match(s: &[u8], pattern: &[u8], delims: &[u8], icase: bool) -> bool {
    let p = {
        let start = pattern
            .iter()
            .position(|b| !delims.contains(b))
            .unwrap_or(pattern.len());
        let end = pattern
            .iter()
            .rposition(|b| !delims.contains(b))
            .map_or(start, |e| e + 1);
        &pattern[start..end]
    };
    if p.is_empty() || p.len() > s.len() {
        return false;
    }
    (0..=s.len() - p.len()).any(|i| {
        let before_ok = i == 0 || delims.contains(&s[i - 1]);
        let after = i + p.len();
        let after_ok = after == s.len() || delims.contains(&s[after]);
        before_ok && after_ok && eq(&s[i..after], p, icase)
    })
}

fn eq(a: &[u8], b: &[u8], icase: bool) -> bool {
    if icase {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn contains(hay: &[u8], needle: &[u8], icase: bool) -> bool {
    if icase {
        hay.windows(needle.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(needle))
            || needle.is_empty()
    } else {
        memchr::memmem::find(hay, needle).is_some()
    }
}

impl PatternSet {
    pub fn compile(method: MatchMethod, icase: bool, words: &[String]) -> Result<Self, String> {
        let mut pats = Vec::new();
        match method {
            MatchMethod::Found | MatchMethod::Bool => {
                if let Some(w) = words.first() {
                    return Err(format!(
                        "'-m {}' takes no pattern, found '{w}'",
                        name(method)
                    ));
                }
            }
            MatchMethod::Int | MatchMethod::Len => {
                let mut op: Option<&str> = None;
                for w in words {
                    if matches!(w.as_str(), "eq" | "ge" | "gt" | "le" | "lt") {
                        op = Some(w);
                        continue;
                    }
                    let (lo, hi) = parse_int_range(w)
                        .ok_or_else(|| format!("'{w}' is not an integer or range"))?;
                    let r = match op {
                        None | Some("eq") => (lo, hi),
                        Some("ge") => (lo, i64::MAX),
                        Some("gt") => (lo.saturating_add(1), i64::MAX),
                        Some("le") => (i64::MIN, hi),
                        _ => (i64::MIN, hi.saturating_sub(1)),
                    };
                    pats.push(Pat::Range(r.0, r.1));
                }
            }
            MatchMethod::Ip => {
                for w in words {
                    let (ip, bits) = parse_net(w).ok_or_else(|| {
                        format!("'{w}' is not an IP address or network (names are not resolved)")
                    })?;
                    pats.push(Pat::Net(ip, bits));
                }
            }
            MatchMethod::Bin => {
                for w in words {
                    let b = crate::conv::unhex(w.as_bytes())
                        .ok_or_else(|| format!("'{w}' is not hexadecimal"))?;
                    pats.push(Pat::Bytes(b));
                }
            }
            MatchMethod::Reg => {
                for w in words {
                    pats.push(Pat::Reg(crate::regex_util::compile(w, icase)?));
                }
            }
            _ => pats.extend(words.iter().map(|w| Pat::Bytes(w.as_bytes().to_vec()))),
        }
        let exact = (method == MatchMethod::Str).then(|| {
            let mut m = HashMap::with_capacity(pats.len());
            for (i, p) in pats.iter().enumerate() {
                if let Pat::Bytes(b) = p {
                    let k = if icase {
                        b.to_ascii_lowercase()
                    } else {
                        b.clone()
                    };
                    m.entry(k).or_insert(i);
                }
            }
            m
        });
        Ok(PatternSet {
            method,
            icase,
            pats,
            exact,
        })
    }

    pub fn matches(&self, s: &Sample<'_>) -> bool {
        match self.method {
            MatchMethod::Found => true,
            MatchMethod::Bool => s.to_bool(),
            _ => self.find(s).is_some(),
        }
    }

    /// Index of the first pattern matching `s`.
    pub fn find(&self, s: &Sample<'_>) -> Option<usize> {
        let icase = self.icase;
        match self.method {
            MatchMethod::Found | MatchMethod::Bool => self.matches(s).then_some(0),
            MatchMethod::Int | MatchMethod::Len => {
                let v = if self.method == MatchMethod::Len {
                    s.to_bytes().len() as i64
                } else {
                    s.to_int()?
                };
                self.pats
                    .iter()
                    .position(|p| matches!(p, Pat::Range(lo, hi) if (*lo..=*hi).contains(&v)))
            }
            MatchMethod::Ip => {
                // The most specific network wins (HAProxy keeps IP keys in a tree),
                // the first one among equals.
                let ip = s.to_ip()?;
                let mut best: Option<(usize, u8)> = None;
                for (i, p) in self.pats.iter().enumerate() {
                    if let Pat::Net(n, b) = p {
                        if net_contains(*n, *b, ip) && best.is_none_or(|(_, bb)| *b > bb) {
                            best = Some((i, *b));
                        }
                    }
                }
                best.map(|(i, _)| i)
            }
            MatchMethod::Str => {
                let b = s.to_bytes();
                // Few patterns: a scan, without lower-casing the sample into a new buffer.
                if self.pats.len() <= 8 {
                    return self
                        .pats
                        .iter()
                        .position(|p| matches!(p, Pat::Bytes(p) if eq(&b, p, icase)));
                }
                let exact = self.exact.as_ref()?;
                if icase {
                    exact.get(&b.to_ascii_lowercase()).copied()
                } else {
                    exact.get(b.as_ref()).copied()
                }
            }
            MatchMethod::Reg => {
                let b = s.to_bytes();
                self.pats
                    .iter()
                    .position(|p| matches!(p, Pat::Reg(r) if r.is_match(&b)))
            }
            m => {
                let b = s.to_bytes();
                let b: &[u8] = &b;
                self.pats.iter().position(|p| {
                    let Pat::Bytes(p) = p else { return false };
                    match m {
                        MatchMethod::Bin => b == p.as_slice(),
                        MatchMethod::Sub => contains(b, p, icase),
                        MatchMethod::Beg => b.len() >= p.len() && eq(&b[..p.len()], p, icase),
                        MatchMethod::End => {
                            b.len() >= p.len() && eq(&b[b.len() - p.len()..], p, icase)
                        }
                        MatchMethod::Dir => word_match(b, p, b"/?", icase),
                        MatchMethod::Dom => word_match(b, p, b"/?.:", icase),
                        _ => false,
                    }
                })
            }
        }
    }
}

fn name(m: MatchMethod) -> &'static str {
    MatchMethod::ALL
        .iter()
        .find(|(_, x)| *x == m)
        .map_or("?", |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(m: MatchMethod, icase: bool, w: &[&str]) -> PatternSet {
        PatternSet::compile(
            m,
            icase,
            &w.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn dom_and_dir_match_whole_words() {
        let d = set(MatchMethod::Dom, true, &["blog.itnihao.cn"]);
        assert!(d.matches(&Sample::str(b"blog.itnihao.cn")));
        assert!(d.matches(&Sample::str(b"X.Blog.itnihao.cn:8080")));
        assert!(!d.matches(&Sample::str(b"myblog.itnihao.cn")));
        let d = set(MatchMethod::Dir, false, &["/img/"]);
        assert!(d.matches(&Sample::str(b"/static/img/a.png")));
        assert!(!d.matches(&Sample::str(b"/static/images/a.png")));
    }

    #[test]
    fn int_operators_and_ranges() {
        let s = set(MatchMethod::Int, false, &["lt", "2"]);
        assert!(s.matches(&Sample::Int(1)));
        assert!(!s.matches(&Sample::Int(2)));
        let s = set(MatchMethod::Int, false, &["10:20", "30:"]);
        assert!(
            s.matches(&Sample::Int(15))
                && s.matches(&Sample::Int(99))
                && !s.matches(&Sample::Int(25))
        );
        assert!(PatternSet::compile(MatchMethod::Int, false, &["x".into()]).is_err());
    }

    #[test]
    fn ip_networks_cover_both_families() {
        let s = set(
            MatchMethod::Ip,
            false,
            &["127.0.0.1/8", "::1", "10.0.0.0/255.0.0.0"],
        );
        assert!(s.matches(&Sample::Ip("127.9.9.9".parse().unwrap())));
        assert!(s.matches(&Sample::Ip("::ffff:10.1.2.3".parse().unwrap())));
        assert!(s.matches(&Sample::Ip("::1".parse().unwrap())));
        assert!(!s.matches(&Sample::Ip("192.168.0.1".parse().unwrap())));
        assert!(s.matches(&Sample::str(b"10.0.0.7")));
    }

    use proptest::prelude::*;

    /// Reference for `dom`: the pattern's tokens appear consecutively among the
    /// sample's tokens (both split on the domain delimiters).
    fn dom_reference(s: &str, p: &str) -> bool {
        let split = |x: &str| -> Vec<String> {
            x.split(|c| "/?.:".contains(c))
                .map(str::to_ascii_lowercase)
                .collect()
        };
        let pt: Vec<String> = split(p).into_iter().skip_while(String::is_empty).collect();
        let mut pt = pt;
        while pt.last().is_some_and(String::is_empty) {
            pt.pop();
        }
        if pt.is_empty() || pt.iter().any(String::is_empty) {
            return false;
        }
        let st = split(s);
        st.windows(pt.len()).any(|w| w == pt.as_slice())
    }

    proptest! {
        #[test]
        fn string_methods_match_their_reference(s in "[a-cA-C.]{0,8}", p in "[a-cA-C.]{1,3}", icase: bool) {
            let (ls, lp) = if icase { (s.to_ascii_lowercase(), p.to_ascii_lowercase()) } else { (s.clone(), p.clone()) };
            let sample = Sample::str(s.as_bytes());
            let m = |method| PatternSet::compile(method, icase, std::slice::from_ref(&p)).unwrap().matches(&sample);
            prop_assert_eq!(m(MatchMethod::Str), ls == lp);
            prop_assert_eq!(m(MatchMethod::Beg), ls.starts_with(&lp));
            prop_assert_eq!(m(MatchMethod::End), ls.ends_with(&lp));
            prop_assert_eq!(m(MatchMethod::Sub), ls.contains(&lp));
            if icase && !p.contains("..") {
                prop_assert_eq!(m(MatchMethod::Dom), dom_reference(&s, &p), "{} in {}", p, s);
            }
        }

        #[test]
        fn exact_match_is_the_same_for_small_and_large_sets(words in prop::collection::vec("[a-cA-C]{1,3}", 1..20), probe in "[a-cA-C]{1,3}", icase: bool) {
            let small = PatternSet::compile(MatchMethod::Str, icase, &words[..words.len().min(8)]).unwrap();
            let want_small = words[..words.len().min(8)].iter().position(|w| eq(w.as_bytes(), probe.as_bytes(), icase));
            prop_assert_eq!(small.find(&Sample::str(probe.as_bytes())), want_small);
            let large = PatternSet::compile(MatchMethod::Str, icase, &words).unwrap();
            let want = words.iter().position(|w| eq(w.as_bytes(), probe.as_bytes(), icase));
            prop_assert_eq!(large.find(&Sample::str(probe.as_bytes())), want);
        }

        #[test]
        fn ipv4_networks_match_masked_bits(addr: u32, net: u32, bits in 0u8..=32) {
            let pat = format!("{}/{bits}", std::net::Ipv4Addr::from(net));
            let set = PatternSet::compile(MatchMethod::Ip, false, &[pat]).unwrap();
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            let ip = IpAddr::V4(addr.into());
            prop_assert_eq!(set.matches(&Sample::Ip(ip)), addr & mask == net & mask);
        }

        #[test]
        fn int_ranges_match_their_bounds(v: i64, lo in -1000i64..1000, len in 0i64..1000) {
            let hi = lo + len;
            let set = PatternSet::compile(MatchMethod::Int, false, &[format!("{lo}:{hi}")]).unwrap();
            prop_assert_eq!(set.matches(&Sample::Int(v)), lo <= v && v <= hi);
            let ge = PatternSet::compile(MatchMethod::Int, false, &["ge".into(), lo.to_string()]).unwrap();
            prop_assert_eq!(ge.matches(&Sample::Int(v)), v >= lo);
        }
    }
}
