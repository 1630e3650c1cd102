//! Log-format strings (configuration.txt §8.2.4), as used by `log-format`,
//! `unique-id-format` and every action argument that accepts `%[expr]`.
//!
//! OWNER: observe helper. Parsed once at load into [`LogFormat`]; rendered by
//! `fulcrum-observe`. Sample expressions are kept as text (fetch + converters)
//! for `fulcrum-rules` to compile: this crate does not evaluate them.
//!
//! Grammar, as HAProxy reads it:
//! - `%X` where `X` is a run of ASCII letters/digits naming a variable (§8.2.4 table);
//! - `%{+Q,-X}X`: the same with flags (`Q` quote, `X` hex, `E` escape);
//! - `%[expr]` / `%{+Q}[expr]`: a sample expression;
//! - `%{+Q}o`: flags that apply to every later variable;
//! - `%%`: a literal `%`;
//! - a run of spaces is one separator: it is emitted only after something
//!   non-empty, so a field that prints nothing (e.g. `%hr` without captures)
//!   does not leave a double space.

use std::fmt;

/// HAProxy's `option httplog` format.
pub const HTTPLOG: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
/// HAProxy's `option httplog clf` format.
pub const HTTPLOG_CLF: &str = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl";
/// HAProxy's `option tcplog` format.
pub const TCPLOG: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";
/// HAProxy's `option httpslog` format.
pub const HTTPSLOG: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc";

/// Per-variable output flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// `Q`: surround text fields with double quotes.
    pub quote: bool,
    /// `X`: hexadecimal for addresses, ports and some numbers.
    pub hex: bool,
    /// `E`: backslash-escape `"`, `\` and `]` in text fields.
    pub escape: bool,
}

impl Flags {
    fn is_empty(self) -> bool {
        !(self.quote || self.hex || self.escape)
    }
}

macro_rules! vars {
    ($($name:ident = $code:literal, $http:literal;)*) => {
        /// Every `%` variable of configuration.txt §8.2.4.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Var { $($name,)* }

        impl Var {
            /// All variables, in the manual's order.
            pub const ALL: &'static [Var] = &[$(Var::$name,)*];
            /// The name as written after `%`.
            pub fn code(self) -> &'static str {
                match self { $(Var::$name => $code,)* }
            }
            /// Variables HAProxy refuses outside HTTP mode (its keyword table,
            /// which differs from the manual's `H` marks for captures and `%tsc`).
            pub fn needs_http(self) -> bool {
                match self { $(Var::$name => $http,)* }
            }
            pub fn from_code(code: &str) -> Option<Var> {
                match code { $($code => Some(Var::$name),)* _ => None }
            }
        }
    };
}

vars! {
    // `%o` carries flags for later variables and prints nothing.
    FlagsForNext = "o", false;
    BytesRead = "B", false;
    CapturedRequestCookie = "CC", true;
    CapturedResponseCookie = "CS", true;
    Hostname = "H", false;
    HttpMethod = "HM", true;
    HttpPath = "HP", true;
    HttpPathOnly = "HPO", true;
    HttpQuery = "HQ", true;
    HttpUri = "HU", true;
    HttpVersion = "HV", true;
    UniqueId = "ID", false;
    StatusCode = "ST", false;
    GmtDate = "T", false;
    TimeActive = "Ta", true;
    TimeConnect = "Tc", false;
    TimeData = "Td", false;
    LocalDate = "Tl", false;
    TimeHandshake = "Th", false;
    TimeIdle = "Ti", true;
    TimeRequestTotal = "Tq", true;
    TimeRequest = "TR", true;
    TimeResponse = "Tr", true;
    Timestamp = "Ts", false;
    TimeTotal = "Tt", false;
    TimeUser = "Tu", false;
    TimeWait = "Tw", false;
    BytesUploaded = "U", false;
    ActConn = "ac", false;
    BackendName = "b", false;
    BeConn = "bc", false;
    BackendSourceIp = "bi", false;
    BackendSourcePort = "bp", false;
    BackendQueue = "bq", false;
    ClientIp = "ci", false;
    ClientPort = "cp", false;
    FrontendName = "f", false;
    FeConn = "fc", false;
    FrontendIp = "fi", false;
    FrontendPort = "fp", false;
    FrontendNameTransport = "ft", false;
    LogCounter = "lc", false;
    CapturedRequestHeaders = "hr", false;
    CapturedRequestHeadersList = "hrl", false;
    CapturedResponseHeaders = "hs", false;
    CapturedResponseHeadersList = "hsl", false;
    AcceptMillis = "ms", false;
    Pid = "pid", false;
    RequestLine = "r", true;
    Retries = "rc", false;
    RequestCounter = "rt", false;
    ServerName = "s", false;
    SrvConn = "sc", false;
    ServerIp = "si", false;
    ServerPort = "sp", false;
    SrvQueue = "sq", false;
    SslCipher = "sslc", false;
    SslVersion = "sslv", false;
    Date = "t", false;
    RequestDate = "tr", true;
    RequestGmtDate = "trg", true;
    RequestLocalDate = "trl", true;
    TermState = "ts", false;
    TermStateCookie = "tsc", false;
}

/// A `%[fetch,conv1,conv2(arg)]` expression, kept as text for the rules crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleExpr {
    /// The whole text between the brackets.
    pub text: String,
    /// The fetch with its arguments, e.g. `req.hdr(host)`.
    pub fetch: String,
    /// The converters in order, each with its arguments, e.g. `lower`, `field(1,:)`.
    pub converters: Vec<String>,
}

impl SampleExpr {
    fn new(text: &str) -> Result<SampleExpr, String> {
        let mut parts = split_top_level(text).into_iter();
        let fetch = parts.next().unwrap_or_default().trim().to_string();
        if fetch.is_empty() {
            return Err(format!("empty sample fetch in '%[{text}]'"));
        }
        let converters: Vec<String> = parts.map(|p| p.trim().to_string()).collect();
        if converters.iter().any(String::is_empty) {
            return Err(format!("empty converter in '%[{text}]'"));
        }
        Ok(SampleExpr {
            text: text.to_string(),
            fetch,
            converters,
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
}

/// One element of a log format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Verbatim text (never contains a space).
    Text(String),
    /// One or more spaces in the source: printed as one space when the
    /// line does not already end with one.
    Separator,
    /// A `%` variable with its effective flags (those of `%o` merged in).
    Var { var: Var, flags: Flags },
    /// A `%[…]` sample expression with its flags.
    Sample { expr: SampleExpr, flags: Flags },
}

/// A parsed log-format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFormat {
    pub source: String,
    pub items: Vec<Item>,
}

impl LogFormat {
    /// Parses a `log-format` / `log-format-sd` / `error-log-format` string,
    /// where runs of spaces are separators; `Err` carries a one-line reason.
    pub fn parse(text: &str) -> Result<LogFormat, String> {
        Self::parse_with(text, true)
    }

    /// Parses a format whose spaces are literal text, as HAProxy reads
    /// `unique-id-format` and the `%[…]` arguments of header actions.
    pub fn parse_text(text: &str) -> Result<LogFormat, String> {
        Self::parse_with(text, false)
    }

    fn parse_with(text: &str, merge_spaces: bool) -> Result<LogFormat, String> {
        Parser::new(text, merge_spaces)
            .run()
            .map(|items| LogFormat {
                source: text.to_string(),
                items,
            })
    }

    /// The sample expressions in order; the renderer's sample callback is
    /// called with an index into this list.
    pub fn samples(&self) -> impl Iterator<Item = &SampleExpr> {
        self.items.iter().filter_map(|i| match i {
            Item::Sample { expr, .. } => Some(expr),
            _ => None,
        })
    }

    /// Variables that only make sense in HTTP mode (HAProxy warns when a TCP
    /// proxy uses them).
    pub fn http_only_vars(&self) -> Vec<Var> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Var { var, .. } if var.needs_http() => Some(*var),
                _ => None,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// HAProxy refuses HTTP-only variables in a proxy that is not in HTTP
    /// mode; `Err` is its message for the first one found.
    pub fn check_mode(&self, http: bool) -> Result<(), String> {
        match self.http_only_vars().first() {
            Some(v) if !http => Err(format!(
                "format variable '{}' is reserved for HTTP mode",
                v.code()
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for LogFormat {
    /// A canonical form that parses back to the same items.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            match item {
                Item::Text(t) => f.write_str(&t.replace('%', "%%"))?,
                Item::Separator => f.write_str(" ")?,
                Item::Var { var, flags } => {
                    f.write_str("%")?;
                    write_flags(f, *flags)?;
                    f.write_str(var.code())?;
                }
                Item::Sample { expr, flags } => {
                    f.write_str("%")?;
                    write_flags(f, *flags)?;
                    write!(f, "[{}]", expr.text)?;
                }
            }
        }
        Ok(())
    }
}

fn write_flags(f: &mut fmt::Formatter<'_>, flags: Flags) -> fmt::Result {
    if flags.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    for (on, c) in [(flags.quote, 'Q'), (flags.hex, 'X'), (flags.escape, 'E')] {
        if on {
            parts.push(format!("+{c}"));
        }
    }
    write!(f, "{{{}}}", parts.join(","))
}

struct Parser<'a> {
    src: &'a str,
    merge_spaces: bool,
    pos: usize,
    items: Vec<Item>,
    text: String,
    /// Flags set by `%o`, applied to every later variable.
    default_flags: Flags,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, merge_spaces: bool) -> Self {
        Parser {
            src,
            merge_spaces,
            pos: 0,
            items: Vec::new(),
            text: String::new(),
            default_flags: Flags::default(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            self.items.push(Item::Text(std::mem::take(&mut self.text)));
        }
    }

    fn run(mut self) -> Result<Vec<Item>, String> {
        while let Some(c) = self.rest().chars().next() {
            match c {
                ' ' if self.merge_spaces => {
                    self.flush_text();
                    while self.rest().starts_with(' ') {
                        self.pos += 1;
                    }
                    // Leading spaces never print: HAProxy starts each line "after a space".
                    if !self.items.is_empty() && self.items.last() != Some(&Item::Separator) {
                        self.items.push(Item::Separator);
                    }
                }
                '%' => {
                    self.pos += 1;
                    match self.rest().chars().next() {
                        Some('%') => {
                            self.pos += 1;
                            self.text.push('%');
                        }
                        None => return Err("truncated line after '%'".into()),
                        Some(n) if n.is_ascii_digit() || n == ' ' || n == '\t' => {
                            return Err(format!(
                                "unexpected variable name near '{n}' at position {} line : '{}'. Maybe you want to write a single '%', use the syntax '%%'",
                                self.pos, self.src
                            ));
                        }
                        Some(n) if n == '{' || n == '[' || n.is_ascii_alphabetic() => {
                            self.flush_text();
                            self.percent()?;
                        }
                        // Any other character: the '%' is literal text.
                        Some(_) => self.text.push('%'),
                    }
                }
                _ => {
                    self.text.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
        self.flush_text();
        Ok(self.items)
    }

    /// After a `%`: optional `{flags}`, then a variable name or `[expr]`.
    fn percent(&mut self) -> Result<(), String> {
        let mut flags = self.default_flags;
        if self.rest().starts_with('{') {
            let body_end = self
                .rest()
                .find('}')
                .ok_or_else(|| format!("truncated line after '{}'", &self.rest()[1..]))?;
            let body = &self.rest()[1..body_end];
            apply_flags(body, &mut flags);
            self.pos += body_end + 1;
            let next = self.rest().chars().next();
            if !next.is_some_and(|c| c == '[' || c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "parse argument modifier without variable name near '%{{{body}}}'"
                ));
            }
        }
        if self.rest().starts_with('[') {
            let text_start = &self.rest()[1..];
            let len = closing_bracket(text_start).ok_or_else(|| {
                if text_start.is_empty() {
                    "truncated line after '['".to_string()
                } else {
                    format!("missing ']' after '{text_start}'")
                }
            })?;
            let text = &text_start[..len];
            self.pos += len + 2;
            let expr = SampleExpr::new(text)?;
            self.items.push(Item::Sample { expr, flags });
            return Ok(());
        }
        let name_len = self
            .rest()
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(self.rest().len());
        let name = &self.rest()[..name_len];
        let var = Var::from_code(name).ok_or_else(|| {
            format!(
                "no such format variable '{name}'. If you wanted to emit the '%' character verbatim, you need to use '%%'"
            )
        })?;
        self.pos += name_len;
        if var == Var::FlagsForNext {
            self.default_flags = flags;
        } else {
            self.items.push(Item::Var { var, flags });
        }
        Ok(())
    }
}

/// `+Q,-X`: comma-separated flags, each turned on by `+` or off by `-`.
/// As in HAProxy, the last `+`/`-` in a token wins (`+Q+X` sets only X)
/// and unknown names (`M`, typos) are ignored.
fn apply_flags(body: &str, flags: &mut Flags) {
    for token in body.split(',') {
        let Some(i) = token.rfind(['+', '-']) else {
            continue;
        };
        let on = token.as_bytes()[i] == b'+';
        match &token[i + 1..] {
            "Q" => flags.quote = on,
            "X" => flags.hex = on,
            "E" => flags.escape = on,
            _ => {}
        }
    }
}

/// Length of the expression up to its closing `]`: brackets nest, and text in
/// parentheses (converter arguments, regexes) is skipped.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut parens = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => parens += 1,
            ')' => parens = parens.saturating_sub(1),
            '[' if parens == 0 => depth += 1,
            ']' if parens == 0 => {
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn httplog_parses_with_quoted_request() {
        let f = LogFormat::parse(HTTPLOG).unwrap();
        assert_eq!(
            f.items.last(),
            Some(&Item::Var {
                var: Var::RequestLine,
                flags: Flags {
                    quote: true,
                    ..Flags::default()
                }
            })
        );
        assert!(f.http_only_vars().contains(&Var::TimeRequest));
    }

    #[test]
    fn percent_o_applies_to_later_vars() {
        let f = LogFormat::parse(HTTPLOG_CLF).unwrap();
        let Item::Var { var, flags } = &f.items[0] else {
            panic!("first item {:?}", f.items[0]);
        };
        assert_eq!((*var, flags.quote), (Var::ClientIp, false));
        assert!(f.items.iter().any(
            |i| matches!(i, Item::Var { var: Var::FrontendNameTransport, flags } if flags.quote)
        ));
    }
}
