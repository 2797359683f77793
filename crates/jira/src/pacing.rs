//! Pacing under Jira's rate limits, as Jira documents them: a token bucket
//! per endpoint and method (about 100/s for GET and POST, 50/s for PUT and
//! DELETE), sliding windows of writes per issue (20 per 2 s, 100 per 30 s),
//! and what Jira's answers say: `Retry-After`, `X-RateLimit-Reset`,
//! `X-RateLimit-Remaining`, `X-RateLimit-NearLimit` and `RateLimit-Reason`.
//!
//! A quota refusal (`jira-quota-*`) pauses every request until the reset; a
//! burst refusal (`jira-burst-based`) blocks and slows that endpoint; a
//! per-issue refusal (`jira-per-issue-on-write`) blocks writes to that issue.
//! The bucket hands out reservations (its level may go below zero), so
//! concurrent callers each learn their own wait under one short lock and
//! sleep outside it.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

use crate::config::{PacingConfig, RetryPolicy, WriteWindow};

/// The slowest an endpoint is slowed to after burst refusals, per second.
const MIN_RATE: f64 = 1.0;

/// Issues whose writes are remembered before idle ones are dropped.
const MAX_TRACKED_ISSUES: usize = 10_000;

/// Added to each per-issue window, for requests that reach Jira later than
/// they were scheduled.
const WINDOW_MARGIN: Duration = Duration::from_millis(100);

/// What the client has done, for the benchmark report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (attempts, retries included; dry runs count too).
    pub requests_sent: u64,
    /// Answers with status 429.
    pub rate_limited: u64,
    /// Attempts that were retries of an earlier one.
    pub retries: u64,
    /// OAuth refreshes this client made at the token endpoint.
    pub refreshes: u64,
}

/// Atomic counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests_sent: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) refreshes: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        ClientStats {
            requests_sent: self.requests_sent.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
        }
    }
}

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimitHeaders {
    /// `Retry-After` (seconds or an HTTP date).
    pub retry_after: Option<Duration>,
    /// `X-RateLimit-Reset` (an ISO 8601 instant), as a delay from now.
    pub reset_in: Option<Duration>,
    /// `RateLimit-Reason`.
    pub reason: Option<String>,
    /// `X-RateLimit-NearLimit: true`: less than 20% of the quota is left.
    pub near_limit: bool,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
}

impl RateLimitHeaders {
    /// Reads the headers of an answer received at `now`.
    #[must_use]
    pub fn read(headers: &HeaderMap, now: SystemTime) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        Self {
            retry_after: text(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)),
            reset_in: text("x-ratelimit-reset")
                .and_then(parse_iso8601)
                .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)),
            reason: text("ratelimit-reason").map(str::to_owned),
            near_limit: text("x-ratelimit-nearlimit")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            remaining: text("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        }
    }

    /// How long Jira asked to wait: `Retry-After`, else the reset.
    #[must_use]
    pub fn wait(&self) -> Option<Duration> {
        self.retry_after.or(self.reset_in)
    }
}

/// `Retry-After` as seconds (whole or not) or an HTTP date.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An ISO 8601 instant as Jira writes `X-RateLimit-Reset`
/// (`2024-04-02T14:00Z`, `2024-04-02T14:00:30.5+02:00`).
#[must_use]
pub fn parse_iso8601(value: &str) -> Option<SystemTime> {
    let (date, time) = value.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: u32 = ymd.next()?.parse().ok()?;
    let day: u32 = ymd.next()?.parse().ok()?;
    let (clock, offset_seconds) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0i64)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let offset = offset.get(1..)?.replace(':', "");
        let hours: i64 = offset.get(..2)?.parse().ok()?;
        let minutes: i64 = offset
            .get(2..)
            .filter(|m| !m.is_empty())
            .map_or(Ok(0), str::parse)
            .ok()?;
        (clock, sign * (hours * 3600 + minutes * 60))
    };
    let mut hms = clock.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second: f64 = hms.next().map_or(Ok(0.0), str::parse).ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if !(0.0..61.0).contains(&second) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let whole = days * 86_400 + hour * 3600 + minute * 60 - offset_seconds;
    let whole = u64::try_from(whole).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(whole) + Duration::from_secs_f64(second))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The backoff before attempt `attempt + 1` (`attempt` counts from 1):
/// `base x 2^(attempt-1)`, capped, with jitter in its upper half.
#[must_use]
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(policy.max_delay);
    let half = exp / 2;
    let span = u64::try_from((exp - half).as_millis()).unwrap_or(u64::MAX);
    let jitter = if span == 0 {
        0
    } else {
        RandomState::new().hash_one(std::time::Instant::now()) % (span + 1)
    };
    half + Duration::from_millis(jitter)
}

/// A token bucket that hands out reservations.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    rate: f64,
    base_rate: f64,
    tokens: f64,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Bucket {
    fn new(capacity: f64, rate: f64, now: Instant) -> Self {
        Self {
            capacity,
            rate,
            base_rate: rate,
            tokens: capacity,
            last: now,
            blocked_until: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Takes one token; the wait before using it.
    fn reserve(&mut self, now: Instant, paced: bool) -> Duration {
        let blocked = self
            .blocked_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        if !paced {
            return blocked;
        }
        self.refill(now);
        self.tokens -= 1.0;
        let tokens = if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        };
        blocked.max(tokens)
    }

    fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |u| u.max(until)));
    }
}

/// The writes to one issue, sent or reserved, oldest first.
#[derive(Debug, Default)]
struct IssueWrites {
    at: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

impl IssueWrites {
    /// The earliest instant from `from` on at which `count` more writes (one
    /// request writing to this issue `count` times, as a bulk create linking
    /// several new issues to it does) stay within every window.
    fn earliest(&self, from: Instant, windows: &[WriteWindow], count: usize) -> Instant {
        let mut at = from;
        if let Some(last) = self.at.back() {
            at = at.max(*last);
        }
        if let Some(until) = self.blocked_until {
            at = at.max(until);
        }
        for w in windows {
            let allowed = w.writes.max(1);
            // More writes than a window allows can never fit; the caller
            // keeps requests below that, and Jira would refuse them anyway.
            let count = count.clamp(1, allowed);
            // Of the writes already made, `allowed - count` may stay in the
            // window; the newest one that must have left it decides.
            let keep = allowed - count;
            if self.at.len() > keep
                && let Some(oldest) = self.at.get(self.at.len() - keep - 1)
            {
                at = at.max(*oldest + w.window + WINDOW_MARGIN);
            }
        }
        at
    }

    fn record(&mut self, at: Instant, now: Instant, longest: Duration) {
        while self
            .at
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > longest + WINDOW_MARGIN)
        {
            self.at.pop_front();
        }
        self.at.push_back(at);
    }

    fn idle(&self, now: Instant, longest: Duration) -> bool {
        self.at
            .back()
            .is_none_or(|t| now.saturating_duration_since(*t) > longest + WINDOW_MARGIN)
            && self.blocked_until.is_none_or(|u| u <= now)
    }
}

#[derive(Debug, Default)]
struct PacerState {
    endpoints: HashMap<String, Bucket>,
    issues: HashMap<String, IssueWrites>,
    quota_until: Option<Instant>,
    last_reason: Option<String>,
    near_limit: bool,
    remaining: Option<u64>,
}

/// What kind of request is being paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodClass {
    /// GET and POST.
    GetPost,
    /// PUT and DELETE.
    PutDelete,
}

/// The pacing state of one client.
#[derive(Debug)]
pub(crate) struct Pacer {
    config: PacingConfig,
    state: Mutex<PacerState>,
}

impl Pacer {
    pub(crate) fn new(config: PacingConfig) -> Self {
        Self {
            config,
            state: Mutex::new(PacerState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PacerState> {
        // A panic while holding this lock leaves only counters behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves a slot for a request to `endpoint` writing to `issues`: the
    /// wait before sending it.
    pub(crate) fn reserve(
        &self,
        endpoint: &str,
        class: MethodClass,
        issues: &[String],
    ) -> Duration {
        let now = Instant::now();
        let paced = self.config.enabled;
        let rate = match class {
            MethodClass::GetPost => self.config.get_post_per_second,
            MethodClass::PutDelete => self.config.put_delete_per_second,
        }
        .max(MIN_RATE);
        let mut state = self.state();
        let mut wait = state
            .quota_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let bucket = state
            .endpoints
            .entry(endpoint.to_owned())
            .or_insert_with(|| Bucket::new(rate, rate, now));
        wait = wait.max(bucket.reserve(now, paced));
        if !paced {
            // Unpaced: only what Jira refused holds a request back.
            return issues
                .iter()
                .filter_map(|issue| state.issues.get(issue)?.blocked_until)
                .map(|until| until.saturating_duration_since(now))
                .fold(wait, Duration::max);
        }
        if issues.is_empty() {
            return wait;
        }
        let windows = self.config.issue_writes;
        let longest = windows.iter().map(|w| w.window).max().unwrap_or_default();
        if state.issues.len() > MAX_TRACKED_ISSUES {
            state.issues.retain(|_, w| !w.idle(now, longest));
        }
        let mut counts: HashMap<&String, usize> = HashMap::new();
        for issue in issues {
            *counts.entry(issue).or_default() += 1;
        }
        let mut at = now + wait;
        for (issue, count) in &counts {
            let writes = state.issues.entry((*issue).clone()).or_default();
            at = at.max(writes.earliest(at, &windows, *count));
        }
        for issue in issues {
            if let Some(writes) = state.issues.get_mut(issue) {
                writes.record(at, now, longest);
            }
        }
        at.saturating_duration_since(now)
    }

    /// Takes in the rate-limit headers of an answer; for a 429, blocks what
    /// Jira refused and returns how long to wait before trying again (`None`
    /// when Jira did not say).
    pub(crate) fn observe(
        &self,
        endpoint: &str,
        issues: &[String],
        headers: &RateLimitHeaders,
        refused: bool,
    ) -> Option<Duration> {
        let now = Instant::now();
        let mut state = self.state();
        state.near_limit = headers.near_limit;
        if headers.remaining.is_some() {
            state.remaining = headers.remaining;
        }
        if !refused {
            if let Some(bucket) = state.endpoints.get_mut(endpoint) {
                bucket.rate = (bucket.rate * 1.1).min(bucket.base_rate);
            }
            return None;
        }
        let reason = headers.reason.clone().unwrap_or_default();
        state.last_reason = Some(reason.clone());
        let wait = headers.wait();
        let until = now + wait.unwrap_or(Duration::ZERO);
        if reason.starts_with("jira-quota") {
            state.quota_until = Some(state.quota_until.map_or(until, |u| u.max(until)));
        } else if reason == "jira-per-issue-on-write" && !issues.is_empty() {
            for issue in issues {
                let writes = state.issues.entry(issue.clone()).or_default();
                writes.blocked_until = Some(writes.blocked_until.map_or(until, |u| u.max(until)));
            }
        } else if let Some(bucket) = state.endpoints.get_mut(endpoint) {
            bucket.block(until);
            bucket.rate = (bucket.rate / 2.0).max(MIN_RATE);
        }
        wait
    }

    /// The latest `RateLimit-Reason` Jira gave.
    pub(crate) fn last_reason(&self) -> Option<String> {
        self.state().last_reason.clone()
    }

    /// How long to wait before the next batch: a quota pause, a blocked
    /// endpoint, or a short pause while Jira says the quota is nearly spent.
    pub(crate) fn wait_hint(&self) -> Duration {
        let now = Instant::now();
        let state = self.state();
        let remaining = |until: Option<Instant>| {
            until.map_or(Duration::ZERO, |u| u.saturating_duration_since(now))
        };
        let mut wait = remaining(state.quota_until);
        for bucket in state.endpoints.values() {
            wait = wait.max(remaining(bucket.blocked_until));
        }
        if state.near_limit {
            wait = wait.max(self.config.near_limit_pause);
        }
        wait
    }

    /// `X-RateLimit-Remaining` of the latest answer that had it.
    pub(crate) fn remaining(&self) -> Option<u64> {
        self.state().remaining
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_jira_rate_limit_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_712_066_400); // 2024-04-02T14:00:00Z
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2024-04-02T14:01Z"),
        );
        headers.insert(
            "ratelimit-reason",
            HeaderValue::from_static("jira-quota-tenant-based"),
        );
        headers.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        let read = RateLimitHeaders::read(&headers, now);
        assert_eq!(read.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(read.reset_in, Some(Duration::from_secs(60)));
        assert_eq!(read.reason.as_deref(), Some("jira-quota-tenant-based"));
        assert!(read.near_limit);
        assert_eq!(read.remaining, Some(12));
        assert_eq!(read.wait(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn parses_iso_instants_with_offsets() {
        let utc = parse_iso8601("2024-04-02T14:00:30Z").unwrap();
        let plus = parse_iso8601("2024-04-02T16:00:30+02:00").unwrap();
        assert_eq!(utc, plus);
        assert_eq!(
            utc.duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_secs(1_712_066_430)
        );
        assert!(parse_iso8601("yesterday").is_none());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            ..RetryPolicy::default()
        };
        for _ in 0..20 {
            let first = backoff(&policy, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let late = backoff(&policy, 10);
            assert!(late >= Duration::from_millis(200) && late <= Duration::from_millis(400));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_paces_beyond_its_burst() {
        let pacer = Pacer::new(PacingConfig {
            get_post_per_second: 10.0,
            ..PacingConfig::default()
        });
        for _ in 0..10 {
            assert_eq!(
                pacer.reserve("GET /x", MethodClass::GetPost, &[]),
                Duration::ZERO
            );
        }
        let wait = pacer.reserve("GET /x", MethodClass::GetPost, &[]);
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        // Another endpoint has its own bucket.
        assert_eq!(
            pacer.reserve("GET /y", MethodClass::GetPost, &[]),
            Duration::ZERO
        );
    }

    #[tokio::test(start_paused = true)]
    async fn quota_refusal_pauses_everything_and_shows_in_the_hint() {
        let pacer = Pacer::new(PacingConfig::default());
        pacer.reserve("POST /bulk", MethodClass::GetPost, &[]);
        let headers = RateLimitHeaders {
            retry_after: Some(Duration::from_secs(30)),
            reason: Some("jira-quota-global-based".into()),
            ..RateLimitHeaders::default()
        };
        let wait = pacer.observe("POST /bulk", &[], &headers, true);
        assert_eq!(wait, Some(Duration::from_secs(30)));
        assert!(pacer.reserve("GET /other", MethodClass::GetPost, &[]) >= Duration::from_secs(29));
        assert!(pacer.wait_hint() >= Duration::from_secs(29));
        assert_eq!(
            pacer.last_reason().as_deref(),
            Some("jira-quota-global-based")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn per_issue_refusal_blocks_only_that_issue() {
        let pacer = Pacer::new(PacingConfig::default());
        let a = vec!["P-1".to_owned()];
        let b = vec!["P-2".to_owned()];
        pacer.reserve("PUT /prop", MethodClass::PutDelete, &a);
        pacer.reserve("PUT /prop", MethodClass::PutDelete, &b);
        let headers = RateLimitHeaders {
            retry_after: Some(Duration::from_secs(2)),
            reason: Some("jira-per-issue-on-write".into()),
            ..RateLimitHeaders::default()
        };
        pacer.observe("PUT /prop", &a, &headers, true);
        assert!(pacer.reserve("PUT /prop", MethodClass::PutDelete, &a) >= Duration::from_secs(1));
        assert!(
            pacer.reserve("PUT /prop", MethodClass::PutDelete, &b) < Duration::from_millis(100)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn issue_write_budget_is_twenty_per_burst() {
        let pacer = Pacer::new(PacingConfig::default());
        let issue = vec!["P-1".to_owned()];
        for n in 0..20 {
            let wait = pacer.reserve(&format!("POST /e{n}"), MethodClass::GetPost, &issue);
            assert_eq!(wait, Duration::ZERO, "write {n}");
        }
        assert!(pacer.reserve("POST /e", MethodClass::GetPost, &issue) > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn issue_writes_stay_inside_both_sliding_windows() {
        let pacer = Pacer::new(PacingConfig::default());
        let issue = vec!["P-1".to_owned()];
        let start = Instant::now();
        let mut sent = Vec::new();
        for n in 0..130 {
            let wait = pacer.reserve(&format!("POST /e{n}"), MethodClass::GetPost, &issue);
            sent.push(start + wait);
        }
        for (n, at) in sent.iter().enumerate() {
            let in_window = |window: Duration| {
                sent[..n]
                    .iter()
                    .filter(|t| at.saturating_duration_since(**t) < window)
                    .count()
            };
            assert!(in_window(Duration::from_secs(2)) < 20, "write {n}");
            assert!(in_window(Duration::from_secs(30)) < 100, "write {n}");
        }
        // Twenty every two seconds until the hundredth, then the long window.
        assert!(sent[99].duration_since(start) < Duration::from_secs(9));
        assert!(sent[100].duration_since(start) >= Duration::from_secs(30));
        assert!(sent[100].duration_since(start) < Duration::from_secs(31));
    }

    #[tokio::test(start_paused = true)]
    async fn a_link_waits_for_the_busier_of_its_two_issues() {
        let pacer = Pacer::new(PacingConfig::default());
        let busy = vec!["P-1".to_owned()];
        for _ in 0..20 {
            pacer.reserve("PUT /prop", MethodClass::PutDelete, &busy);
        }
        let link = vec!["P-1".to_owned(), "P-2".to_owned()];
        let wait = pacer.reserve("POST /issueLink", MethodClass::GetPost, &link);
        assert!(wait >= Duration::from_secs(2), "{wait:?}");
        let other = pacer.reserve("POST /issueLink", MethodClass::GetPost, &["P-3".to_owned()]);
        assert!(other < Duration::from_millis(100), "{other:?}");
    }
}
