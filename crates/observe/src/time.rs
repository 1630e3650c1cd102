//! Calendar arithmetic for log dates, without a date crate: UTC fields are
//! computed here; only the local offset asks the C library.

use std::time::{SystemTime, UNIX_EPOCH};

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down date at some UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub offset: i32,
}

impl Tm {
    pub fn month_name(&self) -> &'static str {
        MONTHS[(self.month.clamp(1, 12) - 1) as usize]
    }
    pub fn millis(&self) -> u32 {
        self.micros / 1000
    }
    /// `+0100`, as in CLF dates.
    pub fn offset_hhmm(&self) -> String {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let a = self.offset.unsigned_abs();
        format!("{sign}{:02}{:02}", a / 3600, (a / 60) % 60)
    }
    /// `+01:00`, as in RFC 3339 dates.
    pub fn offset_colon(&self) -> String {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let a = self.offset.unsigned_abs();
        format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60)
    }
    /// `2016-01-16T02:51:10.487000+00:00`
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.micros,
            self.offset_colon()
        )
    }
}

/// Microseconds since the epoch (negative before 1970).
pub fn unix_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// The date `t` seen at `offset` seconds east of UTC.
pub fn at_offset(t: SystemTime, offset: i32) -> Tm {
    let us = unix_micros(t) + i64::from(offset) * 1_000_000;
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    Tm {
        year,
        month,
        day,
        hour: rem / 3600,
        min: (rem / 60) % 60,
        sec: rem % 60,
        micros,
        offset,
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The local UTC offset at `t`, from the C library's time zone rules.
pub fn local_offset(t: SystemTime) -> i32 {
    let secs = unix_micros(t).div_euclid(1_000_000) as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call's duration.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if ok {
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    } else {
        0
    }
}

/// The date `t` in local time.
pub fn local(t: SystemTime) -> Tm {
    at_offset(t, local_offset(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_date() {
        // 2016-01-16T02:51:10.487Z
        let t = UNIX_EPOCH + Duration::from_millis(1_452_912_670_487);
        let tm = at_offset(t, 0);
        assert_eq!((tm.year, tm.month, tm.day), (2016, 1, 16));
        assert_eq!((tm.hour, tm.min, tm.sec, tm.millis()), (2, 51, 10, 487));
        assert_eq!(tm.rfc3339(), "2016-01-16T02:51:10.487000+00:00");
        let east = at_offset(t, 3600 + 1800);
        assert_eq!((east.hour, east.min), (4, 21));
        assert_eq!(east.offset_hhmm(), "+0130");
    }

    #[test]
    fn leap_day() {
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        let tm = at_offset(t, 0);
        assert_eq!((tm.year, tm.month, tm.day), (2000, 2, 29));
    }
}
