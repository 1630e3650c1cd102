//! The runtime API on `stats socket` (management.txt §9.3): command parsing,
//! `;`-separated lines and `prompt` mode ([`CliSession`]), the outputs tools
//! parse (`show info`, `show stat`, `show servers state`, `show table`), and
//! the [`Runtime`] trait through which the engine carries out commands.

mod command;
mod events;
mod exec;
mod format;
mod words;

pub use command::{
    parse_command, split_commands, split_words, AccessLevel, Command, HealthForce, OutFormat,
    RateLimitKind, ServerAdminState, TableFilter, WeightSpec,
};
pub use events::Follow;
pub use exec::{apply_admin, execute, CliSession, Runtime, HELP_TEXT};
pub use format::{
    write_servers_state, write_table, ServerStateLine, TableDump, TableEntry, SERVERS_STATE_HEADER,
};

/// HAProxy's answers for names the runtime does not know; [`Runtime`]
/// implementations return these so that scripts see the same text.
pub const NO_SUCH_BACKEND: &str = "No such backend.";
pub const NO_SUCH_SERVER: &str = "No such server.";
pub const NO_SUCH_FRONTEND: &str = "No such frontend.";
pub const NO_SUCH_TABLE: &str = "No such table.";

/// Errors of this layer are the crate's error type; its `Display` is the
/// text the CLI prints.
pub type ApiError = crate::error::ObserveError;
