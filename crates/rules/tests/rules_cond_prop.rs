//! Property: compiled conditions decide exactly like a direct boolean reference evaluator.

mod common;

use proptest::prelude::*;

/// ACL k (0..4) is true when header `x{k}` is present; ACL 4 (`m`, two lines) is `x0 || x1`.
const ACLS: &str = "
acl a0 hdr(x0) -m found
acl a1 hdr(x1) -m found
acl a2 hdr(x2) -m found
acl a3 hdr(x3) -m found
acl m hdr(x0) -m found
acl m hdr(x1) -m found
";

#[derive(Clone, Debug)]
struct Term {
    neg: bool,
    /// 0..=4
    acl: usize,
    /// Written as `{ hdr(xK) -m found }` instead of its name (not for `m`).
    anonymous: bool,
    /// `!name` instead of `! name`.
    glued: bool,
}

fn term() -> impl Strategy<Value = Term> {
    (any::<bool>(), 0usize..5, any::<bool>(), any::<bool>()).prop_map(
        |(neg, acl, anonymous, glued)| Term {
            neg,
            acl,
            anonymous: anonymous && acl < 4,
            glued,
        },
    )
}

fn cond() -> impl Strategy<Value = (bool, Vec<Vec<Term>>, bool)> {
    (
        any::<bool>(),
        prop::collection::vec(prop::collection::vec(term(), 1..4), 1..4),
        any::<bool>(),
    )
}

fn render(unless: bool, groups: &[Vec<Term>], or_word: bool) -> String {
    let mut w = vec![if unless { "unless" } else { "if" }.to_string()];
    for (gi, g) in groups.iter().enumerate() {
        if gi > 0 {
            w.push(if or_word { "or" } else { "||" }.to_string());
        }
        for t in g {
            let name = if t.acl == 4 {
                "m".to_string()
            } else {
                format!("a{}", t.acl)
            };
            let body = if t.anonymous {
                format!("{{ hdr(x{}) -m found }}", t.acl)
            } else {
                name
            };
            match (t.neg, t.glued && !t.anonymous) {
                (true, true) => w.push(format!("!{body}")),
                (true, false) => w.push(format!("! {body}")),
                (false, _) => w.push(body),
            }
        }
    }
    w.join(" ")
}

fn reference(unless: bool, groups: &[Vec<Term>], bits: [bool; 4]) -> bool {
    let value = |k: usize| if k == 4 { bits[0] || bits[1] } else { bits[k] };
    groups
        .iter()
        .any(|g| g.iter().all(|t| value(t.acl) != t.neg))
        != unless
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn compiled_condition_matches_reference((unless, groups, or_word) in cond(), bits in any::<[bool; 4]>()) {
        let text = render(unless, &groups, or_word);
        let p = common::compile(&format!("{ACLS}monitor fail {text}\nhttp-request deny {text}"));
        let mut raw = String::from("GET / HTTP/1.1\n");
        for (k, on) in bits.iter().enumerate() {
            if *on {
                raw.push_str(&format!("X{k}: 1\n"));
            }
        }
        let mut v = common::Fake::request(&raw);
        let want = reference(unless, &groups, bits);
        prop_assert_eq!(fulcrum_rules::eval(&p.extra[0], &v), want, "{}", text);
        let denied = matches!(fulcrum_rules::run_http_request(&p.http_request, &mut v), fulcrum_rules::Verdict::Deny(_));
        prop_assert_eq!(denied, want, "{}", text);
    }
}
