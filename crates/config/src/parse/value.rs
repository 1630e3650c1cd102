//! Scalar values shared by every keyword: times, sizes, integers (configuration.txt §2.5).

use std::time::Duration;

/// The unit a bare number is read in: most timeouts are milliseconds, a few
/// keywords (`stats refresh`, `hard-stop-after`…) document seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Seconds,
}

/// `10`, `10ms`, `5s`, `1m`, `2h`, `1d`, `250us`.
pub fn parse_time(word: &str, bare: TimeUnit) -> Result<Duration, String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "'{word}' is not a time (expected a number with an optional unit us, ms, s, m, h, d)"
        ));
    }
    let (num, unit) = word.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("time '{word}' is too large"))?;
    let micros_per: u64 = match unit {
        "" => match bare {
            TimeUnit::Millis => 1_000,
            TimeUnit::Seconds => 1_000_000,
        },
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        other => {
            return Err(format!(
                "unknown time unit '{other}' in '{word}' (use us, ms, s, m, h or d)"
            ))
        }
    };
    let micros = n
        .checked_mul(micros_per)
        .ok_or_else(|| format!("time '{word}' is too large"))?;
    // HAProxy keeps times as 32-bit milliseconds; larger values overflow there.
    if micros / 1_000 > i32::MAX as u64 {
        return Err(format!("time '{word}' is too large (at most 24d)"));
    }
    Ok(Duration::from_micros(micros))
}

/// `16384`, `16k`, `1m`, `2g` (powers of 1024, either case).
pub fn parse_size(word: &str) -> Result<u64, String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "'{word}' is not a size (expected a number with an optional k, m or g suffix)"
        ));
    }
    let (num, unit) = word.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("size '{word}' is too large"))?;
    let mul: u64 = match unit {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{word}' (use k, m or g)"
            ))
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("size '{word}' is too large"))
}

/// A non-negative integer that fits `T`, with a message naming the keyword.
pub fn parse_uint<T: std::str::FromStr>(word: &str, what: &str) -> Result<T, String> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{what}' expects a non-negative integer, got '{word}'"
        ));
    }
    word.parse::<T>()
        .map_err(|_| format!("'{what}' value '{word}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_units() {
        let ms = |w| parse_time(w, TimeUnit::Millis);
        assert_eq!(ms("5000"), Ok(Duration::from_millis(5000)));
        assert_eq!(ms("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(ms("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(ms("25s"), Ok(Duration::from_secs(25)));
        assert_eq!(ms("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(ms("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(ms("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(
            parse_time("30", TimeUnit::Seconds),
            Ok(Duration::from_secs(30))
        );
    }

    #[test]
    fn time_errors_say_why() {
        assert!(parse_time("5sec", TimeUnit::Millis)
            .unwrap_err()
            .contains("unknown time unit 'sec'"));
        assert!(parse_time("s", TimeUnit::Millis)
            .unwrap_err()
            .contains("not a time"));
        assert!(parse_time("-5", TimeUnit::Millis).is_err());
        assert!(parse_time("30d", TimeUnit::Millis)
            .unwrap_err()
            .contains("too large"));
        assert!(parse_time("99999999999999999999", TimeUnit::Millis).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("16k"), Ok(16384));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1t").is_err());
        assert!(parse_size("k").is_err());
    }

    proptest! {
        #[test]
        fn time_roundtrips_seconds(n in 0u64..2_000_000) {
            prop_assert_eq!(parse_time(&format!("{n}s"), TimeUnit::Millis), Ok(Duration::from_secs(n)));
        }

        #[test]
        fn time_never_panics(s in "\\PC{0,12}") {
            let _ = parse_time(&s, TimeUnit::Millis);
            let _ = parse_size(&s);
        }
    }
}
