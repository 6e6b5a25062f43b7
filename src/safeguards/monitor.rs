//! Anomaly limits on person-level access and on refusals (issue 12, point 2; safeguards.md
//! S17 "alerts fire on look-ups of a person with no open case link and on volume spikes").
//!
//! Pure and clock-free: every call takes the time in milliseconds, so the rules are tested
//! without sleeping. The server keeps one [`AccessMonitor`] and one [`RefusalGate`] behind
//! mutexes and turns their verdicts into `429` answers and alert records.
//!
//! - **Subjects per hour**: each user may read at most `subjects_per_hour` distinct people in
//!   any rolling hour. A read that would pass the budget is refused whole (nothing of it is
//!   returned) and raises an alert; reading people already read this hour costs nothing.
//! - **Break-glass per day**: each user may make at most `break_glass_per_day` break-glass
//!   reads in any rolling 24 hours; every break-glass read raises an alert anyway.
//! - **Refusals per client address**: at most `refusals_per_minute` refused requests per
//!   address in any rolling minute; past that the address gets `429` before any other work.
//! - **Coalescing**: identical refusals (same address, user, route and reason) within
//!   `coalesce_ms` of the first are written as one record with a count, so a flood of refused
//!   requests cannot flood the audit log with fsync'd lines.
//!
//! Limits are per process; replicas (issue 16) will need a shared counter.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;

use crate::domain::PersonRef;

/// One hour in milliseconds.
pub const HOUR_MS: u64 = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: u64 = 24 * HOUR_MS;
/// One minute in milliseconds.
pub const MINUTE_MS: u64 = 60_000;
/// Most client addresses the refusal gate tracks; past this the oldest are forgotten first.
const MAX_TRACKED_ADDRESSES: usize = 100_000;
/// Most distinct refusal keys waiting to be flushed; past this a refusal is written at once.
const MAX_PENDING_REFUSALS: usize = 10_000;

/// Milliseconds since the Unix epoch from the system clock (0 if the clock is before it):
/// the time the server passes to the monitor and the refusal gate.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The configurable limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Distinct person-level subjects a user may read per rolling hour (default 50).
    pub subjects_per_hour: u32,
    /// Break-glass reads a user may make per rolling day (default 3).
    pub break_glass_per_day: u32,
    /// Refused requests a client address may make per rolling minute (default 30).
    pub refusals_per_minute: u32,
    /// How long identical refusals are gathered into one record, in milliseconds (default 5 s).
    pub coalesce_ms: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            subjects_per_hour: 50,
            break_glass_per_day: 3,
            refusals_per_minute: 30,
            coalesce_ms: 5_000,
        }
    }
}

/// The rule an alert or refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// A user passed their budget of distinct subjects per hour.
    SubjectBudget,
    /// A user passed their budget of break-glass reads per day.
    BreakGlassBudget,
    /// A user read a case they are not assigned to, by break-glass.
    BreakGlassRead,
}

impl AlertRule {
    /// The code written in alert records.
    pub fn code(self) -> &'static str {
        match self {
            Self::SubjectBudget => "subject_budget",
            Self::BreakGlassBudget => "break_glass_budget",
            Self::BreakGlassRead => "break_glass_read",
        }
    }
}

/// An alert to record: who, which rule, the window and the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The user.
    pub user: String,
    /// The rule.
    pub rule: AlertRule,
    /// The rolling window the counts are over, in seconds.
    pub window_s: u64,
    /// What the user had used, including the request that raised the alert.
    pub count: u64,
    /// The limit.
    pub limit: u64,
}

/// A refused read: answer `429` with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// Which budget.
    pub rule: AlertRule,
    /// Seconds until the budget has room again (at least 1).
    pub retry_after_s: u64,
    /// The alert to record; `None` when one was already raised for this user, rule and window.
    pub alert: Option<Alert>,
}

/// Per-user budgets of person-level access.
#[derive(Debug, Default)]
pub struct AccessMonitor {
    budgets: Budgets,
    /// Per user: subject → when it was first read in the current window.
    subjects: HashMap<String, HashMap<PersonRef, u64>>,
    /// Per user: times of break-glass reads in the last day.
    break_glass: HashMap<String, VecDeque<u64>>,
    /// Per user and rule: until when an alert already raised covers further refusals.
    alerted: HashMap<(String, AlertRule), u64>,
}

impl AccessMonitor {
    /// A monitor applying `budgets`.
    pub fn new(budgets: Budgets) -> Self {
        Self {
            budgets,
            ..Self::default()
        }
    }

    /// Charges a read of `subjects` by `user` at `now_ms` against the hourly budget. Subjects
    /// read earlier in the window are free. Either the whole read is admitted and recorded,
    /// or nothing is recorded and the read is refused.
    ///
    /// # Errors
    ///
    /// [`Exceeded`] when the distinct subjects of the last hour would pass the budget.
    pub fn admit_subjects<'a>(
        &mut self,
        user: &str,
        subjects: impl IntoIterator<Item = &'a PersonRef>,
        now_ms: u64,
    ) -> Result<(), Exceeded> {
        let limit = u64::from(self.budgets.subjects_per_hour);
        let seen = self.subjects.entry(user.to_owned()).or_default();
        seen.retain(|_, first| now_ms.saturating_sub(*first) < HOUR_MS);
        let new: BTreeSet<&PersonRef> = subjects
            .into_iter()
            .filter(|s| !seen.contains_key(*s))
            .collect();
        let total = seen.len() as u64 + new.len() as u64;
        if total > limit {
            let oldest = seen.values().min().copied().unwrap_or(now_ms);
            let retry_after_s = (oldest + HOUR_MS).saturating_sub(now_ms).div_ceil(1000);
            let alert = self.alert_once(
                user,
                AlertRule::SubjectBudget,
                HOUR_MS,
                total,
                limit,
                now_ms,
            );
            return Err(Exceeded {
                rule: AlertRule::SubjectBudget,
                retry_after_s: retry_after_s.max(1),
                alert,
            });
        }
        for s in new {
            seen.insert(s.clone(), now_ms);
        }
        Ok(())
    }

    /// Charges one break-glass read by `user` at `now_ms`. Admitted reads return the
    /// [`AlertRule::BreakGlassRead`] alert every break-glass read raises.
    ///
    /// # Errors
    ///
    /// [`Exceeded`] when the user has used the day's break-glass budget.
    pub fn admit_break_glass(&mut self, user: &str, now_ms: u64) -> Result<Alert, Exceeded> {
        let limit = u64::from(self.budgets.break_glass_per_day);
        let times = self.break_glass.entry(user.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= DAY_MS)
        {
            times.pop_front();
        }
        let used = times.len() as u64;
        if used >= limit {
            let oldest = times.front().copied().unwrap_or(now_ms);
            let retry_after_s = (oldest + DAY_MS).saturating_sub(now_ms).div_ceil(1000);
            let alert = self.alert_once(
                user,
                AlertRule::BreakGlassBudget,
                DAY_MS,
                used + 1,
                limit,
                now_ms,
            );
            return Err(Exceeded {
                rule: AlertRule::BreakGlassBudget,
                retry_after_s: retry_after_s.max(1),
                alert,
            });
        }
        times.push_back(now_ms);
        Ok(Alert {
            user: user.to_owned(),
            rule: AlertRule::BreakGlassRead,
            window_s: DAY_MS / 1000,
            count: used + 1,
            limit,
        })
    }

    /// Undoes the last break-glass charge of `user` (the read was refused later, e.g. by the
    /// subject budget), so a refused read costs nothing.
    pub fn refund_break_glass(&mut self, user: &str) {
        if let Some(times) = self.break_glass.get_mut(user) {
            times.pop_back();
        }
    }

    fn alert_once(
        &mut self,
        user: &str,
        rule: AlertRule,
        window_ms: u64,
        count: u64,
        limit: u64,
        now_ms: u64,
    ) -> Option<Alert> {
        let key = (user.to_owned(), rule);
        if self.alerted.get(&key).is_some_and(|until| now_ms < *until) {
            return None;
        }
        self.alerted.insert(key, now_ms + window_ms);
        Some(Alert {
            user: user.to_owned(),
            rule,
            window_s: window_ms / 1000,
            count,
            limit,
        })
    }
}

/// What to do with a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalVerdict {
    /// Write the refusal's audit record now and answer with its own status.
    Record,
    /// An identical refusal was recorded within the coalescing window: count it, write nothing
    /// now, answer with its own status.
    Coalesced,
    /// The address is over its refusal budget: answer `429` with this `Retry-After`; the
    /// refusal is counted (coalesced) like any other.
    Throttled {
        /// Seconds until the address has room again.
        retry_after_s: u64,
        /// True for the first throttled refusal in the coalescing window, whose record is
        /// written at once.
        record: bool,
    },
}

/// The key identical refusals share.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefusalKey {
    /// The client address, when known.
    pub client: Option<IpAddr>,
    /// The user, if authenticated.
    pub user: Option<String>,
    /// The role code of the caller.
    pub role: &'static str,
    /// The route.
    pub route: String,
    /// The deny reason code.
    pub reason: &'static str,
}

/// Refusals gathered since their key's first record, to be written as one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coalesced {
    /// The shared key.
    pub key: RefusalKey,
    /// Refusals counted after the first, already recorded, one.
    pub repeats: u64,
    /// When the window opened (ms).
    pub since_ms: u64,
}

/// Per-address refusal budget and coalescing of identical refusals.
#[derive(Debug, Default)]
pub struct RefusalGate {
    budgets: Budgets,
    recent: HashMap<Option<IpAddr>, VecDeque<u64>>,
    pending: HashMap<RefusalKey, (u64, u64)>,
}

impl RefusalGate {
    /// A gate applying `budgets`.
    pub fn new(budgets: Budgets) -> Self {
        Self {
            budgets,
            ..Self::default()
        }
    }

    /// Records that `key` was refused at `now_ms` and says what to do. When the address is
    /// over budget the key's reason is replaced by `throttled_reason`, so the throttled
    /// refusals are gathered under their own key.
    pub fn refuse(
        &mut self,
        key: &mut RefusalKey,
        throttled_reason: &'static str,
        now_ms: u64,
    ) -> RefusalVerdict {
        if self.recent.len() >= MAX_TRACKED_ADDRESSES && !self.recent.contains_key(&key.client) {
            self.recent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now_ms.saturating_sub(*t) < MINUTE_MS)
            });
            if self.recent.len() >= MAX_TRACKED_ADDRESSES {
                self.recent.clear();
            }
        }
        let times = self.recent.entry(key.client).or_default();
        while times
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= MINUTE_MS)
        {
            times.pop_front();
        }
        let over = times.len() as u64 >= u64::from(self.budgets.refusals_per_minute);
        let retry_after_s = times
            .front()
            .map_or(1, |t| (t + MINUTE_MS).saturating_sub(now_ms).div_ceil(1000))
            .max(1);
        if !over {
            times.push_back(now_ms);
        }
        if over {
            key.reason = throttled_reason;
        }
        let record = self.note(key, now_ms);
        if over {
            RefusalVerdict::Throttled {
                retry_after_s,
                record,
            }
        } else if record {
            RefusalVerdict::Record
        } else {
            RefusalVerdict::Coalesced
        }
    }

    /// True when `key` opens a new coalescing window (write its record now).
    fn note(&mut self, key: &RefusalKey, now_ms: u64) -> bool {
        if let Some((since, repeats)) = self.pending.get_mut(key)
            && now_ms.saturating_sub(*since) < self.budgets.coalesce_ms
        {
            *repeats += 1;
            return false;
        }
        if self.pending.len() >= MAX_PENDING_REFUSALS {
            return true;
        }
        self.pending.insert(key.clone(), (now_ms, 0));
        true
    }

    /// The coalescing windows that closed by `now_ms` (all of them with `all`), with how many
    /// refusals each gathered after its first record; windows that gathered none are dropped
    /// silently.
    pub fn flush(&mut self, now_ms: u64, all: bool) -> Vec<Coalesced> {
        let window = self.budgets.coalesce_ms;
        let mut out = Vec::new();
        self.pending.retain(|key, (since, repeats)| {
            let closed = all || now_ms.saturating_sub(*since) >= window;
            if closed && *repeats > 0 {
                out.push(Coalesced {
                    key: key.clone(),
                    repeats: *repeats,
                    since_ms: *since,
                });
            }
            !closed
        });
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32) -> PersonRef {
        PersonRef::new(format!("P{n:08x}")).unwrap()
    }

    fn budgets() -> Budgets {
        Budgets {
            subjects_per_hour: 3,
            break_glass_per_day: 2,
            refusals_per_minute: 4,
            coalesce_ms: 1_000,
        }
    }

    #[test]
    fn the_hourly_budget_counts_distinct_subjects_and_refuses_a_read_whole() {
        let mut m = AccessMonitor::new(budgets());
        assert!(m.admit_subjects("a", &[p(1), p(2)], 0).is_ok());
        assert!(
            m.admit_subjects("a", &[p(1), p(2)], 10).is_ok(),
            "re-reads are free"
        );
        let e = m.admit_subjects("a", &[p(3), p(4)], 20).unwrap_err();
        assert_eq!(e.rule, AlertRule::SubjectBudget);
        assert_eq!(e.alert.as_ref().map(|a| (a.count, a.limit)), Some((4, 3)));
        assert!(e.retry_after_s > 3_500);
        // Nothing of the refused read was charged: one more subject still fits.
        assert!(m.admit_subjects("a", &[p(3)], 30).is_ok());
        let again = m.admit_subjects("a", &[p(5)], 40).unwrap_err();
        assert!(again.alert.is_none(), "one alert per user, rule and window");
        assert!(
            m.admit_subjects("b", &[p(5)], 40).is_ok(),
            "budgets are per user"
        );
        // An hour after the first reads the window has room again.
        assert!(m.admit_subjects("a", &[p(5), p(6)], HOUR_MS + 1).is_ok());
    }

    #[test]
    fn break_glass_reads_raise_an_alert_each_and_are_limited_per_day() {
        let mut m = AccessMonitor::new(budgets());
        assert_eq!(
            m.admit_break_glass("a", 0).unwrap().rule,
            AlertRule::BreakGlassRead
        );
        assert_eq!(m.admit_break_glass("a", 1).unwrap().count, 2);
        let e = m.admit_break_glass("a", 2).unwrap_err();
        assert_eq!(e.rule, AlertRule::BreakGlassBudget);
        assert!(e.alert.is_some());
        m.refund_break_glass("a");
        assert!(
            m.admit_break_glass("a", 3).is_ok(),
            "a refunded read frees its slot"
        );
        assert!(m.admit_break_glass("a", DAY_MS + 2).is_ok());
    }

    #[test]
    fn identical_refusals_coalesce_and_an_address_over_budget_is_throttled() {
        let mut g = RefusalGate::new(budgets());
        let key = || RefusalKey {
            client: Some("127.0.0.1".parse().unwrap()),
            user: None,
            role: "public",
            route: "/api/v1/people".to_owned(),
            reason: "AUTHENTICATION_REQUIRED",
        };
        let mut verdicts = Vec::new();
        for t in 0..10 {
            let mut k = key();
            verdicts.push(g.refuse(&mut k, "TOO_MANY_REFUSALS", t));
        }
        assert_eq!(verdicts[0], RefusalVerdict::Record);
        assert!(
            verdicts[1..4]
                .iter()
                .all(|v| *v == RefusalVerdict::Coalesced)
        );
        assert!(matches!(
            verdicts[4],
            RefusalVerdict::Throttled { record: true, .. }
        ));
        assert!(matches!(
            verdicts[5],
            RefusalVerdict::Throttled { record: false, .. }
        ));
        assert!(g.flush(500, false).is_empty(), "windows still open");
        let flushed = g.flush(2_000, false);
        let total: u64 = flushed.iter().map(|c| c.repeats).sum::<u64>() + 2;
        assert_eq!(total, 10, "every refusal is accounted for: {flushed:?}");
        // Another address is not affected.
        let mut other = key();
        other.client = Some("127.0.0.2".parse().unwrap());
        assert_eq!(
            g.refuse(&mut other, "TOO_MANY_REFUSALS", 2_001),
            RefusalVerdict::Record
        );
    }
}
