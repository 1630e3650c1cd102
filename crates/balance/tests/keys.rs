//! Key extraction on arbitrary input: never panics, returns a piece of its
//! input, and finds what was put there.

use fulcrum_balance::keys::{
    body_param, domain_only, first_header_value, rdp_cookie, uri_key, uri_path, url_param,
};
use fulcrum_balance::UriOpts;
use proptest::prelude::*;

/// Whether `part` lies inside `whole` (the functions return sub-slices).
fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    part.is_empty() || (p >= w && p + part.len() <= w + whole.len())
}

fn uri_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "(/[a-z]{0,4}){0,5}(\\?([a-z]{1,3}=[a-z0-9]{0,4}&?){0,4})?".prop_map(String::into_bytes),
        "https?://[a-z.]{1,8}(:[0-9]{2})?(/[a-z]{0,4}){0,3}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn uri_key_is_a_bounded_prefix(
        uri in uri_bytes(),
        len in proptest::option::of(0u32..20),
        depth in proptest::option::of(0u32..4),
        whole in any::<bool>(),
        path_only in any::<bool>(),
    ) {
        let o = UriOpts { len, depth, whole, path_only };
        let k = uri_key(&uri, &o);
        let base = if path_only { uri_path(&uri) } else { &uri[..] };
        prop_assert!(inside(k, &uri));
        prop_assert!(base.starts_with(k));
        if let Some(l) = len.filter(|&l| l > 0) {
            prop_assert!(k.len() <= l as usize);
        }
        if !whole {
            prop_assert!(!k.contains(&b'?'));
        }
        if let Some(d) = depth {
            prop_assert!(k.iter().filter(|&&c| c == b'/').count() <= d as usize);
        }
    }

    #[test]
    fn url_param_finds_the_first_exact_parameter(
        params in prop::collection::vec(("[a-c]{1,3}", "[a-z0-9%]{0,6}"), 0..6),
        name in "[a-c]{1,3}",
    ) {
        let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let uri = format!("/p?{}", q.join("&"));
        let want = params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_bytes());
        prop_assert_eq!(url_param(uri.as_bytes(), name.as_bytes()), want);
        let body = q.join("&");
        prop_assert_eq!(body_param(body.as_bytes(), name.as_bytes()), want);
    }

    #[test]
    fn parsers_never_panic_and_return_slices_of_their_input(
        v in prop::collection::vec(any::<u8>(), 0..80), name in "[a-zA-Z]{0,8}"
    ) {
        for r in [
            url_param(&v, name.as_bytes()),
            body_param(&v, name.as_bytes()),
            first_header_value(&v),
            rdp_cookie(&v, name.as_bytes()),
            Some(domain_only(&v)),
            Some(uri_path(&v)),
        ].into_iter().flatten() {
            prop_assert!(inside(r, &v));
        }
    }

    #[test]
    fn rdp_cookie_reads_back_the_user(user in "[A-Za-z0-9._@-]{1,20}", any_case in any::<bool>()) {
        let cookie = if any_case { "cOOKIE: MSTSHASH=" } else { "Cookie: mstshash=" };
        let mut p = vec![3u8, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        p.extend_from_slice(format!("{cookie}{user}\r\n").as_bytes());
        prop_assert_eq!(rdp_cookie(&p, b"mstshash"), Some(user.as_bytes()));
        prop_assert_eq!(rdp_cookie(&p, b""), Some(user.as_bytes()));
        // Cut before the line ends: not complete yet.
        prop_assert_eq!(rdp_cookie(&p[..p.len() - 1], b"mstshash"), None);
    }

    #[test]
    fn domain_only_takes_the_label_before_the_last_dot(
        labels in prop::collection::vec("[a-z0-9]{1,6}", 2..5)
    ) {
        let host = labels.join(".");
        let want = labels[labels.len() - 2].as_bytes();
        prop_assert_eq!(domain_only(host.as_bytes()), want);
    }

    #[test]
    fn first_header_value_is_trimmed_and_has_no_bare_comma(
        parts in prop::collection::vec("[ a-z]{0,5}", 1..4)
    ) {
        let v = parts.join(",");
        match first_header_value(v.as_bytes()) {
            Some(f) => {
                prop_assert_eq!(f, parts[0].trim().as_bytes());
                prop_assert!(!f.contains(&b','));
            }
            None => prop_assert!(parts[0].trim().is_empty()),
        }
    }
}
