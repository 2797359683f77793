//! Load on `dtg serve`: a 1,000-ticket session in review, 50 clients at once
//! reading pages of tickets and editing tickets (read, then write with
//! `If-Match`, again on 412), for a fixed number of requests each. Reports
//! requests per second and p50/p99 latency of reads and edits, and checks
//! that no accepted edit was lost: every ticket's stored version is one
//! more than the edits accepted on it, and it holds the last one's title.
//!
//! `cargo bench -p dtg-e2e --bench serve` (release build, SQLite store in a
//! temporary folder).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dtg_api::Backend;
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_core::session::{Position, Stage, Status};
use dtg_e2e::scaled_sample_plan;
use dtg_server::{ServeConfig, start, system_now};

const TICKETS: usize = 1_000;
const CLIENTS: usize = 50;
const REQUESTS_PER_CLIENT: usize = 40;

/// `DTG_BENCH_CLIENTS` / `DTG_BENCH_REQUESTS` override the defaults.
fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
/// Edits go to this many tickets, so clients collide on them.
const HOT_TICKETS: usize = 100;

/// A small deterministic generator (xorshift), one per client.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[derive(Default)]
struct Tally {
    reads: Vec<Duration>,
    edits: Vec<Duration>,
    stale: usize,
    /// Accepted edits: (ticket, new version, title).
    accepted: Vec<(String, u64, String)>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn client(
    n: usize,
    base: String,
    csrf: String,
    session: String,
    hot: Arc<Vec<String>>,
) -> Tally {
    dtg_jira::install_tls_crypto();
    let http = reqwest::Client::new();
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ ((n as u64 + 1) * 0x1234_5678));
    let mut tally = Tally::default();
    let mut done = 0;
    while done < setting("DTG_BENCH_REQUESTS", REQUESTS_PER_CLIENT) {
        if dice.next(10) < 7 {
            let page = dice.next(TICKETS / 50) + 1;
            let t = Instant::now();
            let r = http
                .get(format!(
                    "{base}/api/v1/sessions/{session}/tickets?page={page}&per_page=50"
                ))
                .send()
                .await
                .expect("read");
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await.expect("read body");
            tally.reads.push(t.elapsed());
            done += 1;
            continue;
        }
        let ticket = &hot[dice.next(hot.len())];
        let url = format!("{base}/api/v1/sessions/{session}/tickets/{ticket}");
        let t = Instant::now();
        let read = http.get(&url).send().await.expect("read ticket");
        let mut etag = read.headers()["etag"].to_str().expect("etag").to_owned();
        let _ = read.bytes().await;
        done += 1;
        loop {
            let title = format!("Edited by client {n} at {done}");
            let r = http
                .patch(&url)
                .header("x-csrf-token", &csrf)
                .header("if-match", &etag)
                .json(&serde_json::json!({ "title": title }))
                .send()
                .await
                .expect("edit");
            done += 1;
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            let body: serde_json::Value = r.json().await.expect("edit body");
            match status {
                200 => {
                    let version = body["version"].as_u64().expect("version");
                    tally.accepted.push((ticket.clone(), version, title));
                    break;
                }
                412 => {
                    tally.stale += 1;
                    etag = body["etag"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| {
                            headers
                                .get("etag")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        })
                        .expect("current etag");
                }
                other => panic!("edit answered {other}: {body}"),
            }
        }
        tally.edits.push(t.elapsed());
    }
    tally
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let running = start(ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: Some(dir.path().join("store.sqlite")),
            blobs: dir.path().join("blobs"),
            blob_secret: b"bench".to_vec(),
            token_key: dtg_app::repo::TokenCipher::generate_key_hex(),
            web_dir: None,
            accounts: None,
            llm: Vec::new(),
            jira: Arc::new(|site: &str| dtg_jira::JiraConfig::new(site)),
            allow_http_sites: false,
            web_origin: None,
        })
        .await
        .expect("serve");
        let base = running.url.clone();

        // A 1,000-ticket session of the local user, in review.
        let plan = scaled_sample_plan(TICKETS, 8);
        let repos = Repos::new(running.backend.table(), DEFAULT_TTL_SECONDS);
        let now = system_now();
        let mut session = repos
            .create_session("bench", "local", "load", now)
            .await
            .expect("session");
        for to in [
            Position::new(Stage::Upload, Status::Active),
            Position::new(Stage::Processing, Status::Processing),
        ] {
            session = repos.move_session(&session, to, now).await.expect("move");
        }
        repos.save_plan(&session.value, &plan, now).await.expect("plan");
        repos
            .move_session(&session, Position::new(Stage::Review, Status::Active), now)
            .await
            .expect("review");
        dtg_jira::install_tls_crypto();
        let me: serde_json::Value = reqwest::get(format!("{base}/api/v1/auth/me"))
            .await
            .expect("me")
            .json()
            .await
            .expect("me body");
        let csrf = me["csrf_token"].as_str().expect("csrf").to_owned();
        let hot: Arc<Vec<String>> =
            Arc::new(plan.order.iter().step_by(TICKETS / HOT_TICKETS).cloned().collect());

        let started = Instant::now();
        let clients = setting("DTG_BENCH_CLIENTS", CLIENTS);
        let tasks: Vec<_> = (0..clients)
            .map(|n| {
                tokio::spawn(client(
                    n,
                    base.clone(),
                    csrf.clone(),
                    "bench".to_owned(),
                    Arc::clone(&hot),
                ))
            })
            .collect();
        let mut all = Tally::default();
        for t in tasks {
            let t = t.await.expect("client");
            all.reads.extend(t.reads);
            all.edits.extend(t.edits);
            all.stale += t.stale;
            all.accepted.extend(t.accepted);
        }
        let elapsed = started.elapsed();

        // No lost update: per ticket, the stored version is 1 + accepted
        // edits, and the title is the accepted edit with the highest version.
        let mut last: BTreeMap<&str, (u64, &str, u64)> = BTreeMap::new();
        for (ticket, version, title) in &all.accepted {
            let e = last.entry(ticket).or_insert((0, "", 0));
            e.2 += 1;
            if *version > e.0 {
                e.0 = *version;
                e.1 = title;
            }
        }
        let mut checked = 0;
        for (ticket, (version, title, count)) in &last {
            let stored = repos
                .ticket("bench", ticket, system_now())
                .await
                .expect("read back")
                .expect("ticket");
            assert_eq!(stored.version, 1 + count, "{ticket}: an accepted edit was lost");
            assert_eq!(stored.version, *version);
            assert_eq!(stored.value.title, *title, "{ticket}: the last edit is stored");
            checked += 1;
        }

        all.reads.sort();
        all.edits.sort();
        let requests = all.reads.len() + all.edits.len() * 2 + all.stale;
        println!("dtg serve under load: {TICKETS} tickets, {clients} clients, {requests} requests");
        println!(
            "  {:.0} requests/s over {:.2} s",
            requests as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
        println!(
            "  page reads (50 tickets): {} at p50 {:.1} ms, p99 {:.1} ms",
            all.reads.len(),
            percentile(&all.reads, 0.5).as_secs_f64() * 1e3,
            percentile(&all.reads, 0.99).as_secs_f64() * 1e3
        );
        println!(
            "  edits (read + If-Match write, retried on 412): {} at p50 {:.1} ms, p99 {:.1} ms; {} answered 412",
            all.edits.len(),
            percentile(&all.edits, 0.5).as_secs_f64() * 1e3,
            percentile(&all.edits, 0.99).as_secs_f64() * 1e3,
            all.stale
        );
        println!(
            "  no lost update: {} accepted edits on {checked} tickets, every one in the final state",
            all.accepted.len()
        );
    });
}
