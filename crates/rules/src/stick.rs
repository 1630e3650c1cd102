//! Stick tables in the rule language: the `sc_*`/`src_*`/`table_*` fetches, the
//! `in_table`/`table_*` converters and the `track-scN`/`sc-inc-gpc*`/`sc-set-gpt0`
//! actions, all run through `fulcrum_persist` on what the view lends
//! ([`SessionView::tables`], the trackers, [`SessionView::now_ms`]).
//!
//! A view without tables keeps the older protocol: fetches ask
//! [`SessionView::stick_counter`] and actions arrive as [`Effect`]s.

use std::sync::Arc;

use fulcrum_config::diag::{closest, Span};
use fulcrum_persist::convert::TableConverter;
use fulcrum_persist::data::GpcRef;
use fulcrum_persist::fetch::{CounterFetch, FetchCtx, Sample as PSample, Subject};
use fulcrum_persist::track::{TrackFrom, Trackers};
use fulcrum_persist::{Key, KeyType, StickTable};

use crate::error::RuleError;
use crate::fetch::Ctx;
use crate::proxy::CompileEnv;
use crate::value::Sample;
use crate::view::{Effect, SessionView, StickQuery, TrackScope};

/// A compiled stick-table fetch, with what the older `stick_counter` protocol needs.
#[derive(Clone, Debug)]
pub(crate) struct StickFetch {
    pub fetch: CounterFetch,
    /// For [`StickQuery`]: `scN`, or `None` for `src_*` / `table_*`.
    pub tracked: Option<u8>,
    pub counter: String,
}

fn to_sample(s: PSample) -> Sample<'static> {
    match s {
        PSample::Int(i) => Sample::Int(i),
        PSample::Bool(b) => Sample::Bool(b),
    }
}

/// Checks a table name against the configuration's tables, when known.
fn check_table(name: &str, span: &Span, env: &CompileEnv) -> Result<(), RuleError> {
    match env.table_names() {
        Some(names) if !names.contains(name) => {
            let mut e = RuleError::new(span, format!("no stick-table named '{name}'"));
            if let Some(s) = closest(name, names.iter().map(String::as_str)) {
                e = e.with_hint(format!("did you mean '{s}'?"));
            }
            Err(e)
        }
        _ => Ok(()),
    }
}

/// The table a rule means when it names none: its own proxy's (HAProxy resolves
/// it at load); `None` outside a proxy (the engine's current proxy then).
fn own_table(env: &CompileEnv, span: &Span) -> Result<Option<String>, RuleError> {
    match env.proxy_name() {
        Some(p) => {
            check_table(&p, span, env).map_err(|_| {
                RuleError::new(span, format!("proxy '{p}' has no stick-table"))
                    .with_hint("add a 'stick-table' line or name a table")
            })?;
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

/// `Ok(None)`: `name` is no stick-table fetch.
pub(crate) fn compile_fetch(
    name: &str,
    args: &[String],
    span: &Span,
    env: &CompileEnv,
) -> Result<Option<StickFetch>, RuleError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let parsed = CounterFetch::parse(name, &words)
        .map_err(|e| RuleError::new(span, format!("sample fetch '{name}': {e}")))?;
    let Some(mut fetch) = parsed else {
        return Ok(None);
    };
    let (tracked, counter) = match &mut fetch {
        CounterFetch::TableCnt(t) | CounterFetch::TableAvl(t) => {
            match t {
                Some(t) => check_table(t, span, env)?,
                None => *t = own_table(env, span)?,
            }
            (None, name.to_string())
        }
        CounterFetch::Entry { subject, table, .. } => {
            match (table.as_deref(), *subject) {
                (Some(t), _) => check_table(t, span, env)?,
                (None, Subject::Src) => *table = own_table(env, span)?,
                // `sc*` without a table reads the tracked entry's table.
                (None, Subject::Sc(_)) => {}
            }
            let tracked = match subject {
                Subject::Sc(n) => Some(*n),
                Subject::Src => None,
            };
            let counter = name.split_once('_').map_or(name, |(_, c)| c).to_string();
            (tracked, counter)
        }
    };
    Ok(Some(StickFetch {
        fetch,
        tracked,
        counter,
    }))
}

impl StickFetch {
    pub(crate) fn eval(&self, ctx: &Ctx<'_>) -> Option<Sample<'static>> {
        let sess = ctx.sess;
        let Some(tables) = sess.tables() else {
            return self.eval_legacy(sess);
        };
        let fctx = FetchCtx {
            tables,
            proxy: ctx.current_proxy(),
            stream: sess.stream_trackers(),
            session: sess.session_trackers(),
            src: sess.src().map(|a| a.ip()),
        };
        self.fetch.eval(&fctx, sess.now_ms()).map(to_sample)
    }

    fn eval_legacy(&self, sess: &dyn SessionView) -> Option<Sample<'static>> {
        let table = match &self.fetch {
            CounterFetch::Entry { table, .. } => table.as_deref(),
            CounterFetch::TableCnt(t) | CounterFetch::TableAvl(t) => t.as_deref(),
        };
        let q = StickQuery {
            tracked: self.tracked,
            counter: &self.counter,
            table,
        };
        let v = sess.stick_counter(&q);
        if self.fetch.is_bool() {
            Some(Sample::Bool(v.unwrap_or(0) != 0))
        } else {
            Some(Sample::Int(v?))
        }
    }
}

/// `Ok(None)`: `name` is no stick-table converter.
pub(crate) fn compile_conv(
    name: &str,
    args: &[String],
    span: &Span,
    env: &CompileEnv,
) -> Result<Option<TableConverter>, RuleError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = TableConverter::parse(name, &words)
        .map_err(|e| RuleError::new(span, format!("converter '{name}': {e}")))?;
    if let Some(c) = &c {
        let table = match c {
            TableConverter::InTable(t)
            | TableConverter::ServerId(t)
            | TableConverter::Trackers(t) => t,
            TableConverter::Read { table, .. } => table,
        };
        check_table(table, span, env)?;
    }
    Ok(c)
}

/// Applies a table converter; no tables in the view: no sample.
pub(crate) fn apply_conv(
    c: &TableConverter,
    s: &Sample<'_>,
    ctx: &Ctx<'_>,
) -> Option<Sample<'static>> {
    let sess = ctx.sess;
    let tables = sess.tables()?;
    c.eval(tables, &s.to_bytes(), sess.now_ms()).map(to_sample)
}

/// The key of a table of type `ty` for a sample (addresses stay addresses).
fn key_of(s: &Sample<'_>, ty: KeyType) -> Option<Key> {
    match s {
        Sample::Ip(ip) => Key::from_ip(ty, *ip).ok(),
        Sample::Int(i) => Key::from_int(ty, *i).ok(),
        other => Key::from_text(ty, &other.to_bytes()).ok(),
    }
}

/// A compiled `track-scN KEY [table T]`.
#[derive(Clone, Debug)]
pub(crate) struct Track {
    pub counter: u8,
    /// As written, for the [`Effect::TrackSc`] of views without tables.
    pub table: Option<String>,
    /// The table tracked: the named one, or the rule's proxy's.
    pub resolved: Option<String>,
}

impl Track {
    pub(crate) fn compile(
        counter: u8,
        table: &Option<String>,
        span: &Span,
        env: &CompileEnv,
    ) -> Result<Track, RuleError> {
        let resolved = match table {
            Some(t) => {
                check_table(t, span, env)?;
                Some(t.clone())
            }
            None => own_table(env, span)?,
        };
        Ok(Track {
            counter,
            table: table.clone(),
            resolved,
        })
    }

    /// Starts tracking `key` (already fetched) in the trackers of `scope`.
    pub(crate) fn run(
        &self,
        view: &mut dyn SessionView,
        key: &Sample<'_>,
        scope: TrackScope,
        from: TrackFrom,
    ) {
        if view.tables().is_none() {
            let k = key.to_bytes();
            view.effect(Effect::TrackSc {
                counter: self.counter,
                key: &k,
                table: self.table.as_deref(),
            });
            return;
        }
        let table: Option<Arc<StickTable>> = view.tables().and_then(|tables| {
            let proxy = view.backend().map_or(view.frontend().0, |b| b.0);
            tables
                .get(self.resolved.as_deref().unwrap_or(proxy))
                .cloned()
        });
        let Some(table) = table else { return };
        let Some(k) = key_of(key, table.key_type()) else {
            return;
        };
        let now = view.now_ms();
        if let Some(t) = view.trackers_mut(scope) {
            // A full table means no tracking; the request goes on (HAProxy).
            let _ = t.track(self.counter, &table, k, now, from);
        }
    }
}

/// The trackers holding `scN`: the stream's first, then the session's.
fn holder(view: &dyn SessionView, n: u8) -> Option<&Trackers> {
    view.stream_trackers()
        .filter(|t| t.is_tracking(n))
        .or_else(|| view.session_trackers().filter(|t| t.is_tracking(n)))
}

/// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`.
pub(crate) fn inc_gpc(view: &mut dyn SessionView, counter: u8, gpc: u8) {
    if view.tables().is_none() {
        view.effect(Effect::IncGpc { counter, gpc });
        return;
    }
    let g = if gpc == 0 { GpcRef::Gpc0 } else { GpcRef::Gpc1 };
    let now = view.now_ms();
    if let Some(t) = holder(view, counter) {
        t.inc_gpc(counter, g, now);
    }
}

/// `sc-set-gpt0(N) VALUE`; a negative value sets nothing (the tag is unsigned).
pub(crate) fn set_gpt0(view: &mut dyn SessionView, counter: u8, value: i64) {
    if view.tables().is_none() {
        view.effect(Effect::SetGpt0 { counter, value });
        return;
    }
    let Ok(v) = u64::try_from(value) else { return };
    let now = view.now_ms();
    if let Some(t) = holder(view, counter) {
        t.set_gpt(counter, None, v, now);
    }
}
