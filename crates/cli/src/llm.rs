//! `dtg plan --llm ...`: the planner's tickets worded by a language model,
//! with a progress bar over chunks, a usage and cost summary, and the
//! generation report kept with the session.

use std::io::IsTerminal as _;
use std::io::Write as _;

use anyhow::{Context, Result};
use clap::ValueEnum;
use dtg_app::workflow::save_wording;
use dtg_core::item::ConfigItem;
use dtg_core::plan::Plan;
use dtg_llm::{Generation, GenerationReport, LlmConfig, Progress, ProviderKind, generate};
use indicatif::{ProgressBar, ProgressStyle};

/// Providers on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// OpenAI Chat Completions.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Any OpenAI-compatible server (Ollama, vLLM, llama.cpp, LiteLLM): needs --base-url.
    OpenaiCompatible,
    /// The planner's own text (the default).
    Deterministic,
}

/// The LLM options of `dtg plan` (the `DTG_LLM_*` environment fills the rest).
#[derive(Debug, Clone, clap::Args)]
pub struct LlmArgs {
    /// Have a language model word the tickets (default: `DTG_LLM_PROVIDER`, else the planner's text).
    #[arg(long = "llm", value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,
    /// The model (default: `DTG_LLM_MODEL`, else gpt-4o-mini / claude-haiku-4-5).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// The API root (default: `DTG_LLM_BASE_URL`, else the provider's public API).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Chunks asked at once (default: `DTG_LLM_CONCURRENCY`, else 8).
    #[arg(long, value_name = "N")]
    pub llm_concurrency: Option<usize>,
}

/// The configuration the arguments and the environment describe.
fn config(args: &LlmArgs) -> Result<LlmConfig> {
    let mut config = LlmConfig::from_env()?;
    if let Some(p) = args.provider {
        config.provider = match p {
            ProviderArg::Openai => ProviderKind::OpenAi,
            ProviderArg::Anthropic => ProviderKind::Anthropic,
            ProviderArg::OpenaiCompatible => ProviderKind::OpenAiCompatible,
            ProviderArg::Deterministic => ProviderKind::Deterministic,
        };
        if std::env::var_os("DTG_LLM_API_KEY").is_none() {
            // The key of the provider named here, not of the one in the environment.
            let key = match config.provider {
                ProviderKind::OpenAi => std::env::var("OPENAI_API_KEY").ok(),
                ProviderKind::Anthropic => std::env::var("ANTHROPIC_API_KEY").ok(),
                _ => None,
            };
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                config.api_key = Some(dtg_llm::http::ApiKey::new(key));
            }
        }
    }
    if args.model.is_some() {
        config.model.clone_from(&args.model);
    }
    if args.base_url.is_some() {
        config.base_url.clone_from(&args.base_url);
    }
    if let Some(n) = args.llm_concurrency {
        config.set_concurrency(n);
    }
    Ok(config)
}

/// Words the plan's tickets with the configured model; `None` when the
/// planner's own text is asked for (no `--llm`, no `DTG_LLM_PROVIDER`).
///
/// # Errors
/// A configuration problem (no key, no model), or a provider refusing the
/// key or the model.
pub fn write(args: &LlmArgs, plan: &Plan, items: &[ConfigItem]) -> Result<Option<Generation>> {
    let config = config(args)?;
    if config.provider == ProviderKind::Deterministic {
        return Ok(None);
    }
    let llm = config.build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} chunks ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!(
        "Writing tickets with {} {}",
        llm.name(),
        llm.model()
    ));
    let generation = runtime.block_on(generate(
        plan,
        items,
        llm,
        &config.generation,
        &|p| match p {
            Progress::Started { chunks } => bar.set_length(chunks as u64),
            Progress::ChunkDone { done, .. } => bar.set_position(done as u64),
        },
    ));
    bar.finish_and_clear();
    let generation = generation?;
    summary(&mut anstream::stderr().lock(), &generation.report)?;
    Ok(Some(generation))
}

/// The human summary of a generation: tickets, tokens, cost, findings.
///
/// # Errors
/// Writing to `out` failed.
pub fn summary(out: &mut impl std::io::Write, report: &GenerationReport) -> std::io::Result<()> {
    let cost = report.cost.map_or_else(
        || "cost unknown (no price for this model: see DTG_LLM_PRICES)".to_owned(),
        |c| format!("cost {c}"),
    );
    writeln!(
        out,
        "{} {}: {} tickets worded, {} kept the planner's text, {} chunks, {:.1} s",
        report.provider,
        report.model,
        report.tickets_written,
        report.tickets_kept,
        report.chunks.len(),
        report.elapsed_ms as f64 / 1000.0
    )?;
    writeln!(
        out,
        "tokens: {} in ({} cached), {} out; {cost}",
        report.usage.input_tokens, report.usage.cached_tokens, report.usage.output_tokens
    )?;
    for f in &report.findings {
        let code = serde_json::to_value(f.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(out, "  chunk {}: {code}: {}", f.chunk, f.message)?;
    }
    if !report.suggestions.is_empty() {
        writeln!(
            out,
            "{} dependencies suggested for review (not applied); see \"generation\".\"suggestions\" in the JSON",
            report.suggestions.len()
        )?;
    }
    Ok(())
}

/// Saves the worded plan and the generation report (as a succeeded
/// processing task whose result is the report) into session `id`.
///
/// # Errors
/// No such session; the store failing; a ticket edited meanwhile.
pub fn save_in_session(id: &str, generation: &Generation) -> Result<()> {
    let store = crate::local::LocalStore::open()?;
    let session = store.find(id)?.value;
    let repos = store.repos();
    let run_id = crate::local::new_id();
    let report = &generation.report;
    store.block_on(save_wording(
        &repos,
        &session.id,
        &generation.plan,
        serde_json::to_value(report)?,
        &report.provider,
        &report.model,
        crate::local::LocalStore::run(&run_id),
    ))?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "Worded plan and its usage and cost saved in session {}.",
        session.id
    )?;
    Ok(())
}
