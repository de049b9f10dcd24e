//! A TimePicker slot's start, read from the ISO 8601 the template wrote and labelled for the customer:
//! the day its times are listed under (`Wed, Nov 12 (UTC-5)`) and its time (`12:00 PM – 1:00 PM`).
//!
//! Templates write dates in several ISO 8601 forms, so the fields are split here by hand; the calendar
//! and the labels are chrono's.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

/// A slot's start, on the clock of the offset it is to be shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SlotTime {
    /// When the slot starts, in UTC: the order the widget lists slots in.
    pub(super) utc: NaiveDateTime,
    /// The same instant on the clock of `offset_minutes`.
    local: NaiveDateTime,
    offset_minutes: i64,
}

impl SlotTime {
    /// Reads `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM|±HHMM|±HH]`; without an offset the time is UTC.
    pub(super) fn parse(date: &str, show_in_offset: Option<i64>) -> Option<SlotTime> {
        let date = date.trim();
        let (day, rest) = date.split_once(['T', 't', ' '])?;
        let mut ymd = day.splitn(3, '-');
        let year: i32 = ymd.next()?.parse().ok()?;
        let month: u32 = ymd.next()?.parse().ok()?;
        let mday: u32 = ymd.next()?.parse().ok()?;
        if !(1..=31).contains(&mday) {
            return None;
        }
        let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(zone_at);
        let mut hm = clock.split(':');
        let hour: u32 = hm.next()?.parse().ok()?;
        let minute: u32 = hm.next()?.parse().ok()?;
        if let Some(seconds) = hm.next() {
            seconds.parse::<f64>().ok()?;
        }
        let clock = NaiveTime::from_hms_opt(hour, minute, 0)?;
        let written_offset = parse_offset(zone)?;
        // A day past the month's end (`02-30`) rolls over into the next month rather than making the
        // slot unreadable, as slots have always been shown.
        let day = NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_days(Days::new(u64::from(mday - 1)))?;
        let utc = day
            .and_time(clock)
            .checked_sub_signed(TimeDelta::try_minutes(written_offset)?)?;
        let offset_minutes = show_in_offset.unwrap_or(written_offset);
        let local = utc.checked_add_signed(TimeDelta::try_minutes(offset_minutes)?)?;
        Some(SlotTime {
            utc,
            local,
            offset_minutes,
        })
    }

    /// `Wed, Nov 12 (UTC-5)`: the section title under which a day's times are listed.
    pub(super) fn day_label(self) -> String {
        format!(
            "{} ({})",
            self.local.format("%a, %b %-d"),
            zone_label(self.offset_minutes)
        )
    }

    /// `12:00 PM – 1:00 PM`, or only the start when the slot has no duration.
    pub(super) fn range_label(self, duration: Option<i64>) -> String {
        let start = self.local.time();
        match duration {
            // Durations come from the flow's JSON unchecked; only the time of day matters here, and
            // adding to a `NaiveTime` wraps around midnight.
            Some(d) => format!(
                "{} – {}",
                clock_label(start),
                clock_label(start + TimeDelta::minutes(d.rem_euclid(1440)))
            ),
            None => clock_label(start),
        }
    }
}

fn parse_offset(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, digits) = match zone.split_at(1) {
        ("+", d) => (1, d),
        ("-", d) => (-1, d),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    Some(sign * (hours * 60 + minutes))
}

fn zone_label(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset.abs() / 60, offset.abs() % 60);
    match (offset, minutes) {
        (0, _) => "UTC".to_owned(),
        (_, 0) => format!("UTC{sign}{hours}"),
        _ => format!("UTC{sign}{hours}:{minutes:02}"),
    }
}

fn clock_label(time: NaiveTime) -> String {
    time.format("%-I:%M %p").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_times() {
        let at = |date: &str, offset: Option<i64>| SlotTime::parse(date, offset).unwrap();
        let t = at("2025-11-12T17:00+00:00", Some(-300));
        assert_eq!(
            (t.day_label(), t.range_label(Some(60))),
            ("Wed, Nov 12 (UTC-5)".into(), "12:00 PM – 1:00 PM".into())
        );
        let t = at("2025-11-12T17:00+01:00", None);
        assert_eq!(
            (t.day_label(), t.range_label(None)),
            ("Wed, Nov 12 (UTC+1)".into(), "5:00 PM".into())
        );
        let t = at("2025-01-01T00:15:00.000Z", Some(330));
        assert_eq!(
            (t.day_label(), t.range_label(None)),
            ("Wed, Jan 1 (UTC+5:30)".into(), "5:45 AM".into())
        );
        let t = at("2024-03-01T01:00-0300", Some(0));
        assert_eq!(
            (t.day_label(), t.range_label(Some(90))),
            ("Fri, Mar 1 (UTC)".into(), "4:00 AM – 5:30 AM".into())
        );
        let t = at("2024-03-01T00:30", Some(-60));
        assert_eq!(t.day_label(), "Thu, Feb 29 (UTC-1)");
        for bad in [
            "tomorrow",
            "2025-13-01T10:00Z",
            "2025-11-12T25:00Z",
            "2025-11-12T10:00+5",
            "2025-11-12",
        ] {
            assert_eq!(SlotTime::parse(bad, None), None, "{bad}");
        }
    }
}
