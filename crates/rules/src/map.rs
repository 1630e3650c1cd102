//! Map files (`map*` converters): `key value` lines read once at load.

use std::borrow::Cow;

use fulcrum_config::rules::MatchMethod;

use crate::pattern::{Pat, PatternSet};
use crate::value::Sample;

/// The output type of a map (`map_<match>_<out>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapOut {
    Str,
    Int,
    Ip,
}

impl MapOut {
    pub(crate) fn convert(self, v: &[u8]) -> Option<Sample<'static>> {
        let s = Sample::owned_str(v.to_vec());
        match self {
            MapOut::Str => Some(s),
            MapOut::Int => s.to_int().map(Sample::Int),
            MapOut::Ip => s.to_ip().map(Sample::Ip),
        }
    }
}

/// How a map converter name matches keys: (method, `regm`, output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MapKind {
    pub method: MatchMethod,
    pub regm: bool,
}

pub(crate) fn kinds(name: &str) -> (MapKind, MapOut) {
    let rest = name.strip_prefix("map_").unwrap_or("str");
    let (m, out) = rest.split_once('_').unwrap_or((rest, "str"));
    let out = match out {
        "int" => MapOut::Int,
        "ip" => MapOut::Ip,
        _ => MapOut::Str,
    };
    let regm = m == "regm";
    let method = if regm {
        MatchMethod::Reg
    } else {
        MatchMethod::from_name(m).unwrap_or(MatchMethod::Str)
    };
    (MapKind { method, regm }, out)
}

/// One loaded map: keys as patterns, values in the same order.
#[derive(Clone, Debug)]
pub struct MapFile {
    keys: PatternSet,
    values: Vec<Vec<u8>>,
    regm: bool,
}

/// Splits map text into (key, value) pairs; `#` lines and blank lines skipped.
pub(crate) fn parse_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k.to_string(), v.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

impl MapFile {
    pub(crate) fn parse(text: &str, kind: MapKind) -> Result<MapFile, String> {
        let entries = parse_entries(text);
        let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
        let keys = PatternSet::compile(kind.method, false, &keys)?;
        Ok(MapFile {
            keys,
            values: entries.into_iter().map(|(_, v)| v.into_bytes()).collect(),
            regm: kind.regm,
        })
    }

    /// The value for the first key matching `s` (with `\N` references for `map_regm`).
    pub(crate) fn lookup(&self, s: &Sample<'_>, out: MapOut) -> Option<Sample<'static>> {
        let i = self.keys.find(s)?;
        let v = self.values.get(i)?;
        let v: Cow<'_, [u8]> = match (&self.keys.pats[i], self.regm) {
            (Pat::Reg(re), true) => {
                let input = s.to_bytes();
                let caps = re.captures(&input)?;
                let mut o = Vec::new();
                crate::regex_util::expand(&caps, v, &mut o);
                Cow::Owned(o)
            }
            _ => Cow::Borrowed(v),
        };
        out.convert(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_kind() {
        let (k, out) = kinds("map_beg");
        let m = MapFile::parse("# hosts\n/api  bk_api\n/     bk_web\n", k).unwrap();
        assert_eq!(
            m.lookup(&Sample::str(b"/api/v1"), out),
            Some(Sample::owned_str(b"bk_api".to_vec()))
        );
        assert_eq!(
            m.lookup(&Sample::str(b"/x"), out),
            Some(Sample::owned_str(b"bk_web".to_vec()))
        );
        let (k, out) = kinds("map_ip_int");
        let m = MapFile::parse("10.0.0.0/8 1\n192.168.0.0/16 2\n10.1.0.0/16 3\n", k).unwrap();
        // The most specific network wins, not the first listed.
        assert_eq!(
            m.lookup(&Sample::Ip("10.1.2.3".parse().unwrap()), out),
            Some(Sample::Int(3))
        );
        assert_eq!(
            m.lookup(&Sample::Ip("10.2.2.3".parse().unwrap()), out),
            Some(Sample::Int(1))
        );
        assert_eq!(
            m.lookup(&Sample::Ip("192.168.3.4".parse().unwrap()), out),
            Some(Sample::Int(2))
        );
        assert_eq!(m.lookup(&Sample::Ip("8.8.8.8".parse().unwrap()), out), None);
        let (k, out) = kinds("map_regm");
        let m = MapFile::parse(r"^/u/([0-9]+)$ user-\1", k).unwrap();
        assert_eq!(
            m.lookup(&Sample::str(b"/u/42"), out),
            Some(Sample::owned_str(b"user-42".to_vec()))
        );
    }
}
