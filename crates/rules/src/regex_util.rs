//! Regexes compiled once at load, and HAProxy's `\N` back-reference replacement.

use regex::bytes::{Captures, Regex, RegexBuilder};

/// PCRE constructs the `regex` crate does not offer, named for the error message.
const PCRE_ONLY: &[(&str, &str)] = &[
    ("(?<=", "look-behind '(?<=…)'"),
    ("(?<!", "negative look-behind '(?<!…)'"),
    ("(?=", "look-ahead '(?=…)'"),
    ("(?!", "negative look-ahead '(?!…)'"),
    ("(?>", "atomic group '(?>…)'"),
    ("(?R", "recursion '(?R)'"),
    ("*+", "possessive quantifier '*+'"),
    ("++", "possessive quantifier '++'"),
    ("?+", "possessive quantifier '?+'"),
    ("\\G", "anchor '\\G'"),
];

/// Compiles `pattern`; an error names the PCRE-only construct when there is one.
pub(crate) fn compile(pattern: &str, icase: bool) -> Result<Regex, String> {
    match RegexBuilder::new(pattern).case_insensitive(icase).build() {
        Ok(r) => Ok(r),
        Err(e) => {
            let backref = pattern
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'\\' && w[1].is_ascii_digit() && w[1] != b'0');
            if let Some((_, name)) = PCRE_ONLY.iter().find(|(s, _)| pattern.contains(s)) {
                Err(format!(
                    "regex '{pattern}' uses the PCRE-only {name}, which Fulcrum does not support"
                ))
            } else if backref {
                Err(format!("regex '{pattern}' uses a PCRE-only back-reference ('\\1'…), which Fulcrum does not support"))
            } else {
                let first = e.to_string();
                let line = first
                    .lines()
                    .last()
                    .unwrap_or("invalid regex")
                    .trim()
                    .to_string();
                Err(format!("invalid regex '{pattern}': {line}"))
            }
        }
    }
}

/// Writes `template` with `\0`…`\9` replaced by the captured groups.
pub(crate) fn expand(caps: &Captures<'_>, template: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = template.get(i) {
        if b == b'\\' {
            if let Some(d) = template.get(i + 1).filter(|d| d.is_ascii_digit()) {
                if let Some(m) = caps.get(usize::from(d - b'0')) {
                    out.extend_from_slice(m.as_bytes());
                }
                i += 2;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

/// Replaces the first (or every, with `global`) match of `re` in `input`.
pub(crate) fn replace(re: &Regex, input: &[u8], template: &[u8], global: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut last = 0;
    for caps in re.captures_iter(input) {
        let Some(m) = caps.get(0) else { continue };
        out.extend_from_slice(&input[last..m.start()]);
        expand(&caps, template, &mut out);
        last = m.end();
        if !global {
            break;
        }
    }
    out.extend_from_slice(&input[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcre_constructs_are_named() {
        let e = compile("^(?=a)b", false).unwrap_err();
        assert!(e.contains("look-ahead"), "{e}");
        let e = compile(r"(a)\1", false).unwrap_err();
        assert!(e.contains("back-reference"), "{e}");
        assert!(compile(r"^/api/(.*)$", false).is_ok());
    }

    #[test]
    fn back_references_expand() {
        let re = compile("^/api/([a-z]+)/(.*)$", false).unwrap();
        assert_eq!(
            replace(&re, b"/api/users/12", br"/\2/\1", false),
            b"/12/users"
        );
        let re = compile("a", false).unwrap();
        assert_eq!(replace(&re, b"banana", b"o", true), b"bonono");
        assert_eq!(replace(&re, b"banana", b"o", false), b"bonana");
    }
}
