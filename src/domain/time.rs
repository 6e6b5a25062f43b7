//! Calendar days and time windows.
//!
//! A [`Day`] counts days since 1970-01-01 (proleptic Gregorian, UTC). The conversions use
//! Howard Hinnant's `days_from_civil` / `civil_from_days` algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>), exact for every date here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, DomainResult};

/// A calendar day, as days since 1970-01-01. Valid from 1970-01-01 to 2149-06-06 so that it
/// fits the index's 16-bit day column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(u16);

impl Day {
    /// The first representable day, 1970-01-01.
    pub const MIN: Day = Day(0);
    /// The last representable day, 2149-06-06.
    pub const MAX: Day = Day(u16::MAX);

    /// Builds a day from days since 1970-01-01.
    pub const fn from_days_since_epoch(days: u16) -> Self {
        Day(days)
    }

    /// Days since 1970-01-01.
    pub const fn days_since_epoch(self) -> u16 {
        self.0
    }

    /// Builds a day from a calendar date, validating month and day-of-month.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> DomainResult<Self> {
        if !(1..=12).contains(&month) {
            return Err(DomainError::invalid(
                "date",
                format!("month {month} is not 1..12"),
            ));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(DomainError::invalid(
                "date",
                format!("{year}-{month:02} has no day {day}"),
            ));
        }
        let n = days_from_civil(year, month, day);
        u16::try_from(n).map(Day).map_err(|_| {
            DomainError::invalid(
                "date",
                format!("{year}-{month:02}-{day:02} is outside 1970..2149"),
            )
        })
    }

    /// The calendar date `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(i64::from(self.0))
    }

    /// The first day of this day's month.
    #[must_use]
    pub fn month_start(self) -> Day {
        let (y, m, _) = self.ymd();
        // The first of a month on or after 1970-01 is never before the epoch.
        Day(days_from_civil(y, m, 1) as u16)
    }

    /// Weekday, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
    pub fn weekday_mon0(self) -> u8 {
        ((u32::from(self.0) + 3) % 7) as u8
    }

    /// This day plus `n` days, saturating at [`Day::MAX`].
    #[must_use]
    pub fn plus_days(self, n: u16) -> Day {
        Day(self.0.saturating_add(n))
    }

    /// This day minus `n` days, saturating at [`Day::MIN`].
    #[must_use]
    pub fn minus_days(self, n: u16) -> Day {
        Day(self.0.saturating_sub(n))
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

impl FromStr for Day {
    type Err = DomainError;

    /// Parses `YYYY-MM-DD`.
    fn from_str(s: &str) -> DomainResult<Self> {
        let b = s.as_bytes();
        let bad = || DomainError::invalid("date", format!("{s:?} is not YYYY-MM-DD"));
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> DomainResult<u32> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse::<u32>().map_err(|_| bad())
        };
        let y = num(0..4)? as i32;
        Day::from_ymd(y, num(5..7)?, num(8..10)?)
    }
}

impl TryFrom<String> for Day {
    type Error = DomainError;
    fn try_from(s: String) -> DomainResult<Self> {
        s.parse()
    }
}

impl From<Day> for String {
    fn from(d: Day) -> Self {
        d.to_string()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// An inclusive range of days `from ..= to`, never inverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    from: Day,
    to: Day,
}

impl TimeWindow {
    /// Builds a window; `from` must not be after `to`.
    pub fn new(from: Day, to: Day) -> DomainResult<Self> {
        if from > to {
            return Err(DomainError::invalid(
                "from",
                format!("{from} is after {to}"),
            ));
        }
        Ok(Self { from, to })
    }

    /// The window holding every representable day.
    pub const fn all() -> Self {
        Self {
            from: Day::MIN,
            to: Day::MAX,
        }
    }

    /// First day, inclusive.
    pub fn from(self) -> Day {
        self.from
    }

    /// Last day, inclusive.
    pub fn to(self) -> Day {
        self.to
    }

    /// True when `d` is inside the window.
    pub fn contains(self, d: Day) -> bool {
        d >= self.from && d <= self.to
    }

    /// Number of days in the window.
    pub fn len_days(self) -> u32 {
        u32::from(self.to.0) - u32::from(self.from.0) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_through_the_calendar() {
        for n in (0..=u16::MAX).step_by(7) {
            let d = Day::from_days_since_epoch(n);
            let (y, m, dd) = d.ymd();
            assert_eq!(Day::from_ymd(y, m, dd).unwrap(), d);
            assert_eq!(d.to_string().parse::<Day>().unwrap(), d);
        }
    }

    #[test]
    fn known_dates_have_known_day_numbers() {
        assert_eq!(Day::from_ymd(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(
            Day::from_ymd(2000, 3, 1).unwrap().days_since_epoch(),
            11_017
        );
        assert_eq!(
            Day::from_ymd(2024, 2, 29).unwrap().days_since_epoch(),
            19_782
        );
        // 2024-01-01 was a Monday.
        assert_eq!(Day::from_ymd(2024, 1, 1).unwrap().weekday_mon0(), 0);
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert!("2023-02-29".parse::<Day>().is_err());
        assert!("2023-13-01".parse::<Day>().is_err());
        assert!("2023-1-01".parse::<Day>().is_err());
        assert!("1969-12-31".parse::<Day>().is_err());
        assert!("+023-01-01".parse::<Day>().is_err());
    }

    #[test]
    fn month_start_is_the_first_of_the_month() {
        let d: Day = "2024-03-17".parse().unwrap();
        assert_eq!(d.month_start().to_string(), "2024-03-01");
    }

    #[test]
    fn an_inverted_window_is_refused() {
        let a: Day = "2024-03-17".parse().unwrap();
        let b: Day = "2024-03-16".parse().unwrap();
        assert!(TimeWindow::new(a, b).is_err());
        assert_eq!(TimeWindow::new(b, a).unwrap().len_days(), 2);
    }
}
