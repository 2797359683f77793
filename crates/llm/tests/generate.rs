//! The LLM writer end to end: the real providers over HTTP against the
//! emulator (`tests/llm-emulator`), on the complete sample site.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::item::ConfigItem;
use dtg_core::plan::{Plan, PlanSettings, plan};
use dtg_llm::anthropic::Anthropic;
use dtg_llm::http::{ApiKey, HttpSettings, RetryPolicy};
use dtg_llm::openai::{Flavour, OpenAi};
use dtg_llm::{
    ChunkOutcome, Deterministic, FindingCode, Generation, GenerationSettings, Llm, Price,
    PriceTable, generate,
};
use dtg_llm_emulator::{Api, Emulator, Fault, Script, ScriptedUsage, check_request, good_answer};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The complete sample site's items and plan.
fn sample() -> (Vec<ConfigItem>, Plan) {
    let dir = repo().join("sample_data/uwec_complete");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|p| {
            SourceFile::new(
                p.file_name().unwrap().to_string_lossy(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect();
    let report = validate(&files, &Limits::default());
    assert!(!report.has_errors());
    let plan = plan(&report.items, &PlanSettings::default()).unwrap();
    (report.items, plan)
}

/// A site of `n` content types: one ticket each.
fn content_types(n: usize) -> (Vec<ConfigItem>, Plan) {
    use std::fmt::Write as _;
    let mut csv = String::from(
        "machine_name,label,description,revisions,published_by_default,preview_mode,display_submitted,menus\n",
    );
    for i in 0..n {
        let _ = writeln!(
            csv,
            "type_{i:04},Type {i:04},\"Pages of kind {i}, with their own listing and editors.\",true,true,optional,false,"
        );
    }
    let report = validate(
        &[SourceFile::new("content_types.csv", csv)],
        &Limits::default(),
    );
    assert!(!report.has_errors(), "{:?}", report.findings);
    let plan = plan(&report.items, &PlanSettings::default()).unwrap();
    assert_eq!(plan.tickets.len(), n);
    (report.items, plan)
}

/// Where the answered ticket's id sits in an answer schema.
const TICKET_ID: &str = "/properties/tickets/items/properties/id";

/// Where a suggested dependency's id sits in an answer schema.
const SUGGESTED_ID: &str =
    "/properties/tickets/items/properties/suggested_dependencies/items/properties/id";

/// The `enum` at `pointer` in a schema, if it has one.
fn enum_at(schema: &Value, pointer: &str) -> Option<Vec<String>> {
    schema
        .pointer(pointer)?
        .get("enum")?
        .as_array()
        .map(|v| v.iter().map(|id| id.as_str().unwrap().to_owned()).collect())
}

/// Whether `answer` satisfies the answer format a request carried.
fn keeps_to(schema: &Value, answer: &Value) -> bool {
    jsonschema::validator_for(schema).unwrap().is_valid(answer)
}

fn http(timeout: Duration, attempts: u32) -> HttpSettings {
    HttpSettings {
        timeout,
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(10),
        },
        concurrency: 4,
    }
}

fn openai(emu: &Emulator, settings: HttpSettings) -> Arc<dyn Llm> {
    Arc::new(
        OpenAi::new(
            Flavour::OpenAi,
            "gpt-4o-mini",
            &emu.openai_base_url(),
            Some(ApiKey::new("sk-test")),
            settings,
        )
        .unwrap(),
    )
}

/// `provider` against the emulator, with a 10 s timeout and one retry.
fn provider_for(provider: Api, emu: &Emulator) -> Arc<dyn Llm> {
    let settings = http(Duration::from_secs(10), 2);
    match provider {
        Api::OpenAi => openai(emu, settings),
        Api::Anthropic => anthropic(emu, settings),
    }
}

fn anthropic(emu: &Emulator, settings: HttpSettings) -> Arc<dyn Llm> {
    Arc::new(
        Anthropic::new(
            "claude-haiku-4-5",
            &emu.anthropic_base_url(),
            ApiKey::new("sk-ant-test"),
            settings,
        )
        .unwrap(),
    )
}

fn settings(concurrency: usize) -> GenerationSettings {
    GenerationSettings {
        concurrency,
        prices: PriceTable::builtin().unwrap(),
        ..GenerationSettings::default()
    }
}

async fn run(
    plan: &Plan,
    items: &[ConfigItem],
    llm: Arc<dyn Llm>,
    s: &GenerationSettings,
) -> Generation {
    generate(plan, items, llm, s, &|_| {}).await.unwrap()
}

/// The fields a model must never change, for every ticket.
fn assert_structure_kept(before: &Plan, after: &Plan) {
    assert_eq!(before.order, after.order);
    assert_eq!(before.dependencies, after.dependencies);
    assert_eq!(before.epics, after.epics);
    assert_eq!(before.granularity, after.granularity);
    assert_eq!(before.tickets.len(), after.tickets.len());
    for (b, a) in before.tickets.iter().zip(&after.tickets) {
        assert_eq!(b.id, a.id);
        assert_eq!(b.items, a.items);
        assert_eq!(b.issue_type, a.issue_type);
        assert_eq!(b.epic, a.epic);
        assert_eq!(b.area, a.area);
        assert_eq!(b.labels, a.labels);
        assert_eq!(b.priority, a.priority);
        assert_eq!(b.estimate, a.estimate);
        assert_eq!(b.config_names, a.config_names);
        assert!(!a.title.is_empty() && a.title.chars().count() <= 255);
        assert!(!a.description_html.is_empty());
        assert!(!a.description_adf.content.is_empty());
        assert!(!a.acceptance_criteria.is_empty());
    }
}

// GIVEN the emulator checking bodies against OpenAI's OpenAPI document
// WHEN the OpenAI provider writes the whole sample site
// THEN every request body passes, and every ticket gets the model's prose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_request_bodies_pass_the_published_schema() {
    let (items, plan) = sample();
    let emu = Emulator::start(Script::default()).await.unwrap();
    let g = run(
        &plan,
        &items,
        openai(&emu, http(Duration::from_secs(10), 2)),
        &settings(8),
    )
    .await;
    let requests = emu.requests();
    assert_eq!(requests.len(), g.report.chunks.len());
    for r in &requests {
        assert_eq!(r.api, Api::OpenAi);
        assert!(r.schema_errors.is_empty(), "{:?}", r.schema_errors);
        assert!(r.has_key);
        assert_eq!(r.body["response_format"]["type"], "json_schema");
    }
    assert!(
        g.report
            .chunks
            .iter()
            .all(|c| c.outcome == ChunkOutcome::Written)
    );
    assert_eq!(g.report.tickets_written, plan.tickets.len());
    assert!(
        g.plan
            .tickets
            .iter()
            .all(|t| t.title.ends_with("(reviewed)"))
    );
    assert!(g.report.findings.is_empty(), "{:?}", g.report.findings);
    assert_structure_kept(&plan, &g.plan);
}

// GIVEN the emulator checking bodies against the documented Messages fields
// WHEN the Anthropic provider writes the whole sample site
// THEN every request body passes and the answer comes back through the tool call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_request_bodies_pass_the_documented_schema() {
    let (items, plan) = sample();
    let emu = Emulator::start(Script::default()).await.unwrap();
    let g = run(
        &plan,
        &items,
        anthropic(&emu, http(Duration::from_secs(10), 2)),
        &settings(8),
    )
    .await;
    for r in &emu.requests() {
        assert_eq!(r.api, Api::Anthropic);
        assert!(r.schema_errors.is_empty(), "{:?}", r.schema_errors);
        assert!(r.has_key);
        assert_eq!(r.body["tool_choice"]["type"], "tool");
    }
    assert_eq!(g.report.tickets_written, plan.tickets.len());
    assert_structure_kept(&plan, &g.plan);
}

// GIVEN the sample site's plan
// WHEN either provider writes it
// THEN the answer format of every request the model receives lists exactly
// that chunk's ticket ids as the ids it may answer for, and the plan's ticket
// ids as the ids it may suggest; an answer for another ticket, or suggesting
// one the plan does not have, breaks that format; the bodies still pass the
// request checks (OpenAI's strict-mode rules included), and the emulator's
// answers keep to the format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_format_names_the_chunk_and_plan_ids_for_both_providers() {
    let (items, plan) = sample();
    let plan_ids: Vec<String> = plan.tickets.iter().map(|t| t.id.clone()).collect();
    for provider in [Api::OpenAi, Api::Anthropic] {
        let emu = Emulator::start(Script::default()).await.unwrap();
        let llm = provider_for(provider, &emu);
        let g = run(&plan, &items, llm, &settings(8)).await;
        let requests = emu.requests();
        assert_eq!(requests.len(), g.report.chunks.len(), "{provider:?}");
        for r in &requests {
            assert_eq!(r.api, provider);
            assert!(
                r.schema_errors.is_empty(),
                "{provider:?}: {:?}",
                r.schema_errors
            );
            let schema = r
                .answer_schema()
                .expect("the request carries an answer format");
            let chunk = g
                .report
                .chunks
                .iter()
                .find(|c| r.ticket_ids.first() == c.tickets.first())
                .unwrap();
            assert_eq!(
                enum_at(schema, TICKET_ID).as_ref(),
                Some(&chunk.tickets),
                "{provider:?}"
            );
            assert_eq!(enum_at(schema, TICKET_ID), Some(r.ticket_ids.clone()));
            assert_eq!(
                enum_at(schema, SUGGESTED_ID).as_ref(),
                Some(&plan_ids),
                "{provider:?}"
            );

            let titled: Vec<(String, String)> = r
                .ticket_ids
                .iter()
                .map(|id| (id.clone(), id.clone()))
                .collect();
            let mut answer = good_answer(&titled);
            assert!(
                keeps_to(schema, &answer),
                "the emulator keeps to the format"
            );
            let stranger = plan_ids
                .iter()
                .find(|id| !r.ticket_ids.contains(id))
                .unwrap();
            answer["tickets"][0]["suggested_dependencies"] =
                json!([{"id": stranger, "reason": "another ticket of the plan"}]);
            assert!(
                keeps_to(schema, &answer),
                "any ticket of the plan may be suggested"
            );
            answer["tickets"][0]["suggested_dependencies"] =
                json!([{"id": "no-such-ticket", "reason": "invented"}]);
            assert!(!keeps_to(schema, &answer));
            let mut answer = good_answer(&titled);
            answer["tickets"][0]["id"] = json!(stranger);
            assert!(!keeps_to(schema, &answer), "{stranger} is not this chunk's");
        }
        assert_eq!(g.report.tickets_written, plan.tickets.len());
        assert!(g.report.findings.is_empty(), "{:?}", g.report.findings);
    }
}

// GIVEN a plan of 1,000 tickets, more ids than OpenAI takes in a strict
// schema's enums (1,000 values in all)
// WHEN either provider writes it
// THEN each chunk's ids are still listed, suggestions are left a free string,
// and every body passes OpenAI's strict-mode rules, which the plan's ids
// would have broken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_too_large_for_a_strict_enum_leaves_suggestions_free() {
    let (items, plan) = content_types(1_000);
    let plan_ids: Vec<String> = plan.tickets.iter().map(|t| t.id.clone()).collect();
    for provider in [Api::OpenAi, Api::Anthropic] {
        let emu = Emulator::start(Script::default()).await.unwrap();
        let llm = provider_for(provider, &emu);
        let g = run(&plan, &items, llm, &settings(8)).await;
        let requests = emu.requests();
        assert_eq!(requests.len(), g.report.chunks.len());
        for r in &requests {
            assert!(
                r.schema_errors.is_empty(),
                "{provider:?}: {:?}",
                r.schema_errors
            );
            let schema = r.answer_schema().unwrap();
            assert_eq!(enum_at(schema, TICKET_ID), Some(r.ticket_ids.clone()));
            assert_eq!(enum_at(schema, SUGGESTED_ID), None, "{provider:?}");
            assert!(schema.pointer(SUGGESTED_ID).is_some());
        }
        assert_eq!(g.report.tickets_written, plan.tickets.len());
        if provider == Api::OpenAi {
            let mut body = requests[0].body.clone();
            body["response_format"]["json_schema"]["schema"]["properties"]["tickets"]["items"]["properties"]
                ["suggested_dependencies"]["items"]["properties"]["id"]["enum"] = json!(plan_ids);
            let problems = check_request(Api::OpenAi, &body);
            assert!(
                problems.iter().any(|p| p.contains("enum values")),
                "{problems:?}"
            );
        }
    }
}

// The checks have teeth: bodies with undocumented or wrong fields are refused.
#[test]
fn request_checks_refuse_undocumented_fields() {
    let good_openai =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    assert!(check_request(Api::OpenAi, &good_openai).is_empty());
    let mut bad = good_openai.clone();
    bad["max_output"] = json!(10);
    assert!(!check_request(Api::OpenAi, &bad).is_empty());
    let bad = json!({"model": "gpt-4o-mini", "messages": [{"role": "narrator", "content": "hi"}]});
    assert!(!check_request(Api::OpenAi, &bad).is_empty());
    let bad =
        json!({"model": "gpt-4o-mini", "messages": [], "response_format": {"type": "json_schema"}});
    assert!(!check_request(Api::OpenAi, &bad).is_empty());

    let good_anthropic = json!({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert!(check_request(Api::Anthropic, &good_anthropic).is_empty());
    let bad = json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]});
    assert!(
        !check_request(Api::Anthropic, &bad).is_empty(),
        "max_tokens is required"
    );
    let mut bad = good_anthropic.clone();
    bad["response_format"] = json!({"type": "json_object"});
    assert!(!check_request(Api::Anthropic, &bad).is_empty());
    let mut bad = good_anthropic.clone();
    bad["messages"][0]["role"] = json!("system");
    assert!(!check_request(Api::Anthropic, &bad).is_empty());
    let mut bad = good_anthropic;
    bad["tools"] = json!([{"name": "t", "input_schema": {"type": "object", "properties": {"a": {"type": 12}}}}]);
    assert!(
        !check_request(Api::Anthropic, &bad).is_empty(),
        "a tool's input schema is JSON Schema"
    );

    // A strict answer format is held to the rules OpenAI documents for it.
    let strict = |schema: Value| {
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "f", "strict": true, "schema": schema}}})
    };
    let ok = json!({"type": "object", "additionalProperties": false, "required": ["a"],
        "properties": {"a": {"type": "string", "enum": ["x", "y"]}}});
    assert!(check_request(Api::OpenAi, &strict(ok.clone())).is_empty());
    let mut open = ok.clone();
    open["additionalProperties"] = json!(true);
    assert!(!check_request(Api::OpenAi, &strict(open)).is_empty());
    let mut optional = ok.clone();
    optional["required"] = json!([]);
    assert!(!check_request(Api::OpenAi, &strict(optional)).is_empty());
    let mut many = ok;
    many["properties"]["a"]["enum"] = json!((0..1_001).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(!check_request(Api::OpenAi, &strict(many)).is_empty());
}

// An OpenAI-compatible server: no key needed, `max_tokens`, same checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_servers_need_no_key() {
    let (items, plan) = sample();
    let emu = Emulator::start(Script::default()).await.unwrap();
    let llm: Arc<dyn Llm> = Arc::new(
        OpenAi::new(
            Flavour::Compatible,
            "llama3.1",
            &emu.openai_base_url(),
            None,
            http(Duration::from_secs(10), 2),
        )
        .unwrap(),
    );
    let g = run(&plan, &items, llm, &settings(4)).await;
    for r in &emu.requests() {
        assert!(r.schema_errors.is_empty(), "{:?}", r.schema_errors);
        assert!(!r.has_key);
        assert!(r.body.get("max_tokens").is_some());
    }
    assert_eq!(g.report.provider, "openai-compatible");
    assert_eq!(
        g.report.cost, None,
        "an unpriced model has no cost, not a zero cost"
    );
    assert_eq!(g.report.tickets_written, plan.tickets.len());
}

// GIVEN a 429 with `Retry-After: 1` (seconds), then one with an HTTP date
// WHEN the chunk is asked
// THEN the provider waits as long as told before trying again, and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_retried_after_the_time_the_server_asks() {
    let (items, plan) = sample();
    let first = plan.tickets[0].id.clone();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let script = Script::default()
        .fault_for(
            &first,
            Fault::RateLimit {
                retry_after: Some("1".to_owned()),
            },
        )
        .fault_for(
            &first,
            Fault::RateLimit {
                retry_after: Some(date),
            },
        );
    let emu = Emulator::start(script).await.unwrap();
    let g = run(
        &plan,
        &items,
        openai(&emu, http(Duration::from_secs(10), 4)),
        &settings(8),
    )
    .await;
    let asked: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.ticket_ids.contains(&first))
        .collect();
    assert_eq!(asked.len(), 3);
    let gap1 = asked[1].at - asked[0].at;
    let gap2 = asked[2].at - asked[1].at;
    assert!(
        gap1 >= Duration::from_secs(1),
        "waited {gap1:?}, Retry-After said 1 s"
    );
    assert!(gap1 < Duration::from_millis(1900), "waited {gap1:?}");
    // An HTTP date has whole seconds: at least 1 s of the 3 s is left by then.
    assert!(
        gap2 >= Duration::from_secs(1),
        "waited {gap2:?} for an HTTP-date Retry-After"
    );
    let chunk = g
        .report
        .chunks
        .iter()
        .find(|c| c.tickets.contains(&first))
        .unwrap();
    assert_eq!(chunk.http_retries, 2);
    assert_eq!(chunk.outcome, ChunkOutcome::Written);
    assert!(g.plan.ticket(&first).unwrap().title.ends_with("(reviewed)"));
}

// 5xx and timeouts are retried with backoff; the answer then counts as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_timeouts_are_retried() {
    let (items, plan) = sample();
    let first = plan.tickets[0].id.clone();
    let script = Script::default()
        .fault_for(&first, Fault::Status(503))
        .fault_for(&first, Fault::Hang(Duration::from_secs(3)))
        .fault_for(&first, Fault::Status(502));
    let emu = Emulator::start(script).await.unwrap();
    let g = run(
        &plan,
        &items,
        anthropic(&emu, http(Duration::from_millis(800), 4)),
        &settings(8),
    )
    .await;
    let chunk = g
        .report
        .chunks
        .iter()
        .find(|c| c.tickets.contains(&first))
        .unwrap();
    assert_eq!(chunk.http_retries, 3);
    assert_eq!(chunk.outcome, ChunkOutcome::Written);
    assert!(g.report.findings.is_empty());
}

// GIVEN a cut-off JSON answer (and, for another chunk, a body that is not JSON)
// WHEN the engine checks it
// THEN it asks once more with the reason in the prompt, and the second answer is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_answer_is_repaired_on_retry() {
    let (items, plan) = sample();
    let first = plan.tickets[0].id.clone();
    let last = plan.tickets.last().unwrap().id.clone();
    let script = Script::default()
        .fault_for(&first, Fault::MalformedAnswer)
        .fault_for(&last, Fault::BrokenBody);
    let emu = Emulator::start(script).await.unwrap();
    let g = run(
        &plan,
        &items,
        openai(&emu, http(Duration::from_secs(10), 2)),
        &settings(8),
    )
    .await;
    for id in [&first, &last] {
        let chunk = g
            .report
            .chunks
            .iter()
            .find(|c| c.tickets.contains(id))
            .unwrap();
        assert_eq!(chunk.outcome, ChunkOutcome::Repaired);
        assert_eq!(chunk.answers, 2);
        assert!(g.plan.ticket(id).unwrap().title.ends_with("(reviewed)"));
        let asked: Vec<_> = emu
            .requests()
            .into_iter()
            .filter(|r| r.ticket_ids.contains(id))
            .collect();
        assert_eq!(asked.len(), 2);
        let retry_prompt = asked[1].body["messages"][1]["content"].as_str().unwrap();
        assert!(
            retry_prompt.contains("Your previous answer was refused"),
            "{retry_prompt}"
        );
    }
    let repaired = g
        .report
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::AnswerRepaired)
        .count();
    assert_eq!(repaired, 2);
    assert_eq!(g.report.tickets_written, plan.tickets.len());
}

// GIVEN a model that breaks the answer schema twice for one chunk
// THEN that chunk's tickets keep the planner's text (never empty), with a finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistently_bad_answer_falls_back_to_the_planner_with_a_finding() {
    let (items, plan) = sample();
    let first = plan.tickets[0].id.clone();
    let script = Script::default()
        .fault_for(&first, Fault::SchemaViolation)
        .fault_for(&first, Fault::SchemaViolation);
    let emu = Emulator::start(script).await.unwrap();
    let g = run(
        &plan,
        &items,
        anthropic(&emu, http(Duration::from_secs(10), 2)),
        &settings(8),
    )
    .await;
    let chunk = g
        .report
        .chunks
        .iter()
        .find(|c| c.tickets.contains(&first))
        .unwrap();
    assert_eq!(chunk.outcome, ChunkOutcome::Fallback);
    let rejected: Vec<_> = g
        .report
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::AnswerRejected)
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].chunk, chunk.index);
    assert!(
        rejected[0].message.contains("acceptance_criteria"),
        "{}",
        rejected[0].message
    );
    for id in &chunk.tickets {
        assert_eq!(
            g.plan.ticket(id),
            plan.ticket(id),
            "{id} keeps the planner's text"
        );
    }
    assert_eq!(g.report.tickets_kept, chunk.tickets.len());
    assert_structure_kept(&plan, &g.plan);
}

// A provider that keeps failing: the planner's text, a finding, the rest goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_keeps_failing_falls_back_for_that_chunk() {
    let (items, plan) = sample();
    let first = plan.tickets[0].id.clone();
    let script = Script::default()
        .fault_for(&first, Fault::Status(500))
        .fault_for(&first, Fault::Status(500));
    let emu = Emulator::start(script).await.unwrap();
    let g = run(
        &plan,
        &items,
        openai(&emu, http(Duration::from_secs(10), 2)),
        &settings(8),
    )
    .await;
    let chunk = g
        .report
        .chunks
        .iter()
        .find(|c| c.tickets.contains(&first))
        .unwrap();
    assert_eq!(chunk.outcome, ChunkOutcome::Fallback);
    assert!(
        g.report
            .findings
            .iter()
            .any(|f| f.code == FindingCode::ProviderFailed && f.chunk == chunk.index)
    );
    assert_eq!(g.plan.ticket(&first), plan.ticket(&first));
    assert_eq!(
        g.report.tickets_written + g.report.tickets_kept,
        plan.tickets.len()
    );
}

// A refused key stops the generation with an error instead of falling back everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_stops_the_generation() {
    let (items, plan) = sample();
    let emu = Emulator::start(Script::default().fault(Fault::Status(401)))
        .await
        .unwrap();
    let s = settings(1);
    let e = generate(
        &plan,
        &items,
        openai(&emu, http(Duration::from_secs(10), 2)),
        &s,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(e.is_fatal());
    assert!(e.to_string().contains("401"), "{e}");
}

// GIVEN a hostile answer: a ticket that was not asked for, dependencies
// suggested on real, unknown and the same ticket, script in the HTML, a
// summary with line breaks, from a model ignoring the format it was sent
// (OpenAI or Anthropic)
// THEN ids, items, dependencies and order are the planner's; the stranger is
// ignored with a finding; the valid suggestion is kept for review only; the
// HTML is sanitised and converted to ADF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_output_cannot_change_ids_items_or_dependencies() {
    let (items, plan) = sample();
    let target = plan.dependencies[0].from.clone();
    let other = plan
        .tickets
        .iter()
        .map(|t| t.id.clone())
        .find(|id| {
            *id != target
                && !plan
                    .dependencies
                    .iter()
                    .any(|d| d.from == target && d.to == *id)
        })
        .unwrap();
    let emu_probe = Emulator::start(Script::default()).await.unwrap();
    let probe = run(
        &plan,
        &items,
        openai(&emu_probe, http(Duration::from_secs(10), 2)),
        &settings(8),
    )
    .await;
    let chunk_ids = probe
        .report
        .chunks
        .iter()
        .find(|c| c.tickets.contains(&target))
        .unwrap()
        .tickets
        .clone();

    let mut tickets: Vec<serde_json::Value> = chunk_ids
        .iter()
        .map(|id| json!({
            "id": id,
            "summary": "Rename\neverything",
            "overview_html": "<p>Fine words</p><script>alert('x')</script><img src=x onerror=alert(1)>",
            "implementation_html": "<p onclick=\"x()\">Delete <code>items</code>; <a href=\"javascript:alert(1)\">click</a></p>",
            "acceptance_criteria": ["<b>Works</b>"],
            "risks": [],
            "notes": "",
            "suggested_dependencies": [],
        }))
        .collect();
    tickets[0]["suggested_dependencies"] = json!([]);
    let pos = chunk_ids.iter().position(|id| *id == target).unwrap();
    tickets[pos]["suggested_dependencies"] = json!([
        {"id": other, "reason": "it should come first"},
        {"id": "no-such-ticket", "reason": "invented"},
        {"id": target, "reason": "itself"},
    ]);
    tickets.push(json!({
        "id": "ticket-the-model-made-up", "summary": "New", "overview_html": "<p>x</p>",
        "implementation_html": "", "acceptance_criteria": ["x"], "risks": [], "notes": "",
        "suggested_dependencies": [],
    }));
    for provider in [Api::OpenAi, Api::Anthropic] {
        let script =
            Script::default().fault_for(&target, Fault::Answer(json!({ "tickets": tickets })));
        let emu = Emulator::start(script).await.unwrap();
        let llm = provider_for(provider, &emu);
        let g = run(&plan, &items, llm, &settings(8)).await;

        // The model ignored the format it was sent, which named only real ids;
        // the answer was still used for the tickets asked, not refused.
        let asked = emu
            .requests()
            .into_iter()
            .find(|r| r.ticket_ids.contains(&target))
            .unwrap();
        let validator = jsonschema::validator_for(asked.answer_schema().unwrap()).unwrap();
        let broken: Vec<String> = validator
            .iter_errors(&json!({ "tickets": tickets }))
            .map(|e| e.to_string())
            .collect();
        for made_up in ["ticket-the-model-made-up", "no-such-ticket"] {
            assert!(
                broken.iter().any(|e| e.contains(made_up)),
                "{provider:?}: {broken:?}"
            );
        }
        let chunk = g
            .report
            .chunks
            .iter()
            .find(|c| c.tickets.contains(&target))
            .unwrap();
        assert_eq!(chunk.outcome, ChunkOutcome::Written, "{provider:?}");

        assert_structure_kept(&plan, &g.plan);
        assert!(g.plan.ticket("ticket-the-model-made-up").is_none());
        assert!(
            g.report
                .findings
                .iter()
                .any(|f| f.code == FindingCode::UnknownTicket
                    && f.ticket.as_deref() == Some("ticket-the-model-made-up"))
        );
        assert!(
            g.report
                .findings
                .iter()
                .any(|f| f.code == FindingCode::SuggestionDropped
                    && f.message.contains("no-such-ticket"))
        );
        assert_eq!(g.report.suggestions.len(), 1);
        assert_eq!(g.report.suggestions[0].from, target);
        assert_eq!(g.report.suggestions[0].to, other);
        assert!(
            !g.plan
                .dependencies
                .iter()
                .any(|d| d.from == target && d.to == other)
        );

        let t = g.plan.ticket(&target).unwrap();
        assert_eq!(t.title, "Rename everything");
        assert!(t.description_html.contains("Fine words"));
        for bad in ["<script", "onerror", "onclick", "javascript:", "<img"] {
            assert!(
                !t.description_html.contains(bad),
                "{bad} in {}",
                t.description_html
            );
        }
        assert_eq!(t.acceptance_criteria, vec!["Works".to_owned()]);
        // The planner's facts stay in the description: dependencies and config to export.
        let before = plan.ticket(&target).unwrap();
        assert!(before.description_html.contains("<h2>Depends on</h2>"));
        assert!(t.description_html.contains("<h2>Depends on</h2>"));
        for name in &before.config_names {
            assert!(t.description_html.contains(name.as_str()));
        }
        let adf = serde_json::to_string(&t.description_adf).unwrap();
        assert!(adf.contains("Fine words") && !adf.contains("alert"));
    }
}

// GIVEN scripted token counts and a price table
// THEN every chunk's cost and the total are exact, refused answers included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_totals_are_exact_for_scripted_token_counts() {
    let (items, plan) = sample();
    let first = plan.tickets[0].id.clone();
    let usage = ScriptedUsage {
        input_tokens: 1_234,
        output_tokens: 567,
        cached_tokens: 200,
    };
    for provider in ["openai", "anthropic"] {
        let script = Script {
            usage,
            ..Script::default()
        }
        .fault_for(&first, Fault::MalformedAnswer);
        let emu = Emulator::start(script).await.unwrap();
        let mut s = settings(8);
        let price = Price {
            input: 2_500_000,
            cached_input: 1_250_000,
            output: 10_000_000,
        };
        let llm = if provider == "openai" {
            s.prices.insert("gpt-4o-mini", price);
            openai(&emu, http(Duration::from_secs(10), 2))
        } else {
            s.prices.insert("claude-haiku-4-5", price);
            anthropic(&emu, http(Duration::from_secs(10), 2))
        };
        let g = run(&plan, &items, llm, &s).await;
        let answers: u64 = g.report.chunks.iter().map(|c| u64::from(c.answers)).sum();
        assert_eq!(
            answers,
            g.report.chunks.len() as u64 + 1,
            "one chunk answered twice"
        );
        // Per answer: 1,034 uncached x $2.50 + 200 cached x $1.25 + 567 x $10.00, per million.
        let per_answer: u128 = 1_034 * 2_500_000 + 200 * 1_250_000 + 567 * 10_000_000;
        assert_eq!(per_answer, 8_505_000_000);
        for c in &g.report.chunks {
            assert_eq!(c.cost.unwrap().pico_usd, per_answer * u128::from(c.answers));
            assert_eq!(c.usage.input_tokens, 1_234 * u64::from(c.answers));
        }
        assert_eq!(g.report.usage.input_tokens, 1_234 * answers);
        assert_eq!(g.report.usage.output_tokens, 567 * answers);
        assert_eq!(g.report.usage.cached_tokens, 200 * answers);
        let total = g.report.cost.unwrap();
        assert_eq!(
            total.pico_usd,
            per_answer * u128::from(answers),
            "{provider}"
        );
        // $0.008505 per answer.
        assert_eq!(total.to_string(), format!("${}.{:06}", 0, 8_505 * answers));
    }
}

// No provider configured: the planner's text, untouched, at no cost.
#[tokio::test]
async fn the_deterministic_writer_leaves_the_plan_as_planned() {
    let (items, plan) = sample();
    let g = run(&plan, &items, Arc::new(Deterministic), &settings(8)).await;
    assert_eq!(g.plan, plan);
    assert_eq!(
        g.report.usage.input_tokens + g.report.usage.output_tokens,
        0
    );
    assert!(
        g.report
            .chunks
            .iter()
            .all(|c| c.outcome == ChunkOutcome::Deterministic)
    );
}

// Chunks respect the budget and the ticket cap, and keep each CSV type together.
#[tokio::test]
async fn chunks_stay_under_the_budget() {
    let (items, plan) = sample();
    let s = GenerationSettings {
        token_budget: 6_000,
        max_tickets_per_chunk: 5,
        ..GenerationSettings::default()
    };
    let context = dtg_llm::prompt::SiteContext::new(&plan, &items);
    let chunks = dtg_llm::engine::chunks(&plan, &context, &s);
    let mut seen: Vec<usize> = chunks.iter().flat_map(|c| c.tickets.clone()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..plan.tickets.len()).collect::<Vec<_>>());
    for c in &chunks {
        assert!(c.tickets.len() <= 5);
        assert!(c.estimated_tokens <= 6_000 || c.tickets.len() == 1);
        assert!(
            c.tickets
                .iter()
                .all(|&i| context.csv_type(&plan.tickets[i]) == c.csv_type)
        );
    }
}
