//! The time model of the synthetic incidents: the generated window, seasonal and weekly
//! rhythms, an approximate English school calendar, and time-of-day profiles.
//!
//! Day weights multiply three factors: a season (summer about 1.5 times winter: a cosine with
//! amplitude 0.22 peaking in mid-July), a day-of-week factor that depends on the incident's
//! time class, and the trend of the incident's cluster ([`Trend`]). Hours are drawn from
//! 24-value profiles; the youth profile on school days has its after-school peak from 15:00
//! to 18:00, and the night-time profile on Friday to Sunday peaks late in the evening.

use crate::domain::{Category, Day};

use super::gazetteer::Trend;
use super::rng::{Rng, WeightedIndex};
use super::{SyntheticError, SyntheticResult};

/// Relative intensity of an emerging or fading cluster in its quiet period.
pub const QUIET_LEVEL: f64 = 0.03;
/// Seasonal amplitude (dimensionless): the summer peak is `1 + A`, the winter trough `1 - A`.
pub const SEASON_AMPLITUDE: f64 = 0.22;
/// Day of the year of the seasonal peak (16 July).
pub const SEASON_PEAK_DOY: f64 = 197.0;

/// How an incident's day and hour are distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeClass {
    /// Youth-related categories: weekday after-school peak on school days.
    Youth,
    /// Violence and public order: late evenings at weekends.
    Night,
    /// Acquisitive crime in shops and streets: daytime.
    Daytime,
    /// Everything else.
    General,
}

impl TimeClass {
    /// Every class, in table order.
    pub const ALL: [TimeClass; 4] = [Self::Youth, Self::Night, Self::Daytime, Self::General];

    /// The usual class of a category.
    pub fn of(category: Category) -> Self {
        if is_youth_category(category) {
            return Self::Youth;
        }
        match category {
            Category::ViolentCrime
            | Category::PublicOrder
            | Category::PossessionOfWeapons
            | Category::Drugs => Self::Night,
            Category::Shoplifting
            | Category::OtherTheft
            | Category::TheftFromThePerson
            | Category::BicycleTheft => Self::Daytime,
            _ => Self::General,
        }
    }

    fn slot(self) -> usize {
        match self {
            Self::Youth => 0,
            Self::Night => 1,
            Self::Daytime => 2,
            Self::General => 3,
        }
    }
}

/// Categories whose timing follows the school day (after-school peak). Tests compare them
/// with the rest.
pub const YOUTH_CATEGORIES: [Category; 5] = [
    Category::SeriousYouthViolence,
    Category::ChildExploitationConcern,
    Category::Robbery,
    Category::KnifeCrime,
    Category::AntiSocialBehaviour,
];

/// True for a category in [`YOUTH_CATEGORIES`].
pub fn is_youth_category(category: Category) -> bool {
    YOUTH_CATEGORIES.contains(&category)
}

/// Facts about one day of the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayInfo {
    /// The day.
    pub day: Day,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// True on a weekday in term time.
    pub school_day: bool,
    /// Seasonal factor.
    pub season: f64,
}

/// The generated window and its per-day sampling tables.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// First day, inclusive.
    pub start: Day,
    /// Last day, inclusive.
    pub end: Day,
    /// One entry per day of the window.
    pub days: Vec<DayInfo>,
    /// Day tables per (time class, trend).
    tables: Vec<WeightedIndex>,
}

const TRENDS: [Trend; 3] = [Trend::Steady, Trend::Emerging, Trend::Fading];

fn trend_slot(t: Trend) -> usize {
    match t {
        Trend::Steady => 0,
        Trend::Emerging => 1,
        Trend::Fading => 2,
    }
}

/// The same calendar date `years` years earlier (29 February becomes 28 February).
pub fn years_before(day: Day, years: u16) -> SyntheticResult<Day> {
    let (y, m, d) = day.ymd();
    let y0 = y - i32::from(years);
    let mut last_err = None;
    for dd in (d.saturating_sub(3).max(1)..=d).rev() {
        match Day::from_ymd(y0, m, dd) {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(SyntheticError::InvalidParams {
        field: "years",
        reason: format!(
            "{day} minus {years} years is not a representable day ({})",
            last_err.map(|e| e.to_string()).unwrap_or_default()
        ),
    })
}

/// Day of the year, 0-based.
fn day_of_year(day: Day) -> SyntheticResult<f64> {
    let (y, _, _) = day.ymd();
    let jan1 = Day::from_ymd(y, 1, 1)?;
    Ok(f64::from(day.days_since_epoch() - jan1.days_since_epoch()))
}

/// True when `(month, day)` falls in the approximate English school holidays used here:
/// Christmas (20 Dec–3 Jan), February half term (12–18 Feb), Easter (29 Mar–12 Apr), May half
/// term (26 May–1 Jun), summer (22 Jul–31 Aug) and October half term (24–31 Oct).
pub fn is_school_holiday(month: u32, day: u32) -> bool {
    match month {
        1 => day <= 3,
        2 => (12..=18).contains(&day),
        3 => day >= 29,
        4 => day <= 12,
        5 => day >= 26,
        6 => day <= 1,
        7 => day >= 22,
        8 => true,
        10 => day >= 24,
        12 => day >= 20,
        _ => false,
    }
}

/// Day-of-week factor (Monday = 0) for a time class.
fn weekday_factor(class: TimeClass, weekday: u8, school_day: bool) -> f64 {
    match class {
        TimeClass::Youth => match weekday {
            0..=4 if school_day => 1.15,
            0..=4 => 1.0,
            5 => 0.95,
            _ => 0.8,
        },
        TimeClass::Night => match weekday {
            0 | 1 => 0.8,
            2 => 0.85,
            3 => 0.95,
            4 => 1.3,
            5 => 1.5,
            _ => 1.05,
        },
        TimeClass::Daytime => {
            if weekday == 6 {
                0.75
            } else {
                1.05
            }
        }
        TimeClass::General => 1.0,
    }
}

/// Relative intensity of a trend at `t` (0 at the window start, 1 at its end).
pub fn trend_factor(trend: Trend, t: f64, window_days: f64) -> f64 {
    let year = 365.0 / window_days.max(365.0);
    match trend {
        Trend::Steady => 1.0,
        Trend::Emerging => {
            let ramp_start = 1.0 - year;
            if t < ramp_start {
                QUIET_LEVEL
            } else {
                let x = ((t - ramp_start) / year).clamp(0.0, 1.0);
                QUIET_LEVEL + (1.0 - QUIET_LEVEL) * x.powf(1.5)
            }
        }
        Trend::Fading => {
            if t < year {
                1.0
            } else {
                let x = ((t - year) / year).clamp(0.0, 1.0);
                QUIET_LEVEL + (1.0 - QUIET_LEVEL) * (1.0 - x)
            }
        }
    }
}

impl Calendar {
    /// The window `years` years back from `end` (inclusive at both ends) and its tables.
    pub fn new(end: Day, years: u16) -> SyntheticResult<Self> {
        let start = years_before(end, years)?;
        let n = usize::from(end.days_since_epoch() - start.days_since_epoch()) + 1;
        let mut days = Vec::with_capacity(n);
        for off in 0..n {
            let day = start.plus_days(off as u16);
            let (_, m, d) = day.ymd();
            let weekday = day.weekday_mon0();
            let doy = day_of_year(day)?;
            let season = 1.0
                + SEASON_AMPLITUDE
                    * (std::f64::consts::TAU * (doy - SEASON_PEAK_DOY) / 365.25).cos();
            days.push(DayInfo {
                day,
                weekday,
                school_day: weekday < 5 && !is_school_holiday(m, d),
                season,
            });
        }
        let window_days = n as f64;
        let mut tables = Vec::with_capacity(TimeClass::ALL.len() * TRENDS.len());
        for class in TimeClass::ALL {
            for trend in TRENDS {
                let weights = days.iter().enumerate().map(|(i, di)| {
                    let t = (i as f64 + 0.5) / window_days;
                    di.season
                        * weekday_factor(class, di.weekday, di.school_day)
                        * trend_factor(trend, t, window_days)
                });
                tables.push(WeightedIndex::new(weights).ok_or_else(|| {
                    SyntheticError::InvalidParams {
                        field: "years",
                        reason: "the window has no days".to_owned(),
                    }
                })?);
            }
        }
        Ok(Self {
            start,
            end,
            days,
            tables,
        })
    }

    /// Number of days in the window.
    pub fn window_days(&self) -> usize {
        self.days.len()
    }

    /// Draws a day offset for an incident of `class` in a cluster with `trend`.
    pub fn sample_day(&self, class: TimeClass, trend: Trend, rng: &mut Rng) -> usize {
        let slot = class.slot() * TRENDS.len() + trend_slot(trend);
        self.tables.get(slot).map_or(0, |t| t.sample(rng))
    }

    /// Draws a minute of the day for an incident of `class` on day offset `off`.
    pub fn sample_minute(&self, class: TimeClass, off: usize, rng: &mut Rng) -> u16 {
        let info = self.days.get(off).copied();
        let weekday = info.map_or(0, |d| d.weekday);
        let school_day = info.is_some_and(|d| d.school_day);
        let profile: &[f64; 24] = match class {
            TimeClass::Youth if school_day => &YOUTH_SCHOOL_DAY,
            TimeClass::Youth => &YOUTH_OTHER_DAY,
            TimeClass::Night if weekday >= 4 && rng.chance(0.7) => &NIGHT_WEEKEND,
            TimeClass::Daytime => &DAYTIME,
            _ => &GENERAL,
        };
        let hour = rng.weighted(profile).unwrap_or(12);
        (hour * 60 + rng.index(60)) as u16
    }
}

/// Youth categories on school days: school run, lunchtime, and the 15:00–18:00 peak.
const YOUTH_SCHOOL_DAY: [f64; 24] = [
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.5, 1.2, 0.6, 0.5, 0.6, 1.0, 1.0, 0.8, 4.0, 4.5, 4.0,
    2.5, 2.0, 1.6, 1.2, 0.8, 0.4,
];
/// Youth categories at weekends and in holidays: afternoon and evening.
const YOUTH_OTHER_DAY: [f64; 24] = [
    0.4, 0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 1.6, 1.8, 2.0, 2.2, 2.3, 2.3,
    2.2, 2.2, 2.0, 1.6, 1.1, 0.7,
];
/// Violence and public order on Friday to Sunday: late evening and early hours.
const NIGHT_WEEKEND: [f64; 24] = [
    2.0, 1.8, 1.4, 0.8, 0.3, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8, 0.9, 1.0, 1.1, 1.3,
    1.6, 2.0, 2.6, 3.0, 2.8,
];
/// Shops and streets: daytime.
const DAYTIME: [f64; 24] = [
    0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.5, 0.9, 1.3, 1.5, 1.6, 1.7, 1.7, 1.6, 1.6, 1.6, 1.5,
    1.3, 1.0, 0.7, 0.5, 0.3, 0.2,
];
/// Everything else: a mild afternoon-evening bulge.
const GENERAL: [f64; 24] = [
    0.5, 0.4, 0.3, 0.2, 0.15, 0.15, 0.25, 0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.2, 1.2, 1.3, 1.4, 1.4,
    1.4, 1.4, 1.3, 1.2, 1.0, 0.8,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_runs_back_the_requested_years() {
        let end: Day = "2026-10-31".parse().unwrap();
        let cal = Calendar::new(end, 3).unwrap();
        assert_eq!(cal.start.to_string(), "2023-10-31");
        assert_eq!(cal.window_days(), 1097);
        let leap: Day = "2028-02-29".parse().unwrap();
        assert_eq!(years_before(leap, 1).unwrap().to_string(), "2027-02-28");
    }

    #[test]
    fn trends_are_quiet_outside_their_active_year() {
        let n = 1096.0;
        assert!(trend_factor(Trend::Emerging, 0.1, n) < 0.05);
        assert!(trend_factor(Trend::Emerging, 0.99, n) > 0.9);
        assert!(trend_factor(Trend::Fading, 0.1, n) > 0.99);
        assert!(trend_factor(Trend::Fading, 0.9, n) < 0.05);
    }

    #[test]
    fn august_and_weekends_are_not_school_days() {
        let cal = Calendar::new("2026-10-31".parse().unwrap(), 1).unwrap();
        for d in &cal.days {
            let (_, m, _) = d.day.ymd();
            if m == 8 || d.weekday >= 5 {
                assert!(!d.school_day);
            }
        }
        assert!(cal.days.iter().any(|d| d.school_day));
    }
}
