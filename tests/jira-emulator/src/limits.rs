//! Jira Cloud's rate limits, as its documentation describes them: a burst
//! token bucket per endpoint (path template) and method, a cap on writes to
//! one issue over a short and a long window, and an hourly points quota.
//!
//! Each check either admits a request (and says how much is left; the
//! quota's headroom drives the `X-RateLimit-NearLimit` warning, the only
//! limit Jira sends it for) or refuses it with what a 429 carries: the
//! reason, how long to wait, the limit, what is left and when it resets.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

/// The rate limits of a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Burst limit per endpoint and method, when on.
    pub burst: Option<Burst>,
    /// Writes to one issue, when on.
    pub per_issue: Option<PerIssue>,
    /// Hourly points quota, when on.
    pub quota: Option<Quota>,
}

impl Limits {
    /// Jira Cloud's documented values: 100 requests a second for GET and
    /// POST, 50 for PUT and DELETE, per endpoint; 20 writes per 2 s and 100
    /// per 30 s to one issue; 65,000 points an hour (an OAuth app's pool).
    #[must_use]
    pub fn jira_cloud() -> Self {
        Self {
            burst: Some(Burst::default()),
            per_issue: Some(PerIssue::default()),
            quota: Some(Quota::default()),
        }
    }

    /// No limits at all.
    #[must_use]
    pub fn off() -> Self {
        Self {
            burst: None,
            per_issue: None,
            quota: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::jira_cloud()
    }
}

/// Burst limits: a token bucket per endpoint and method, holding one
/// second's worth of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// Requests a second for GET and POST (also the bucket's size).
    pub get_post_per_second: f64,
    /// Requests a second for PUT and DELETE (also the bucket's size).
    pub put_delete_per_second: f64,
}

impl Default for Burst {
    fn default() -> Self {
        Self {
            get_post_per_second: 100.0,
            put_delete_per_second: 50.0,
        }
    }
}

/// Writes to one issue: at most `short_max` in `short_window` and
/// `long_max` in `long_window`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerIssue {
    /// Writes allowed in the short window.
    pub short_max: usize,
    /// The short window.
    pub short_window: Duration,
    /// Writes allowed in the long window.
    pub long_max: usize,
    /// The long window.
    pub long_window: Duration,
}

impl Default for PerIssue {
    fn default() -> Self {
        Self {
            short_max: 20,
            short_window: Duration::from_secs(2),
            long_max: 100,
            long_window: Duration::from_secs(30),
        }
    }
}

/// The hourly points quota: each request costs `per_request` points, plus
/// `per_created_issue` for each issue a create asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    /// Points an hour.
    pub points_per_hour: u64,
    /// Cost of any request.
    pub per_request: u64,
    /// Extra cost of each issue in a create (single or bulk).
    pub per_created_issue: u64,
    /// Length of the quota window (an hour; shorter in tests).
    pub window: Duration,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            points_per_hour: 65_000,
            per_request: 1,
            per_created_issue: 1,
            window: Duration::from_secs(3600),
        }
    }
}

/// Why a request was refused with 429, and what the answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    /// `RateLimit-Reason`.
    pub reason: &'static str,
    /// `Retry-After`, in whole seconds (at least 1).
    pub retry_after_secs: u64,
    /// `X-RateLimit-Limit`.
    pub limit: u64,
    /// `X-RateLimit-Remaining`.
    pub remaining: u64,
    /// When the limit is whole again (`X-RateLimit-Reset`).
    pub reset: SystemTime,
}

/// What is left after an admitted request, as a share of the limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headroom(pub f64);

impl Headroom {
    /// Nothing is limited.
    pub const FULL: Self = Self(1.0);

    /// The smaller of two.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        Self(self.0.min(other.0))
    }

    /// Less than 20% left: answers carry `X-RateLimit-NearLimit: true`.
    #[must_use]
    pub fn near_limit(self) -> bool {
        self.0 < 0.2
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The limiters' state.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    buckets: HashMap<String, Bucket>,
    writes: HashMap<String, VecDeque<Instant>>,
    quota_start: Instant,
    quota_used: u64,
}

fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl Limiter {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            buckets: HashMap::new(),
            writes: HashMap::new(),
            quota_start: Instant::now(),
            quota_used: 0,
        }
    }

    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.buckets.clear();
        self.writes.clear();
        self.quota_used = 0;
        self.quota_start = Instant::now();
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes a token from the bucket of `method` + `template`.
    pub(crate) fn burst(
        &mut self,
        method: &str,
        template: &str,
        now: Instant,
    ) -> Result<Headroom, Throttle> {
        let Some(burst) = &self.limits.burst else {
            return Ok(Headroom::FULL);
        };
        let rate = if matches!(method, "PUT" | "DELETE") {
            burst.put_delete_per_second
        } else {
            burst.get_post_per_second
        };
        let capacity = rate.max(1.0);
        let bucket = self
            .buckets
            .entry(format!("{method} {template}"))
            .or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        let until_full = Duration::from_secs_f64(((capacity - bucket.tokens) / rate).max(0.0));
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(Headroom(bucket.tokens / capacity))
        } else {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
            Err(Throttle {
                reason: "jira-burst-based",
                retry_after_secs: ceil_secs(wait),
                limit: capacity as u64,
                remaining: 0,
                reset: SystemTime::now() + until_full,
            })
        }
    }

    /// Spends `points` of the hourly quota.
    pub(crate) fn quota(&mut self, points: u64, now: Instant) -> Result<Headroom, Throttle> {
        let Some(quota) = &self.limits.quota else {
            return Ok(Headroom::FULL);
        };
        if now.saturating_duration_since(self.quota_start) >= quota.window {
            self.quota_start = now;
            self.quota_used = 0;
        }
        let reset_in = quota
            .window
            .saturating_sub(now.saturating_duration_since(self.quota_start));
        let total = quota.points_per_hour.max(1);
        if self.quota_used + points > total {
            return Err(Throttle {
                reason: "jira-quota-tenant-based",
                retry_after_secs: ceil_secs(reset_in),
                limit: total,
                remaining: total.saturating_sub(self.quota_used),
                reset: SystemTime::now() + reset_in,
            });
        }
        self.quota_used += points;
        Ok(Headroom((total - self.quota_used) as f64 / total as f64))
    }

    /// Points a request costs.
    pub(crate) fn cost(&self, created_issues: usize) -> u64 {
        self.limits.quota.as_ref().map_or(0, |q| {
            q.per_request + q.per_created_issue * created_issues as u64
        })
    }

    /// Counts a write to each of `issues` (all or none).
    pub(crate) fn issue_writes(
        &mut self,
        issues: &[String],
        now: Instant,
    ) -> Result<Headroom, Throttle> {
        let Some(per) = self.limits.per_issue.clone() else {
            return Ok(Headroom::FULL);
        };
        let mut headroom = Headroom::FULL;
        // One request may write to an issue several times (a bulk create
        // linking many new issues to it): each write counts.
        let mut wanted: std::collections::BTreeMap<&String, usize> =
            std::collections::BTreeMap::new();
        for issue in issues {
            *wanted.entry(issue).or_default() += 1;
        }
        for (issue, writes) in wanted {
            let log = self.writes.entry(issue.clone()).or_default();
            while log
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= per.long_window)
            {
                log.pop_front();
            }
            let short: Vec<Instant> = log
                .iter()
                .copied()
                .filter(|t| now.saturating_duration_since(*t) < per.short_window)
                .collect();
            for (count, max, window, oldest) in [
                (
                    short.len(),
                    per.short_max,
                    per.short_window,
                    short.first().copied(),
                ),
                (
                    log.len(),
                    per.long_max,
                    per.long_window,
                    log.front().copied(),
                ),
            ] {
                if count + writes > max {
                    let free_at = oldest.map_or(Duration::ZERO, |t| {
                        window.saturating_sub(now.saturating_duration_since(t))
                    });
                    return Err(Throttle {
                        reason: "jira-per-issue-on-write",
                        retry_after_secs: ceil_secs(free_at),
                        limit: max as u64,
                        remaining: 0,
                        reset: SystemTime::now() + free_at,
                    });
                }
                headroom =
                    headroom.min(Headroom((max - count - writes) as f64 / max.max(1) as f64));
            }
        }
        for issue in issues {
            self.writes.entry(issue.clone()).or_default().push_back(now);
        }
        Ok(headroom)
    }
}
