//! Wall-clock helpers and the two timestamp spellings the twin emits.
//!
//! The real services use two formats that the bridge must parse: ISO-8601 with milliseconds
//! (`AbsoluteTime`, SNS `Timestamp`) and RFC 3339 with nanoseconds (EUM `message_timestamp`).
//! They are formatted here by hand (civil-from-days) rather than pulling in a date crate for two
//! functions. Times are carried around as milliseconds/nanoseconds since the Unix epoch so the
//! state machine can be driven with a fake clock in unit tests.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    now_nanos() / 1_000_000
}

/// Nanoseconds since the Unix epoch.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `(year, month, day)` for a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
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

fn date_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `2025-11-11T07:30:00.301Z` — Connect `AbsoluteTime`, SNS `Timestamp`.
pub fn iso_millis(ms: u64) -> String {
    format!("{}.{:03}Z", date_time(ms / 1000), ms % 1000)
}

/// `2025-11-11T06:51:23.476795989Z` — EUM `message_timestamp`.
pub fn rfc3339_nanos(nanos: u64) -> String {
    format!("{}.{:09}Z", date_time(nanos / 1_000_000_000), nanos % 1_000_000_000)
}

/// `11/Nov/2025:07:30:00 +0000` — API Gateway's `requestContext.time` (common log format).
pub fn clf_time(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{d:02}/{}/{y:04}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `2025/11/11` — the date prefix of a Lambda log stream name.
pub fn log_stream_date(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / 86_400_000) as i64);
    format!("{y:04}/{m:02}/{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_762_846_200_301), "2025-11-11T07:30:00.301Z");
        assert_eq!(
            rfc3339_nanos(1_762_843_883_476_795_989),
            "2025-11-11T06:51:23.476795989Z"
        );
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(log_stream_date(1_762_846_200_301), "2025/11/11");
        // The example of API Gateway's payload format 2.0.
        assert_eq!(clf_time(1_584_039_838_000), "12/Mar/2020:19:03:58 +0000");
    }
}
