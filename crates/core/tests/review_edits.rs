//! Review edits on a real site's plan: each refusal says what, where and how,
//! and the plan stays whole (a valid build order holding every ticket once,
//! epics listing their tickets in that order, dependencies sorted) through
//! any sequence of edits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dtg_core::adf::{JIRA_DESCRIPTION_LIMIT, OVERFLOW_FILE_NAME, json_len};
use dtg_core::plan::edit::{
    ADDED_IN_REVIEW, EditError, EditLimits, TicketEdit, add_dependency, apply_edit, changed_fields,
    check_html, html_depth, merge_tickets, remove_dependency, remove_ticket, replace_ticket,
};
use dtg_core::plan::{IssueType, Plan, PlanSettings, Priority, plan};
use proptest::prelude::*;

use common::{sample, validate_dir};

/// The plan of `sample_data/uwec_complete`, made once.
fn uwec() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let report = validate_dir(&sample("uwec_complete"));
        assert!(!report.has_errors());
        plan(&report.items, &PlanSettings::default()).unwrap()
    })
}

/// Panics unless `p` is whole: `order` a topological order of every ticket
/// exactly once, tickets in that order, epics' lists in that order and
/// covering every ticket, dependencies sorted and between known tickets.
fn assert_whole(p: &Plan) {
    assert_whole_but_sorting(p);
    assert!(
        p.dependencies.windows(2).all(|w| w[0] <= w[1]),
        "dependencies are not sorted"
    );
}

/// [`assert_whole`] without the sorting (the planner lists dependencies in build order).
fn assert_whole_but_sorting(p: &Plan) {
    let position: HashMap<&str, usize> = p
        .order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    assert_eq!(position.len(), p.order.len(), "an id twice in the order");
    assert_eq!(p.order.len(), p.tickets.len());
    let ids: Vec<&str> = p.tickets.iter().map(|t| t.id.as_str()).collect();
    let order: Vec<&str> = p.order.iter().map(String::as_str).collect();
    assert_eq!(ids, order, "tickets are not in build order");
    for d in &p.dependencies {
        let (from, to) = (position[d.from.as_str()], position[d.to.as_str()]);
        assert!(to < from, "{} needs {} but comes first", d.from, d.to);
    }
    let mut listed = BTreeSet::new();
    for e in &p.epics {
        assert!(!e.tickets.is_empty(), "epic {} is empty", e.id);
        let positions: Vec<usize> = e.tickets.iter().map(|t| position[t.as_str()]).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "epic {} out of order",
            e.id
        );
        for t in &e.tickets {
            assert_eq!(p.ticket(t).unwrap().epic, e.id);
            assert!(listed.insert(t.clone()));
        }
    }
    assert_eq!(listed.len(), p.tickets.len(), "a ticket in no epic");
}

/// Two tickets where `a` needs `b`, directly.
fn an_edge(p: &Plan) -> (String, String) {
    let d = &p.dependencies[0];
    (d.from.clone(), d.to.clone())
}

#[test]
fn the_sample_plan_is_whole_to_start_with() {
    assert_whole_but_sorting(uwec());
    assert!(uwec().tickets.len() > 30);
}

#[test]
fn an_edit_changes_only_what_it_names_and_converts_the_description() {
    let p = uwec();
    let t = &p.tickets[3];
    let edit = TicketEdit {
        title: Some("  Build the events content type  ".into()),
        description_html: Some(
            "<h2>Why</h2><p>Because <script>alert(1)</script><b>events</b>.</p>".into(),
        ),
        priority: Some(Priority::Highest),
        labels: Some(vec!["drupal".into(), "events".into(), "drupal".into()]),
        estimate: Some(8),
        assignee: Some(Some(" alice@example.com ".into())),
        ..TicketEdit::default()
    };
    let out = apply_edit(t, &edit, &p.epics, &EditLimits::default()).unwrap();
    assert_eq!(out.title, "Build the events content type");
    assert!(!out.description_html.contains("script"));
    assert!(out.description_html.contains("<b>events</b>"));
    assert_eq!(
        out.description_adf,
        dtg_core::adf::html_to_adf(&out.description_html)
    );
    assert_eq!(out.labels, ["drupal", "events"]);
    assert_eq!((out.estimate, out.priority), (8, Priority::Highest));
    assert_eq!(out.assignee.as_deref(), Some("alice@example.com"));
    assert_eq!(
        (&out.items, &out.id, out.issue_type),
        (&t.items, &t.id, t.issue_type)
    );
    assert_eq!(
        changed_fields(t, &out),
        [
            "title",
            "description_html",
            "priority",
            "labels",
            "estimate",
            "assignee"
        ]
    );

    // null unsets, an absent field keeps
    let unset: TicketEdit = serde_json::from_str(r#"{"assignee": null}"#).unwrap();
    let cleared = apply_edit(&out, &unset, &p.epics, &EditLimits::default()).unwrap();
    assert_eq!(cleared.assignee, None);
    let keep: TicketEdit = serde_json::from_str(r#"{"sprint": "Sprint 4"}"#).unwrap();
    let kept = apply_edit(&out, &keep, &p.epics, &EditLimits::default()).unwrap();
    assert_eq!(kept.assignee.as_deref(), Some("alice@example.com"));
    assert_eq!(kept.sprint.as_deref(), Some("Sprint 4"));
    let unknown = serde_json::from_str::<TicketEdit>(r#"{"titel": "x"}"#).unwrap_err();
    assert!(unknown.to_string().contains("titel"), "{unknown}");
}

#[test]
fn a_long_description_keeps_its_overflow_attachment() {
    let p = uwec();
    let long = format!("<p>{}</p>", "word ".repeat(20_000));
    let edit = TicketEdit {
        description_html: Some(long),
        ..TicketEdit::default()
    };
    let out = apply_edit(&p.tickets[0], &edit, &p.epics, &EditLimits::default()).unwrap();
    assert!(json_len(&out.description_adf) <= JIRA_DESCRIPTION_LIMIT);
    assert_eq!(out.attachments.len(), 1);
    assert_eq!(out.attachments[0].file_name, OVERFLOW_FILE_NAME);
}

#[test]
fn new_acceptance_criteria_rewrite_the_checklist() {
    let p = uwec();
    let t = &p.tickets[5];
    assert!(t.description_html.contains("<h2>Acceptance criteria</h2>"));
    let edit = TicketEdit {
        acceptance_criteria: Some(vec!["  Editors can   add <events>  ".into(), String::new()]),
        ..TicketEdit::default()
    };
    let out = apply_edit(t, &edit, &p.epics, &EditLimits::default()).unwrap();
    assert_eq!(out.acceptance_criteria, ["Editors can add <events>"]);
    assert!(
        out.description_html
            .contains("Editors can add &lt;events&gt;")
    );
    assert_eq!(
        out.description_html
            .matches("<h2>Acceptance criteria</h2>")
            .count(),
        1
    );
    for old in &t.acceptance_criteria {
        assert!(!dtg_core::plan::edit::description_text(&out).contains(old.as_str()));
    }
}

#[test]
fn moving_to_another_epic_moves_the_area_and_its_label() {
    let p = uwec();
    let t = p
        .tickets
        .iter()
        .find(|t| t.labels.contains(&"content-model".to_owned()))
        .unwrap();
    let target = p.epics.iter().find(|e| e.id != t.epic).unwrap();
    let edit = TicketEdit {
        epic: Some(target.id.clone()),
        ..TicketEdit::default()
    };
    let out = apply_edit(t, &edit, &p.epics, &EditLimits::default()).unwrap();
    assert_eq!(
        (out.epic.as_str(), out.area),
        (target.id.as_str(), target.area)
    );
    assert!(out.labels.contains(&target.area.slug().to_owned()));
    assert!(
        !out.labels.contains(&"content-model".to_owned()),
        "stale area label kept: {:?}",
        out.labels
    );

    // labels given with the move are taken as given
    let edit = TicketEdit {
        epic: Some(target.id.clone()),
        labels: Some(vec!["content-model".into()]),
        ..TicketEdit::default()
    };
    let out = apply_edit(t, &edit, &p.epics, &EditLimits::default()).unwrap();
    assert_eq!(out.labels, ["content-model"]);

    // the plan follows: the ticket is listed under its new epic
    let moved = replace_ticket(
        p,
        apply_edit(
            t,
            &TicketEdit {
                epic: Some(target.id.clone()),
                ..TicketEdit::default()
            },
            &p.epics,
            &EditLimits::default(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_whole(&moved);
    assert!(
        moved
            .epics
            .iter()
            .find(|e| e.id == target.id)
            .unwrap()
            .tickets
            .contains(&t.id)
    );
    assert_eq!(moved.order, p.order);
}

fn refused(edit: TicketEdit) -> EditError {
    let p = uwec();
    apply_edit(&p.tickets[0], &edit, &p.epics, &EditLimits::default()).unwrap_err()
}

#[test]
fn each_refusal_names_the_field_and_the_fix() {
    let cases: Vec<(TicketEdit, &str, &str, &str)> = vec![
        (
            TicketEdit {
                title: Some("   ".into()),
                ..Default::default()
            },
            "title_empty",
            "title",
            "empty",
        ),
        (
            TicketEdit {
                title: Some("two\nlines".into()),
                ..Default::default()
            },
            "not_one_line",
            "title",
            "one line",
        ),
        (
            TicketEdit {
                title: Some("x".repeat(256)),
                ..Default::default()
            },
            "title_too_long",
            "title",
            "256 characters",
        ),
        (
            TicketEdit {
                labels: Some(vec!["drupal".into(), "needs review".into()]),
                ..Default::default()
            },
            "label_has_whitespace",
            "labels",
            "'needs review'",
        ),
        (
            TicketEdit {
                labels: Some(vec!["a".into(), " ".into()]),
                ..Default::default()
            },
            "label_empty",
            "labels",
            "label 2",
        ),
        (
            TicketEdit {
                labels: Some(vec!["l".repeat(300)]),
                ..Default::default()
            },
            "label_too_long",
            "labels",
            "255",
        ),
        (
            TicketEdit {
                estimate: Some(101),
                ..Default::default()
            },
            "estimate_out_of_range",
            "estimate",
            "0 to 100",
        ),
        (
            TicketEdit {
                epic: Some("epic-nope".into()),
                ..Default::default()
            },
            "unknown_epic",
            "epic",
            "epic-platform",
        ),
        (
            TicketEdit {
                issue_type: Some(IssueType::Epic),
                ..Default::default()
            },
            "ticket_as_epic",
            "type",
            "Story or Task",
        ),
        (
            TicketEdit {
                assignee: Some(Some("a\tb".into())),
                ..Default::default()
            },
            "not_one_line",
            "assignee",
            "one line",
        ),
        (
            TicketEdit {
                sprint: Some(Some("s".repeat(256))),
                ..Default::default()
            },
            "value_too_long",
            "sprint",
            "256",
        ),
        (
            TicketEdit {
                acceptance_criteria: Some(vec!["c".into(); 101]),
                ..Default::default()
            },
            "too_many_values",
            "acceptance_criteria",
            "101",
        ),
        (
            TicketEdit {
                description_html: Some("<p>x</p>".repeat(40_000)),
                ..Default::default()
            },
            "html_too_large",
            "description_html",
            "bytes",
        ),
        (
            TicketEdit {
                description_html: Some("<div>".repeat(100) + "x"),
                ..Default::default()
            },
            "html_too_deep",
            "description_html",
            "64 deep",
        ),
    ];
    for (edit, code, field, words) in cases {
        let err = refused(edit);
        assert_eq!((err.code(), err.field()), (code, field), "{err}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
        assert!(message.contains(words), "{message} lacks {words}");
        assert!(message.contains(';'), "no fix given: {message}");
    }
}

#[test]
fn hostile_html_is_refused_quickly() {
    let limits = EditLimits::default();
    let started = Instant::now();
    let big = "<p>a</p>".repeat(10 * 1024 * 1024 / 8);
    assert!(matches!(
        check_html(&big, &limits),
        Err(EditError::HtmlTooLarge { .. })
    ));
    let deep = "<div>".repeat(100_000);
    let generous = EditLimits {
        max_html_bytes: usize::MAX,
        ..limits
    };
    assert!(matches!(
        check_html(&deep, &generous),
        Err(EditError::HtmlTooDeep { limit: 64 })
    ));
    let unclosed_quote = format!("<div title=\"{}", "x".repeat(1_000_000));
    check_html(&unclosed_quote, &generous).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // a deep but allowed document goes through the whole pipeline
    let ok = "<blockquote>".repeat(60) + "deep" + &"</blockquote>".repeat(60);
    assert_eq!(html_depth(&ok, 64), 60);
    let edit = TicketEdit {
        description_html: Some(ok),
        ..TicketEdit::default()
    };
    apply_edit(&uwec().tickets[0], &edit, &[], &limits).unwrap();
}

#[test]
fn adding_a_dependency_reorders_as_little_as_it_can() {
    let p = uwec();
    // an early ticket made to need a later one it has no path to
    let index: HashMap<&str, usize> = p
        .tickets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut g = dtg_core::plan::Graph::new(p.tickets.len());
    for d in &p.dependencies {
        g.add(index[d.from.as_str()], index[d.to.as_str()]);
    }
    let (first, last) = (0..p.tickets.len())
        .flat_map(|a| (a + 1..p.tickets.len()).rev().map(move |b| (a, b)))
        .find(|&(a, b)| !g.reaches(b, a) && !g.reaches(a, b))
        .map(|(a, b)| (p.order[a].clone(), p.order[b].clone()))
        .unwrap();
    let out = add_dependency(p, &first, &last).unwrap();
    assert_whole(&out);
    let d = out
        .dependencies
        .iter()
        .find(|d| d.from == first && d.to == last)
        .unwrap();
    assert_eq!(d.because, [ADDED_IN_REVIEW]);
    assert_eq!(out.dependencies.len(), p.dependencies.len() + 1);
    // tickets unrelated to the two keep their relative order
    let pos = |o: &[String], id: &str| o.iter().position(|x| x == id).unwrap();
    assert!(pos(&out.order, &last) < pos(&out.order, &first));
    // the tickets before the first one stay where they were
    let at = pos(&p.order, &first);
    assert_eq!(out.order[..at], p.order[..at]);
    // an edge already there changes nothing; removing it moves nothing back
    assert_eq!(&add_dependency(&out, &first, &last).unwrap(), &out);
    let back = remove_dependency(&out, &first, &last).unwrap();
    assert_whole(&back);
    assert_eq!(back.order, out.order);
    assert_eq!(back.dependencies, {
        let mut d = p.dependencies.clone();
        d.sort();
        d
    });
}

#[test]
fn a_cycle_is_refused_and_named() {
    let p = uwec();
    let (a, b) = an_edge(p);
    let err = add_dependency(p, &b, &a).unwrap_err();
    let EditError::Cycle(cycle) = &err else {
        panic!("{err}")
    };
    assert_eq!(cycle.0.first(), cycle.0.last());
    let (ta, tb) = (&p.ticket(&a).unwrap().title, &p.ticket(&b).unwrap().title);
    let message = err.to_string();
    assert!(
        message.contains(&format!("{ta} ({a})")) && message.contains(&format!("{tb} ({b})")),
        "{message}"
    );
    assert_eq!(err.code(), "dependency_cycle");

    // a longer circle through a third ticket
    let chain = p
        .dependencies
        .iter()
        .find_map(|d1| {
            p.dependencies
                .iter()
                .find(|d2| d2.from == d1.to)
                .map(|d2| (d1.from.clone(), d2.to.clone()))
        })
        .unwrap();
    let err = add_dependency(p, &chain.1, &chain.0).unwrap_err();
    let EditError::Cycle(cycle) = err else {
        panic!()
    };
    assert!(cycle.0.len() >= 4, "{cycle}");

    assert_eq!(
        add_dependency(p, &a, &a).unwrap_err().code(),
        "self_dependency"
    );
    let unknown = add_dependency(p, "nope", &a).unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.field()),
        ("unknown_ticket", "from")
    );
    assert!(unknown.to_string().contains("'nope'"));
    assert_eq!(remove_dependency(p, &a, "nope").unwrap_err().field(), "to");
}

#[test]
fn deleting_a_ticket_keeps_the_order_through_it() {
    let p = uwec();
    // a ticket both needed and needing
    let middle = p
        .tickets
        .iter()
        .find(|t| {
            p.dependencies.iter().any(|d| d.from == t.id)
                && p.dependencies.iter().any(|d| d.to == t.id)
        })
        .unwrap();
    let needs: Vec<&str> = p
        .dependencies
        .iter()
        .filter(|d| d.from == middle.id)
        .map(|d| d.to.as_str())
        .collect();
    let needed_by: Vec<&str> = p
        .dependencies
        .iter()
        .filter(|d| d.to == middle.id)
        .map(|d| d.from.as_str())
        .collect();
    let out = remove_ticket(p, &middle.id).unwrap();
    assert_whole(&out);
    assert!(out.ticket(&middle.id).is_none());
    assert!(
        out.dependencies
            .iter()
            .all(|d| d.from != middle.id && d.to != middle.id)
    );
    let index: HashMap<&str, usize> = out
        .tickets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut g = dtg_core::plan::Graph::new(out.tickets.len());
    for d in &out.dependencies {
        g.add(index[d.from.as_str()], index[d.to.as_str()]);
    }
    for a in &needed_by {
        for b in &needs {
            assert!(g.reaches(index[a], index[b]), "{a} no longer needs {b}");
        }
    }
    // reduced: no edge implied by another path
    let order: Vec<usize> = out.order.iter().map(|id| index[id.as_str()]).collect();
    assert_eq!(g.reduced(&order), g);
    assert_eq!(
        remove_ticket(p, "nope").unwrap_err().code(),
        "unknown_ticket"
    );
}

#[test]
fn merging_combines_the_two_and_rewires_their_dependencies() {
    let p = uwec();
    let (keep, absorb) = {
        // two tickets of one epic, neither needing the other
        let e = p.epics.iter().find(|e| e.tickets.len() > 3).unwrap();
        let (a, b) = (&e.tickets[1], &e.tickets[e.tickets.len() - 1]);
        (a.clone(), b.clone())
    };
    let (k, a) = (p.ticket(&keep).unwrap(), p.ticket(&absorb).unwrap());
    match merge_tickets(p, &keep, &absorb) {
        Err(EditError::Cycle(c)) => panic!("picked a joined pair: {c}"),
        Err(e) => panic!("{e}"),
        Ok(out) => {
            assert_whole(&out);
            assert!(out.ticket(&absorb).is_none());
            let m = out.ticket(&keep).unwrap();
            for item in k.items.iter().chain(&a.items) {
                assert_eq!(m.items.iter().filter(|i| *i == item).count(), 1);
            }
            assert_eq!(&m.items[..k.items.len()], &k.items[..]);
            assert_eq!(m.estimate, (k.estimate + a.estimate).min(100));
            assert_eq!(m.priority, k.priority.min(a.priority));
            assert!(m.description_html.contains(&format!(
                "<h3>Merged from: {}</h3>",
                dtg_core::plan::writer::escape(&a.title)
            )));
            assert_eq!(
                m.description_adf,
                dtg_core::adf::html_to_adf(&m.description_html)
            );
            let crit: BTreeSet<&String> = m.acceptance_criteria.iter().collect();
            assert_eq!(crit.len(), m.acceptance_criteria.len());
            // every neighbour of `absorb` is now a neighbour of `keep` (or reached through it)
            let index: HashMap<&str, usize> = out
                .tickets
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id.as_str(), i))
                .collect();
            let mut g = dtg_core::plan::Graph::new(out.tickets.len());
            for d in &out.dependencies {
                g.add(index[d.from.as_str()], index[d.to.as_str()]);
            }
            for d in &p.dependencies {
                let from = if d.from == absorb { &keep } else { &d.from };
                let to = if d.to == absorb { &keep } else { &d.to };
                if from != to {
                    assert!(
                        g.reaches(index[from.as_str()], index[to.as_str()]),
                        "{from} -> {to} lost"
                    );
                }
            }
            assert!(!out.epics.iter().any(|e| e.tickets.contains(&absorb)));
        }
    }
    assert_eq!(
        merge_tickets(p, &keep, &keep).unwrap_err().code(),
        "merge_into_itself"
    );
    assert_eq!(
        merge_tickets(p, &keep, "nope").unwrap_err().field(),
        "absorb"
    );
}

#[test]
fn merging_across_a_path_is_a_cycle() {
    let p = uwec();
    // a -> x -> b: merging a and b makes a -> x -> a
    let (a, b) = p
        .dependencies
        .iter()
        .find_map(|d1| {
            p.dependencies
                .iter()
                .find(|d2| d2.from == d1.to)
                .map(|d2| (d1.from.clone(), d2.to.clone()))
        })
        .unwrap();
    let err = merge_tickets(p, &a, &b).unwrap_err();
    assert_eq!(err.code(), "dependency_cycle", "{err}");
    // merging along a direct edge is fine: the edge disappears
    let (x, y) = an_edge(p);
    if let Ok(out) = merge_tickets(p, &x, &y) {
        assert_whole(&out);
    }
}

#[test]
fn a_merged_description_over_jiras_limit_overflows_to_an_attachment() {
    let mut p = uwec().clone();
    let long = format!("<p>{}</p>", "lorem ipsum ".repeat(3_000));
    let (a, b) = (p.epics[0].tickets[0].clone(), p.epics[1].tickets[0].clone());
    for t in &mut p.tickets {
        if t.id == a || t.id == b {
            t.description_html = long.clone();
        }
    }
    let out = merge_tickets(&p, &a, &b).unwrap();
    let m = out.ticket(&a).unwrap();
    assert!(json_len(&m.description_adf) <= JIRA_DESCRIPTION_LIMIT);
    assert_eq!(m.attachments.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn html_limits_never_panic(html in any::<String>(), depth in 0usize..80, bytes in 0usize..4096) {
        let limits = EditLimits { max_html_bytes: bytes, max_depth: depth };
        let _ = check_html(&html, &limits);
        prop_assert!(html_depth(&html, depth) <= depth + 1 || html_depth(&html, usize::MAX) > depth);
    }

    #[test]
    fn tag_soup_never_panics(parts in prop::collection::vec(prop::sample::select(vec![
        "<div>", "</div>", "<li>", "</li>", "<ul>", "<br/>", "<!--", "-->", "<script>", "</script>",
        "<a href='>'>", "\"", "'", "<", ">", "/", "text", "<p>", "</p>", "<!doctype html>", "</", "é", "\u{1F600}",
    ]), 0..200)) {
        let html: String = parts.concat();
        let limits = EditLimits::default();
        let d = html_depth(&html, limits.max_depth);
        prop_assert!(d <= limits.max_depth + 1);
        let edit = TicketEdit { description_html: Some(html), ..TicketEdit::default() };
        let _ = apply_edit(&uwec().tickets[0], &edit, &[], &limits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_dependency_edits_keeps_a_valid_order(
        edits in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..25),
    ) {
        let mut p = uwec().clone();
        p.dependencies.sort();
        for (add, a, b) in edits {
            let from = p.tickets[a.index(p.tickets.len())].id.clone();
            let to = p.tickets[b.index(p.tickets.len())].id.clone();
            let result = if add {
                add_dependency(&p, &from, &to)
            } else {
                // remove an existing edge half the time, so removals bite
                let (f, t) = p.dependencies.get(a.index(p.dependencies.len().max(1)))
                    .map_or((from, to), |d| (d.from.clone(), d.to.clone()));
                remove_dependency(&p, &f, &t)
            };
            match result {
                Ok(next) => p = next,
                Err(EditError::Cycle(_) | EditError::SelfDependency { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected refusal: {}", e),
            }
            assert_whole(&p);
            prop_assert_eq!(p.tickets.len(), uwec().tickets.len());
        }
    }
}
