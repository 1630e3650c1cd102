//! `userlist` users and groups, checked against HTTP Basic credentials
//! (configuration.txt §3.4). Passwords are crypt(3) hashes or `insecure-password`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// A crypt(3) string: `$6$…` (SHA-512), `$5$…` (SHA-256), `$1$…` (MD5), DES.
    Crypt(String),
    /// `insecure-password`: compared as is.
    Insecure(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct User {
    name: String,
    password: Password,
    groups: Vec<String>,
}

/// One `userlist` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Userlist {
    pub name: String,
    users: Vec<User>,
    /// `group NAME users a,b`.
    groups: Vec<(String, Vec<String>)>,
}

/// Userlists by name, shared by every compiled rule that names one.
pub type Userlists = HashMap<String, Arc<Userlist>>;

impl Userlist {
    pub fn new(name: impl Into<String>) -> Self {
        Userlist {
            name: name.into(),
            ..Default::default()
        }
    }

    /// `user NAME password|insecure-password P [groups g1,g2]`.
    pub fn add_user(&mut self, name: impl Into<String>, password: Password, groups: Vec<String>) {
        self.users.push(User {
            name: name.into(),
            password,
            groups,
        });
    }

    /// `group NAME [users u1,u2]`.
    pub fn add_group(&mut self, name: impl Into<String>, users: Vec<String>) {
        self.groups.push((name.into(), users));
    }

    /// From the configuration model's `userlist` section. A user without password
    /// can never authenticate.
    pub fn from_model(ul: &fulcrum_config::model::sections::Userlist) -> Self {
        use fulcrum_config::model::sections::Password as P;
        let mut out = Userlist::new(ul.header.0.clone());
        for u in &ul.users {
            let password = match &u.password {
                P::Hashed(h) => Password::Crypt(h.clone()),
                P::Insecure(p) => Password::Insecure(p.clone()),
                // A crypt string that no password hashes to.
                P::None => Password::Crypt("*".into()),
            };
            out.add_user(u.name.clone(), password, u.groups.clone());
        }
        for g in &ul.groups {
            out.add_group(g.name.clone(), g.users.clone());
        }
        out
    }

    /// Whether `user` exists and `pass` is its password.
    pub fn check(&self, user: &[u8], pass: &[u8]) -> bool {
        self.users.iter().any(|u| {
            u.name.as_bytes() == user
                && match &u.password {
                    Password::Insecure(p) => constant_eq(p.as_bytes(), pass),
                    Password::Crypt(h) => pwhash::unix::verify(pass, h),
                }
        })
    }

    pub fn user_in_group(&self, user: &[u8], group: &str) -> bool {
        let by_user = self
            .users
            .iter()
            .any(|u| u.name.as_bytes() == user && u.groups.iter().any(|g| g == group));
        by_user
            || self
                .groups
                .iter()
                .any(|(g, users)| g == group && users.iter().any(|u| u.as_bytes() == user))
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Authorization: Basic …` → (user, password).
pub(crate) fn basic_credentials(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at(value.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)] // MD5/SHA-256 crypt are what old userlists hold
    fn each_hash_kind_verifies() {
        let mut ul = Userlist::new("ul");
        let sha512 = pwhash::sha512_crypt::hash("s512").unwrap();
        let sha256 = pwhash::sha256_crypt::hash("s256").unwrap();
        let md5 = pwhash::md5_crypt::hash("m5").unwrap();
        ul.add_user("a", Password::Crypt(sha512), vec![]);
        ul.add_user("b", Password::Crypt(sha256), vec!["ops".into()]);
        ul.add_user("c", Password::Crypt(md5), vec![]);
        ul.add_user("d", Password::Insecure("plain".into()), vec![]);
        ul.add_group("admins", vec!["a".into()]);
        assert!(ul.check(b"a", b"s512"));
        assert!(!ul.check(b"a", b"s513"));
        assert!(ul.check(b"b", b"s256"));
        assert!(!ul.check(b"b", b"s512"));
        assert!(ul.check(b"c", b"m5"));
        assert!(ul.check(b"d", b"plain"));
        assert!(!ul.check(b"d", b"plaim"));
        assert!(!ul.check(b"x", b"plain"));
        assert!(ul.user_in_group(b"a", "admins"));
        assert!(ul.user_in_group(b"b", "ops"));
        assert!(!ul.user_in_group(b"b", "admins"));
    }

    #[test]
    fn model_userlist_converts() {
        use fulcrum_config::diag::Span;
        use fulcrum_config::model::sections as m;
        let span = Span::new("t.cfg", 1);
        let ul = m::Userlist {
            header: ("L".into(), span.clone()),
            groups: vec![m::Group {
                name: "g".into(),
                users: vec!["bob".into()],
                span: span.clone(),
            }],
            users: vec![
                m::User {
                    name: "bob".into(),
                    password: m::Password::Insecure("pw".into()),
                    groups: vec![],
                    span: span.clone(),
                },
                m::User {
                    name: "nopw".into(),
                    password: m::Password::None,
                    groups: vec![],
                    span,
                },
            ],
        };
        let ul = Userlist::from_model(&ul);
        assert_eq!(ul.name, "L");
        assert!(ul.check(b"bob", b"pw") && ul.user_in_group(b"bob", "g"));
        assert!(!ul.check(b"nopw", b"") && !ul.check(b"nopw", b"*"));
    }

    #[test]
    fn basic_header_decodes() {
        // "user:pa:ss" — the password may itself hold a colon.
        let (u, p) = basic_credentials(b"Basic dXNlcjpwYTpzcw==").unwrap();
        assert_eq!((u.as_slice(), p.as_slice()), (&b"user"[..], &b"pa:ss"[..]));
        assert!(basic_credentials(b"Bearer abc").is_none());
    }
}
