//! Cookie header scanning as HAProxy does it: `NAME=VALUE` pairs separated by `;`
//! or `,`, blanks allowed around names, `=` and values, quoted values kept whole,
//! `$Attr` pairs of RFC 2109 belonging to the cookie before them.

/// One `NAME[=VALUE]` of a header, as byte offsets into the header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    /// Where this item's part of the header starts: 0 for the first, else the
    /// delimiter before it.
    pub prev: usize,
    pub name: (usize, usize),
    /// Offset of `=`, when there is one.
    pub equal: Option<usize>,
    /// The value without surrounding blanks (empty when no `=`).
    pub value: (usize, usize),
    /// Offset of the delimiter after the item, or the header's length.
    pub next: usize,
}

impl Item {
    pub fn name<'a>(&self, h: &'a [u8]) -> &'a [u8] {
        &h[self.name.0..self.name.1]
    }
    pub fn value<'a>(&self, h: &'a [u8]) -> &'a [u8] {
        &h[self.value.0..self.value.1]
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The end of a cookie value starting at `from`: the first `;` or `,` outside
/// double quotes (a backslash escapes one character inside quotes).
pub fn value_end(h: &[u8], from: usize) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    let mut i = from;
    while i < h.len() {
        let b = h[i];
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b';' || b == b',' {
            return i;
        }
        i += 1;
    }
    i
}

/// Scans the item whose part starts at `prev` (`first`: at the header start).
/// `set_cookie`: only `;` ends a name, as in a `Set-Cookie` header.
fn scan(h: &[u8], prev: usize, first: bool, set_cookie: bool) -> Item {
    let mut att_beg = if first { prev } else { prev + 1 };
    while att_beg < h.len() && is_blank(h[att_beg]) {
        att_beg += 1;
    }
    let (mut equal, mut att_end) = (att_beg, att_beg);
    while equal < h.len() {
        let b = h[equal];
        if b == b'=' || b == b';' || (!set_cookie && b == b',') {
            break;
        }
        equal += 1;
        if !is_blank(b) {
            att_end = equal;
        }
    }
    if equal < h.len() && h[equal] == b'=' {
        let mut val_beg = equal + 1;
        while val_beg < h.len() && is_blank(h[val_beg]) {
            val_beg += 1;
        }
        let next = value_end(h, val_beg);
        let mut val_end = next;
        while val_end > val_beg && is_blank(h[val_end - 1]) {
            val_end -= 1;
        }
        Item {
            prev,
            name: (att_beg, att_end),
            equal: Some(equal),
            value: (val_beg, val_end),
            next,
        }
    } else {
        Item {
            prev,
            name: (att_beg, att_end),
            equal: None,
            value: (equal, equal),
            next: equal,
        }
    }
}

/// The items of a `Cookie` header value, in order. Allocation-free.
pub fn items(h: &[u8]) -> impl Iterator<Item = Item> + '_ {
    let mut prev = 0;
    let mut first = true;
    std::iter::from_fn(move || {
        if prev >= h.len() {
            return None;
        }
        let it = scan(h, prev, first, false);
        // A later item starts past its delimiter (prev + 1), so `next` always
        // advances after the first item.
        first = false;
        prev = it.next;
        Some(it)
    })
}

/// The cookie of a `Set-Cookie` header value: only its first pair is a cookie, the
/// rest are attributes.
pub fn set_cookie_item(h: &[u8]) -> Option<Item> {
    let it = scan(h, 0, true, true);
    it.equal.map(|_| it)
}

/// The value of cookie `name` in a `Cookie` header value, without allocating
/// (the first occurrence, as HAProxy's persistence reads it).
pub fn find<'a>(h: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    items(h)
        .find(|it| it.equal.is_some() && it.name(h) == name)
        .map(|it| it.value(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_values_with_blanks_and_quotes() {
        let h = b"a=1; SRV = web1 ;q=\"x;y\", c";
        assert_eq!(find(h, b"SRV"), Some(&b"web1"[..]));
        assert_eq!(find(h, b"q"), Some(&b"\"x;y\""[..]));
        assert_eq!(find(h, b"c"), None);
        assert_eq!(find(b"", b"a"), None);
    }

    #[test]
    fn set_cookie_reads_only_the_first_pair() {
        let h = b"JSESSIONID=abc; Path=/; Expires=Thu, 01-Jan-1970 00:00:01 GMT";
        let it = set_cookie_item(h).unwrap();
        assert_eq!(it.name(h), b"JSESSIONID");
        assert_eq!(it.value(h), b"abc");
        assert!(set_cookie_item(b"novalue; Path=/").is_none());
    }

    proptest! {
        #[test]
        fn items_are_ordered_and_in_bounds(h in proptest::collection::vec(prop_oneof![Just(b';'), Just(b','), Just(b'='), Just(b' '), Just(b'"'), Just(b'a'), Just(b'$')], 0..60)) {
            let mut last = 0;
            let mut n = 0;
            for it in items(&h) {
                prop_assert!(it.prev >= last);
                prop_assert!(it.name.0 <= it.name.1 && it.name.1 <= h.len());
                prop_assert!(it.value.0 <= it.value.1 && it.value.1 <= it.next && it.next <= h.len());
                last = it.prev;
                n += 1;
                prop_assert!(n <= h.len() + 1);
            }
        }
    }
}
