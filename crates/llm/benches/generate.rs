//! Generation throughput against the LLM emulator answering every chunk after
//! a fixed 2 s delay: 1,000 tickets, a concurrency of 8. The wall time must stay
//! under ceil(chunks / 8) x 2 s + 10%: chunks really run 8 at a time, and the
//! engine adds next to nothing. Run with `cargo bench -p dtg-llm`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{PlanSettings, plan};
use dtg_llm::http::{ApiKey, HttpSettings};
use dtg_llm::openai::{Flavour, OpenAi};
use dtg_llm::{ChunkOutcome, GenerationSettings, Llm, Progress, generate};
use dtg_llm_emulator::{Emulator, Script};

const TICKETS: usize = 1_000;
const CONCURRENCY: usize = 8;
const DELAY: Duration = Duration::from_secs(2);

/// A site of 1,000 content types: one ticket each.
fn site() -> SourceFile {
    let mut csv = String::from(
        "machine_name,label,description,revisions,published_by_default,preview_mode,display_submitted,menus\n",
    );
    for i in 0..TICKETS {
        let _ = writeln!(
            csv,
            "type_{i:04},Type {i:04},\"Pages of kind {i}, with their own listing and editors.\",true,true,optional,false,"
        );
    }
    SourceFile::new("content_types.csv", csv)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, so keep it honest either way.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let report = validate(&[site()], &Limits::default());
        assert!(!report.has_errors(), "{:?}", report.findings);
        let plan = plan(&report.items, &PlanSettings::default()).unwrap();
        assert_eq!(plan.tickets.len(), TICKETS);

        let emulator = Emulator::start(Script::with_delay(DELAY)).await.unwrap();
        let http = HttpSettings {
            concurrency: CONCURRENCY,
            ..HttpSettings::default()
        };
        let llm: Arc<dyn Llm> = Arc::new(
            OpenAi::new(
                Flavour::OpenAi,
                "gpt-4o-mini",
                &emulator.openai_base_url(),
                Some(ApiKey::new("sk-bench")),
                http,
            )
            .unwrap(),
        );
        let settings = GenerationSettings {
            concurrency: CONCURRENCY,
            ..GenerationSettings::default()
        };
        let done = AtomicUsize::new(0);
        let started = Instant::now();
        let g = generate(&plan, &report.items, llm, &settings, &|p| {
            if let Progress::ChunkDone { .. } = p {
                done.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await
        .unwrap();
        let wall = started.elapsed();

        let chunks = g.report.chunks.len();
        let rounds = chunks.div_ceil(CONCURRENCY);
        let ideal = DELAY * u32::try_from(rounds).unwrap();
        let bound = ideal.mul_f64(1.1);
        let written = g
            .report
            .chunks
            .iter()
            .filter(|c| c.outcome == ChunkOutcome::Written)
            .count();
        let bad_bodies = emulator
            .requests()
            .iter()
            .filter(|r| !r.schema_errors.is_empty())
            .count();
        println!(
            "generate/{TICKETS} tickets, {chunks} chunks, concurrency {CONCURRENCY}, {DELAY:?} per answer"
        );
        println!(
            "  wall {:.3} s; bound ceil({chunks}/{CONCURRENCY}) x 2 s + 10% = {:.3} s (ideal {:.1} s, overhead {:.1}%)",
            wall.as_secs_f64(),
            bound.as_secs_f64(),
            ideal.as_secs_f64(),
            (wall.as_secs_f64() / ideal.as_secs_f64() - 1.0) * 100.0
        );
        println!(
            "  chunks written {written}/{chunks}, progress events {}, request bodies refused {bad_bodies}",
            done.load(Ordering::Relaxed)
        );
        if wall <= bound && written == chunks && bad_bodies == 0 {
            ExitCode::SUCCESS
        } else {
            eprintln!("FAILED: over the bound, or chunks not written");
            ExitCode::FAILURE
        }
    })
}
