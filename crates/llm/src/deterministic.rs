//! The planner's own writer as an [`Llm`]: no network, no cost, the planner's
//! wording. It is what runs when no model is configured.

use serde_json::json;

use crate::port::{ChunkRequest, Llm, LlmFuture, RawAnswer, Usage};

/// The deterministic writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deterministic;

impl Llm for Deterministic {
    fn name(&self) -> &str {
        "deterministic"
    }

    fn model(&self) -> &str {
        "planner"
    }

    fn is_deterministic(&self) -> bool {
        true
    }

    fn write<'a>(&'a self, request: &'a ChunkRequest) -> LlmFuture<'a> {
        let tickets: Vec<serde_json::Value> = request
            .planner_prose
            .iter()
            .map(|(id, p)| {
                json!({
                    "id": id,
                    "summary": p.summary,
                    "overview_html": p.overview_html,
                    "implementation_html": p.implementation_html,
                    "acceptance_criteria": p.acceptance_criteria,
                    "risks": p.risks,
                    "notes": p.notes,
                    "suggested_dependencies": [],
                })
            })
            .collect();
        let text = json!({ "tickets": tickets }).to_string();
        Box::pin(async move {
            Ok(RawAnswer {
                text,
                usage: Usage::default(),
                retries: 0,
            })
        })
    }
}
