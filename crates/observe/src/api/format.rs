//! Outputs of the runtime API that scripts parse: `show servers state` and
//! `show table`.

use std::fmt::Write;

/// The header line of `show servers state` (format version 1, HAProxy 2.6).
pub const SERVERS_STATE_HEADER: &str = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port";

/// One server in `show servers state` (also the `server-state-file` format).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStateLine {
    pub be_id: u32,
    pub be_name: String,
    pub srv_id: u32,
    pub srv_name: String,
    pub srv_addr: String,
    /// 0 stopped, 1 starting, 2 running, 3 stopping.
    pub srv_op_state: u32,
    /// Bit field: 0x01 forced maint, 0x02 inherited maint, 0x04 config maint,
    /// 0x08 forced drain, 0x10 inherited drain, 0x20 resolution maint, 0x40 hostname maint.
    pub srv_admin_state: u32,
    pub srv_uweight: u32,
    pub srv_iweight: u32,
    pub srv_time_since_last_change: u64,
    pub srv_check_status: u32,
    pub srv_check_result: u32,
    pub srv_check_health: u32,
    pub srv_check_state: u32,
    pub srv_agent_state: u32,
    pub bk_f_forced_id: u32,
    pub srv_f_forced_id: u32,
    /// `-` when none.
    pub srv_fqdn: Option<String>,
    pub srv_port: u16,
    pub srvrecord: Option<String>,
    pub srv_use_ssl: bool,
    pub srv_check_port: u16,
    pub srv_check_addr: Option<String>,
    pub srv_agent_addr: Option<String>,
    pub srv_agent_port: u16,
}

fn dash(s: &Option<String>) -> &str {
    s.as_deref().filter(|s| !s.is_empty()).unwrap_or("-")
}

/// `1`, the header, then one space-separated line per server.
pub fn write_servers_state(lines: &[ServerStateLine], out: &mut String) {
    out.push_str("1\n");
    out.push_str(SERVERS_STATE_HEADER);
    out.push('\n');
    for l in lines {
        let _ = writeln!(
            out,
            "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            l.be_id,
            l.be_name,
            l.srv_id,
            l.srv_name,
            l.srv_addr,
            l.srv_op_state,
            l.srv_admin_state,
            l.srv_uweight,
            l.srv_iweight,
            l.srv_time_since_last_change,
            l.srv_check_status,
            l.srv_check_result,
            l.srv_check_health,
            l.srv_check_state,
            l.srv_agent_state,
            l.bk_f_forced_id,
            l.srv_f_forced_id,
            dash(&l.srv_fqdn),
            l.srv_port,
            dash(&l.srvrecord),
            u8::from(l.srv_use_ssl),
            l.srv_check_port,
            dash(&l.srv_check_addr),
            dash(&l.srv_agent_addr),
            l.srv_agent_port
        );
    }
}

/// One stick-table entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableEntry {
    /// A stable identifier printed like HAProxy's entry address.
    pub id: u64,
    pub key: String,
    pub use_count: u32,
    /// Milliseconds before expiry.
    pub exp_ms: u64,
    /// `(name, value)`, names with their period where they have one, e.g.
    /// `("conn_rate(30000)", "2")`.
    pub data: Vec<(String, String)>,
}

/// One table with the entries selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableDump {
    pub name: String,
    /// `ip`, `ipv6`, `integer`, `string`, `binary`.
    pub key_type: String,
    pub size: u64,
    pub used: u64,
    pub entries: Vec<TableEntry>,
}

/// `# table: NAME, type: ip, size:N, used:N` then one line per entry.
pub fn write_table(t: &TableDump, out: &mut String) {
    let _ = writeln!(
        out,
        "# table: {}, type: {}, size:{}, used:{}",
        t.name, t.key_type, t.size, t.used
    );
    for e in &t.entries {
        let _ = write!(
            out,
            "0x{:x}: key={} use={} exp={}",
            e.id, e.key, e.use_count, e.exp_ms
        );
        for (k, v) in &e.data {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
}
