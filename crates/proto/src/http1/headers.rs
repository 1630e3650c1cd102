//! Header lookups over a parsed head, with HAProxy's `hdr()` / `fhdr()` semantics.

use super::HeaderEntry;

/// Trims optional whitespace (SP / HT) on both ends.
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &v[start..end]
}

/// Comma-separated elements of a list header, trimmed, empty ones skipped.
/// Commas inside double quotes (with `\` escapes) do not split, as in HAProxy.
pub fn comma_elements(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = v;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = element_end(rest);
        let elem = trim_ows(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if !elem.is_empty() {
            return Some(elem);
        }
    })
}

fn element_end(v: &[u8]) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in v.iter().enumerate() {
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
        } else if b == b',' {
            return i;
        }
    }
    v.len()
}

/// Picks occurrence `occ` from an iterator: `1` is the first, `-1` (and `0`,
/// HAProxy's default for fetches) the last, `-2` the one before it.
fn pick<'a, I>(mut make: impl FnMut() -> I, occ: i32) -> Option<&'a [u8]>
where
    I: Iterator<Item = &'a [u8]>,
{
    if occ > 0 {
        return make().nth(occ as usize - 1);
    }
    let back = if occ == 0 {
        1
    } else {
        occ.unsigned_abs() as usize
    };
    let count = make().count();
    if back > count {
        return None;
    }
    make().nth(count - back)
}

/// The headers of one parsed head, resolved against its buffer.
#[derive(Clone, Copy, Debug)]
pub struct Headers<'a> {
    buf: &'a [u8],
    entries: &'a [HeaderEntry],
}

impl<'a> Headers<'a> {
    pub fn new(buf: &'a [u8], entries: &'a [HeaderEntry]) -> Self {
        Headers { buf, entries }
    }

    /// Every `(name, value)` in order of appearance.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let buf = self.buf;
        self.entries
            .iter()
            .map(move |h| (h.name.get(buf), h.value.get(buf)))
    }

    /// Whole values of every occurrence of `name` (case-insensitive).
    pub fn get_all<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whole value of the first occurrence of `name`.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Comma-separated elements over all occurrences of `name`, in order.
    pub fn values<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.get_all(name).flat_map(comma_elements)
    }

    /// HAProxy's `hdr(name,occ)`: one comma-separated element.
    pub fn hdr(&self, name: &[u8], occ: i32) -> Option<&'a [u8]> {
        pick(|| self.values(name), occ)
    }

    /// HAProxy's `fhdr(name,occ)`: one whole header value, commas included.
    pub fn fhdr(&self, name: &[u8], occ: i32) -> Option<&'a [u8]> {
        pick(|| self.get_all(name), occ)
    }

    /// HAProxy's `hdr_cnt(name)`: number of comma-separated elements.
    pub fn hdr_cnt(&self, name: &[u8]) -> usize {
        self.values(name).count()
    }

    /// HAProxy's `fhdr_cnt(name)`: number of header lines.
    pub fn fhdr_cnt(&self, name: &[u8]) -> usize {
        self.get_all(name).count()
    }

    /// Every `(name, value)` pair of the `Cookie` headers, in order.
    pub fn cookies(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let buf = self.buf;
        self.entries
            .iter()
            .filter(move |h| h.name.get(buf).eq_ignore_ascii_case(b"cookie"))
            .flat_map(move |h| h.value.get(buf).split(|&b| b == b';'))
            .filter_map(|pair| {
                let pair = trim_ows(pair);
                let eq = pair.iter().position(|&b| b == b'=')?;
                Some((trim_ows(&pair[..eq]), trim_ows(&pair[eq + 1..])))
            })
    }

    /// HAProxy's `req.cook(name)`: the value of the last cookie called `name`
    /// (cookie names are case-sensitive).
    pub fn cookie(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.cookies()
            .filter(|(n, _)| *n == name)
            .last()
            .map(|(_, v)| v)
    }
}
