//! Dates for the `http_date`, `utime` and `ltime` converters: the civil calendar
//! here, the local time zone's offset and name from the C library (`TZ`,
//! `/etc/localtime`), as HAProxy's `localtime()` gets them.

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Broken-down UTC time of `secs` since the epoch.
struct Tm {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    /// 0 = Thursday 1970-01-01.
    weekday_from_thu: usize,
    yday: u32,
}

fn civil(secs: i64) -> Tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Days to (year, month, day), proleptic Gregorian (era-based conversion).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(month - 1) as usize] + day - 1 + u32::from(leap && month > 2);
    Tm {
        year,
        month,
        day,
        hour: rem / 3600,
        min: rem / 60 % 60,
        sec: rem % 60,
        weekday_from_thu: days.rem_euclid(7) as usize,
        yday,
    }
}

/// `Tue, 14 Jun 2016 01:40:45 GMT` (RFC 7231 IMF-fixdate).
pub(crate) fn http_date(secs: i64) -> String {
    strftime("%a, %d %b %Y %H:%M:%S GMT", secs)
}

/// A strftime(3) subset: `%Y %y %m %d %e %H %M %S %j %a %b %s %z %Z %%`; other
/// sequences are copied as written.
pub(crate) fn strftime(fmt: &str, secs: i64) -> String {
    format(fmt, secs, 0, "UTC")
}

/// [`strftime`] in the local time zone (`ltime`).
pub(crate) fn strftime_local(fmt: &str, secs: i64) -> String {
    let (offset, zone) = local_zone(secs);
    format(fmt, secs, offset, &zone)
}

/// The local UTC offset (seconds) and zone abbreviation at `secs`.
fn local_zone(secs: i64) -> (i64, String) {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return (0, "UTC".into());
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: localtime_r points tm_zone at a static NUL-terminated name.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    (i64::from(i32::try_from(tm.tm_gmtoff).unwrap_or(0)), zone)
}

fn format(fmt: &str, secs: i64, offset: i64, zone: &str) -> String {
    let t = civil(secs.saturating_add(offset));
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&t.year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", t.year.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{:02}", t.month)),
            Some('d') => out.push_str(&format!("{:02}", t.day)),
            Some('e') => out.push_str(&format!("{:2}", t.day)),
            Some('H') => out.push_str(&format!("{:02}", t.hour)),
            Some('M') => out.push_str(&format!("{:02}", t.min)),
            Some('S') => out.push_str(&format!("{:02}", t.sec)),
            Some('j') => out.push_str(&format!("{:03}", t.yday + 1)),
            Some('a') => out.push_str(DAYS[t.weekday_from_thu]),
            Some('b') => out.push_str(MONTHS[(t.month - 1) as usize]),
            Some('s') => out.push_str(&secs.to_string()),
            Some('z') => {
                let (sign, a) = if offset < 0 {
                    ('-', -offset)
                } else {
                    ('+', offset)
                };
                out.push_str(&format!("{sign}{:02}{:02}", a / 3600, a / 60 % 60));
            }
            Some('Z') => out.push_str(zone),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_465_868_445), "Tue, 14 Jun 2016 01:40:45 GMT");
        assert_eq!(
            strftime("%Y%m%d%H%M%S %j %e", 951_782_400),
            "20000229000000 060 29"
        );
        assert_eq!(strftime("%y-%b %% %q", -1), "69-Dec % %q");
    }

    use proptest::prelude::*;

    /// Day-by-day reference for the civil date of a day number.
    fn naive(mut days: i64) -> (i64, u32, u32) {
        let mut y = 1970;
        loop {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = if leap { 366 } else { 365 };
            if days < len {
                let ml = [
                    31,
                    if leap { 29 } else { 28 },
                    31,
                    30,
                    31,
                    30,
                    31,
                    31,
                    30,
                    31,
                    30,
                    31,
                ];
                let mut m = 0;
                while days >= ml[m] {
                    days -= ml[m];
                    m += 1;
                }
                return (y, m as u32 + 1, days as u32 + 1);
            }
            days -= len;
            y += 1;
        }
    }

    proptest! {
        #[test]
        fn civil_dates_match_a_day_by_day_count(days in 0i64..80_000, rem in 0i64..86_400) {
            let t = civil(days * 86_400 + rem);
            prop_assert_eq!((t.year, t.month, t.day), naive(days));
        }
    }
}
