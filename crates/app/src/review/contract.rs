//! The review stage's contract, run against every [`Table`] adapter
//! (feature `contract-tests`): stale edits are refused with the current
//! version and nothing lost, refused edits store nothing, plan-level edits
//! keep the stored plan whole and never land on a stale plan, the session's
//! counts stay right, attachments follow their ticket, and listing pages and
//! filters in build order. Every check works in its own fresh session.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use dtg_core::plan::edit::{EditError, EditLimits, TicketEdit};
use dtg_core::plan::writer::escape;
use dtg_core::plan::{Graph, IssueType, Plan};
use dtg_core::session::{Position, Stage, Status};

use super::{
    AttachmentStatus, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_TICKET, ReviewError, TicketQuery,
    add_dependency, attachments, confirm_attachment, delete_attachment, delete_ticket, edit_ticket,
    list_tickets, list_tickets_full, merge_tickets, plan_jira_csv, plan_markdown,
    remove_dependency, request_attachment_upload, ticket_detail, ticket_detail_full,
};
use crate::repo::{Repos, SessionSummary};
use crate::store::contract::unique;
use crate::store::{Blobs, Condition, Table, TransactOp, keys, query_all};
use crate::workflow::{Run, save_wording};

const NOW: i64 = 1_800_000_000;
const TTL: i64 = 3_600;

fn ok<V, E: std::fmt::Display>(what: &str, r: Result<V, E>) -> V {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A run of its own for every call (audit entries are keyed by run).
fn run(id: &str) -> Run<'_> {
    Run {
        actor: "reviewer",
        id,
        now: NOW + 10,
    }
}

/// Runs every review check; `plan` should be a real site's plan, with more
/// tickets than one transaction holds and tickets both needed and needing.
pub async fn run_review_contract<T: Table, B: Blobs>(t: Arc<T>, blobs: &B, plan: &Plan) {
    run_review_checks_one_at_a_time(t.as_ref(), blobs, plan).await;
    racing_editors_of_one_ticket_lose_nothing(Arc::clone(&t), plan).await;
    racing_plan_edits_never_land_on_a_stale_plan(t, plan).await;
}

/// Every review check but the racing ones, one after the other on `t`.
/// (A table that keeps the contract one call at a time but not under
/// concurrent transactions, such as moto, runs these public checks alone.)
async fn run_review_checks_one_at_a_time<T: Table, B: Blobs>(t: &T, blobs: &B, plan: &Plan) {
    stale_edits_get_the_current_version_and_lose_nothing(t, plan).await;
    a_move_to_another_epic_updates_the_epics(t, plan).await;
    a_cycle_is_refused_named_and_nothing_stored(t, plan).await;
    dependencies_are_added_and_removed(t, plan).await;
    merging_combines_items_dependencies_and_description(t, blobs, plan).await;
    deleting_keeps_the_order_through_the_ticket(t, blobs, plan).await;
    attachments_are_checked_listed_and_deleted(t, blobs, plan).await;
    tickets_page_and_filter_in_build_order(t, plan).await;
    list_rows_agree_with_the_tickets_after_every_edit(t, blobs, plan).await;
    downloads_render_the_stored_plan(t, plan).await;
}

/// A fresh session in review holding `plan`, with its counts.
async fn in_review(t: &impl Table, plan: &Plan) -> String {
    let repos = Repos::new(t, TTL);
    let id = unique("review");
    let s = ok(
        "create",
        repos.create_session(&id, "reviewer", "", NOW).await,
    );
    let s = ok(
        "upload",
        repos
            .move_session(&s, Position::new(Stage::Upload, Status::Active), NOW)
            .await,
    );
    let s = ok(
        "process",
        repos
            .move_session(
                &s,
                Position::new(Stage::Processing, Status::Processing),
                NOW,
            )
            .await,
    );
    ok("save", repos.save_plan(&s.value, plan, NOW).await);
    let summary = SessionSummary {
        tickets: plan.tickets.len(),
        epics: plan.epics.len(),
        dependencies: plan.dependencies.len(),
        story_points: plan.tickets.iter().map(|t| t.estimate).sum(),
        ..SessionSummary::default()
    };
    let s = ok("count", repos.update_summary(&s, summary, NOW).await);
    ok("review", repos.move_session(&s, super::REVIEW, NOW).await);
    id
}

/// The stored plan, which must be whole: a valid build order holding every
/// ticket once, epics listing their tickets in that order, and the
/// session's counts matching it.
async fn whole(t: &impl Table, session: &str) -> Plan {
    let repos = Repos::new(t, TTL);
    let plan = ok("read plan", repos.plan(session, NOW + 20).await)
        .unwrap_or_else(|| panic!("session {session} lost its plan"));
    let position: HashMap<&str, usize> = plan
        .order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    assert_eq!(
        position.len(),
        plan.tickets.len(),
        "a ticket twice in the order"
    );
    for d in &plan.dependencies {
        assert!(
            position[d.to.as_str()] < position[d.from.as_str()],
            "{} needs {} but is built first",
            d.from,
            d.to
        );
    }
    let mut listed = BTreeSet::new();
    for e in &plan.epics {
        let at: Vec<usize> = e.tickets.iter().map(|id| position[id.as_str()]).collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "epic {} out of order",
            e.id
        );
        listed.extend(e.tickets.iter().cloned());
    }
    assert_eq!(listed.len(), plan.tickets.len(), "every ticket in one epic");
    let session = ok("session", repos.session(session, NOW + 20).await)
        .unwrap_or_else(|| panic!("session gone"))
        .value;
    let s = &session.summary;
    assert_eq!(
        (s.tickets, s.epics, s.dependencies, s.story_points),
        (
            plan.tickets.len(),
            plan.epics.len(),
            plan.dependencies.len(),
            plan.tickets.iter().map(|t| t.estimate).sum()
        ),
        "the session's counts follow the plan"
    );
    plan
}

fn graph(plan: &Plan) -> (HashMap<String, usize>, Graph) {
    let index: HashMap<String, usize> = plan
        .tickets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    let mut g = Graph::new(plan.tickets.len());
    for d in &plan.dependencies {
        g.add(index[&d.from], index[&d.to]);
    }
    (index, g)
}

/// Pairs (a, b), b built before a, with no path between them either way:
/// "a needs b" may be added, all of them together, without a cycle.
fn free_pairs(plan: &Plan, n: usize) -> Vec<(String, String)> {
    let (index, g) = graph(plan);
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for (i, a) in plan.order.iter().enumerate().rev() {
        for b in plan.order[..i].iter() {
            let (x, y) = (index[a], index[b]);
            if out.len() < n
                && !used.contains(a)
                && !used.contains(b)
                && !g.reaches(x, y)
                && !g.reaches(y, x)
            {
                used.insert(a.clone());
                used.insert(b.clone());
                out.push((a.clone(), b.clone()));
            }
        }
    }
    assert_eq!(out.len(), n, "the plan has {n} unrelated pairs");
    out
}

async fn audit_actions(t: &impl Table, session: &str) -> Vec<String> {
    let repos = Repos::new(t, TTL);
    ok("audit", repos.audit_log(session, NOW + 20).await)
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// GIVEN a ticket in review WHEN it is edited from version 1, then again
/// from version 1 THEN the second is refused with version 2 as it is stored,
/// nothing of it lands, a refused field stores nothing, the story points
/// follow an estimate, and outside review nothing can be edited.
pub async fn stale_edits_get_the_current_version_and_lose_nothing(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let limits = EditLimits::default();
    let id = plan.tickets[2].id.clone();
    let first = TicketEdit {
        title: Some("First title".into()),
        ..TicketEdit::default()
    };
    let saved = ok(
        "edit",
        edit_ticket(&repos, &s, &id, 1, &first, &limits, run(&unique("r"))).await,
    );
    assert_eq!(
        (saved.version, saved.value.title.as_str()),
        (2, "First title")
    );

    let late = TicketEdit {
        title: Some("Lost title".into()),
        ..TicketEdit::default()
    };
    match edit_ticket(&repos, &s, &id, 1, &late, &limits, run(&unique("r"))).await {
        Err(ReviewError::Stale { current }) => {
            assert_eq!(current.version, 2);
            assert_eq!(
                current.value, saved.value,
                "the caller gets the stored ticket"
            );
        }
        other => panic!("an edit from version 1 after version 2: {other:?}"),
    }
    let stored =
        ok("read", repos.ticket(&s, &id, NOW + 20).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!((stored.version, &stored.value), (2, &saved.value));

    let bad = TicketEdit {
        labels: Some(vec!["needs review".into()]),
        ..TicketEdit::default()
    };
    match edit_ticket(&repos, &s, &id, 2, &bad, &limits, run(&unique("r"))).await {
        Err(e @ ReviewError::Edit(EditError::LabelWithWhitespace { .. })) => {
            assert_eq!(e.code(), "label_has_whitespace");
            assert!(e.to_string().contains("'needs review'"), "{e}");
        }
        other => panic!("a label with a space: {other:?}"),
    }
    let stored =
        ok("read", repos.ticket(&s, &id, NOW + 20).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(stored.version, 2, "a refused edit stores nothing");

    let more = TicketEdit {
        estimate: Some(saved.value.estimate + 5),
        ..TicketEdit::default()
    };
    let bigger = ok(
        "estimate",
        edit_ticket(&repos, &s, &id, 2, &more, &limits, run(&unique("r"))).await,
    );
    assert_eq!(bigger.version, 3);
    whole(t, &s).await;
    let edits = audit_actions(t, &s).await;
    assert_eq!(edits.iter().filter(|a| *a == "ticket.edited").count(), 2);

    match edit_ticket(
        &repos,
        &s,
        "no-such-ticket",
        1,
        &first,
        &limits,
        run(&unique("r")),
    )
    .await
    {
        Err(ReviewError::NoTicket { id }) => assert_eq!(id, "no-such-ticket"),
        other => panic!("an unknown ticket: {other:?}"),
    }

    let session = ok("session", repos.session(&s, NOW).await).unwrap_or_else(|| panic!("gone"));
    let checking = Position::new(Stage::Review, Status::AdfValidating);
    ok(
        "adf check",
        repos.move_session(&session, checking, NOW + 11).await,
    );
    match edit_ticket(&repos, &s, &id, 3, &first, &limits, run(&unique("r"))).await {
        Err(e @ ReviewError::WrongStage { .. }) => {
            assert!(e.to_string().contains("review/adf_validating"), "{e}");
            assert_eq!(e.code(), "wrong_stage");
        }
        other => panic!("an edit during the ADF check: {other:?}"),
    }
    match add_dependency(
        &repos,
        &s,
        &plan.order[1],
        &plan.order[0],
        run(&unique("r")),
    )
    .await
    {
        Err(ReviewError::WrongStage { .. }) => {}
        other => panic!("a plan edit during the ADF check: {other:?}"),
    }
}

/// GIVEN a ticket WHEN it moves to another epic THEN both epics' lists
/// follow, its area changes, and the build order stays.
pub async fn a_move_to_another_epic_updates_the_epics(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let ticket = &plan.tickets[plan.tickets.len() / 2];
    let target = plan
        .epics
        .iter()
        .find(|e| e.id != ticket.epic)
        .unwrap_or_else(|| panic!("a plan with two epics"));
    let edit = TicketEdit {
        epic: Some(target.id.clone()),
        ..TicketEdit::default()
    };
    let moved = ok(
        "move",
        edit_ticket(
            &repos,
            &s,
            &ticket.id,
            1,
            &edit,
            &EditLimits::default(),
            run(&unique("r")),
        )
        .await,
    );
    assert_eq!((moved.version, moved.value.area), (2, target.area));
    let stored = whole(t, &s).await;
    assert_eq!(stored.order, plan.order);
    let epic = stored.epics.iter().find(|e| e.id == target.id);
    assert!(epic.is_some_and(|e| e.tickets.contains(&ticket.id)));
    assert!(
        !stored
            .epics
            .iter()
            .any(|e| e.id == ticket.epic && e.tickets.contains(&ticket.id))
    );
    assert_eq!(stored.ticket(&ticket.id), Some(&moved.value));
}

/// GIVEN "a needs b" WHEN "b needs a" is added THEN it is refused naming
/// both tickets, and the stored plan and session are as they were.
pub async fn a_cycle_is_refused_named_and_nothing_stored(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let before = whole(t, &s).await;
    let session = ok("session", repos.session(&s, NOW).await).unwrap_or_else(|| panic!("gone"));
    let d = &plan.dependencies[0];
    match add_dependency(&repos, &s, &d.to, &d.from, run(&unique("r"))).await {
        Err(e @ ReviewError::Edit(EditError::Cycle(_))) => {
            let message = e.to_string();
            for id in [&d.from, &d.to] {
                let title = &plan.ticket(id).unwrap_or_else(|| panic!("{id}")).title;
                assert!(
                    message.contains(&format!("{title} ({id})")),
                    "{message} names {id}"
                );
            }
            assert_eq!(e.code(), "dependency_cycle");
        }
        other => panic!("a cycle: {other:?}"),
    }
    assert_eq!(whole(t, &s).await, before, "nothing stored");
    let after = ok("session", repos.session(&s, NOW).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(after.version, session.version);
    assert!(
        !audit_actions(t, &s)
            .await
            .contains(&"dependency.added".to_owned())
    );
    match add_dependency(&repos, &s, "nope", &d.to, run(&unique("r"))).await {
        Err(ReviewError::Edit(EditError::UnknownTicket { id, .. })) => assert_eq!(id, "nope"),
        other => panic!("an unknown ticket: {other:?}"),
    }
}

/// GIVEN two unrelated tickets WHEN one is made to need the other, twice,
/// and the need removed THEN the stored plan, its order and counts follow,
/// the second add changes nothing, and each change is audited.
pub async fn dependencies_are_added_and_removed(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let (a, b) = free_pairs(plan, 1).remove(0);
    let change = ok(
        "add",
        add_dependency(&repos, &s, &a, &b, run(&unique("r"))).await,
    );
    assert_eq!(change.added.len(), 1);
    let stored = whole(t, &s).await;
    assert_eq!(stored.dependencies.len(), plan.dependencies.len() + 1);
    assert_eq!(change.order, stored.order);
    let added = stored
        .dependencies
        .iter()
        .find(|d| d.from == a && d.to == b);
    assert!(added.is_some_and(|d| d.because == ["added in review"]));

    let again = ok(
        "add again",
        add_dependency(&repos, &s, &a, &b, run(&unique("r"))).await,
    );
    assert!(again.added.is_empty() && again.tickets.is_empty());
    let removed = ok(
        "remove",
        remove_dependency(&repos, &s, &a, &b, run(&unique("r"))).await,
    );
    assert_eq!(removed.removed.len(), 1);
    let stored = whole(t, &s).await;
    assert_eq!(stored.dependencies.len(), plan.dependencies.len());
    let actions = audit_actions(t, &s).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("dependency."))
            .count(),
        2,
        "{actions:?}"
    );
}

/// Uploads `bytes` as an attachment of `ticket` the way a browser does.
async fn attach(
    t: &impl Table,
    blobs: &impl Blobs,
    session: &str,
    ticket: &str,
    name: &str,
    bytes: &[u8],
) -> super::AttachmentRecord {
    let repos = Repos::new(t, TTL);
    let (record, url) = ok(
        "request upload",
        request_attachment_upload(
            &repos,
            blobs,
            session,
            ticket,
            name,
            "text/plain",
            bytes.len() as u64,
            run(&unique("a")),
        )
        .await,
    );
    assert!(!url.is_empty());
    ok(
        "upload",
        blobs
            .put(&record.blob_key, bytes.to_vec(), "text/plain")
            .await,
    );
    ok(
        "confirm",
        confirm_attachment(
            &repos,
            blobs,
            session,
            ticket,
            &record.id,
            run(&unique("c")),
        )
        .await,
    )
}

/// GIVEN two unrelated tickets of one epic, the second with an attachment
/// WHEN the second is merged into the first THEN the first holds both's
/// items and descriptions, every dependency of the second is the first's,
/// the attachment moved, and the counts follow.
pub async fn merging_combines_items_dependencies_and_description(
    t: &impl Table,
    blobs: &impl Blobs,
    plan: &Plan,
) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let (index, g) = graph(plan);
    let (keep, absorb) = plan
        .epics
        .iter()
        .find_map(|e| {
            e.tickets.iter().find_map(|a| {
                e.tickets
                    .iter()
                    .find(|b| {
                        a != *b
                            && !g.reaches(index[a], index[*b])
                            && !g.reaches(index[*b], index[a])
                            && plan
                                .dependencies
                                .iter()
                                .any(|d| d.from == **b || d.to == **b)
                    })
                    .map(|b| (a.clone(), b.clone()))
            })
        })
        .unwrap_or_else(|| panic!("two unrelated tickets in one epic"));
    let attached = attach(t, blobs, &s, &absorb, "notes.txt", b"merge me").await;
    let (k, a) = (
        plan.ticket(&keep).unwrap_or_else(|| panic!("keep")),
        plan.ticket(&absorb).unwrap_or_else(|| panic!("absorb")),
    );
    let change = ok(
        "merge",
        merge_tickets(&repos, &s, &keep, &absorb, run(&unique("m"))).await,
    );
    assert_eq!(change.deleted, std::slice::from_ref(&absorb));
    let stored = whole(t, &s).await;
    assert!(stored.ticket(&absorb).is_none());
    let merged = stored.ticket(&keep).unwrap_or_else(|| panic!("kept"));
    for item in k.items.iter().chain(&a.items) {
        assert!(merged.items.contains(item), "{item} kept");
    }
    assert!(
        merged
            .description_html
            .contains(&format!("<h3>Merged from: {}</h3>", escape(&a.title)))
    );
    assert_eq!(merged.estimate, (k.estimate + a.estimate).min(100));
    let (index, g) = graph(&stored);
    for d in &plan.dependencies {
        let from = if d.from == absorb { &keep } else { &d.from };
        let to = if d.to == absorb { &keep } else { &d.to };
        if from != to {
            assert!(g.reaches(index[from], index[to]), "{from} -> {to} kept");
        }
    }
    assert!(
        stored
            .dependencies
            .iter()
            .all(|d| d.from != absorb && d.to != absorb)
    );
    let moved = ok("attachments", attachments(&repos, &s, &keep, NOW).await);
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (moved[0].id.as_str(), moved[0].ticket_id.as_str()),
        (attached.id.as_str(), keep.as_str())
    );
    assert!(ok("absorbed", attachments(&repos, &s, &absorb, NOW).await).is_empty());
    assert!(
        ok("blob", blobs.get(&attached.blob_key).await).is_some(),
        "the bytes stay"
    );
    assert!(
        audit_actions(t, &s)
            .await
            .contains(&"tickets.merged".to_owned())
    );

    match merge_tickets(&repos, &s, &keep, &absorb, run(&unique("m"))).await {
        Err(ReviewError::NoTicket { id }) => assert_eq!(id, absorb),
        other => panic!("merging a merged ticket: {other:?}"),
    }
}

/// GIVEN a ticket needed by some and needing others, with an attachment
/// WHEN it is deleted THEN what needed it still comes after what it needed,
/// its attachment and bytes are gone; and deleting the most needed ticket
/// (an edit larger than one transaction) leaves a whole plan too.
pub async fn deleting_keeps_the_order_through_the_ticket(
    t: &impl Table,
    blobs: &impl Blobs,
    plan: &Plan,
) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let middle = plan
        .tickets
        .iter()
        .find(|t| {
            plan.dependencies.iter().any(|d| d.from == t.id)
                && plan.dependencies.iter().any(|d| d.to == t.id)
        })
        .unwrap_or_else(|| panic!("a ticket both needed and needing"));
    let attached = attach(t, blobs, &s, &middle.id, "plan.txt", b"bytes").await;
    let needs: Vec<&String> = plan
        .dependencies
        .iter()
        .filter(|d| d.from == middle.id)
        .map(|d| &d.to)
        .collect();
    let needed_by: Vec<&String> = plan
        .dependencies
        .iter()
        .filter(|d| d.to == middle.id)
        .map(|d| &d.from)
        .collect();
    let change = ok(
        "delete",
        delete_ticket(&repos, blobs, &s, &middle.id, run(&unique("d"))).await,
    );
    assert_eq!(change.deleted, std::slice::from_ref(&middle.id));
    let stored = whole(t, &s).await;
    assert!(stored.ticket(&middle.id).is_none());
    let (index, g) = graph(&stored);
    for a in &needed_by {
        for b in &needs {
            assert!(g.reaches(index[*a], index[*b]), "{a} still needs {b}");
        }
    }
    assert!(
        ok(
            "attachments",
            attachments(&repos, &s, &middle.id, NOW).await
        )
        .is_empty()
    );
    assert!(
        ok("blob", blobs.get(&attached.blob_key).await).is_none(),
        "the bytes are gone"
    );

    // The most needed ticket: its edges alone are more than one transaction.
    let hub = stored
        .tickets
        .iter()
        .max_by_key(|t| stored.dependencies.iter().filter(|d| d.to == t.id).count())
        .map(|t| t.id.clone())
        .unwrap_or_else(|| panic!("tickets"));
    let edges = stored
        .dependencies
        .iter()
        .filter(|d| d.to == hub || d.from == hub)
        .count();
    assert!(
        edges > crate::store::MAX_TRANSACTION_OPS,
        "{hub} has {edges} edges"
    );
    ok(
        "delete hub",
        delete_ticket(&repos, blobs, &s, &hub, run(&unique("d"))).await,
    );
    let after = whole(t, &s).await;
    assert_eq!(after.tickets.len(), plan.tickets.len() - 2);
    match delete_ticket(&repos, blobs, &s, &hub, run(&unique("d"))).await {
        Err(ReviewError::NoTicket { .. }) => {}
        other => panic!("deleting a deleted ticket: {other:?}"),
    }
}

/// GIVEN a ticket WHEN files are attached THEN the limits hold (size, name,
/// count, bytes actually sent), confirmation records the size received,
/// deletion takes the bytes, and deleting the session names its blobs.
pub async fn attachments_are_checked_listed_and_deleted(
    t: &impl Table,
    blobs: &impl Blobs,
    plan: &Plan,
) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let ticket = plan.tickets[0].id.clone();
    let too_big = request_attachment_upload(
        &repos,
        blobs,
        &s,
        &ticket,
        "big.zip",
        "application/zip",
        MAX_ATTACHMENT_BYTES + 1,
        run(&unique("a")),
    )
    .await;
    assert!(
        matches!(too_big, Err(ReviewError::AttachmentTooLarge { .. })),
        "{too_big:?}"
    );
    let nameless =
        request_attachment_upload(&repos, blobs, &s, &ticket, " / ", "", 3, run(&unique("a")))
            .await;
    assert!(
        matches!(nameless, Err(ReviewError::BadFileName { .. })),
        "{nameless:?}"
    );
    let typeless = request_attachment_upload(
        &repos,
        blobs,
        &s,
        &ticket,
        "a.txt",
        "text",
        3,
        run(&unique("a")),
    )
    .await;
    assert!(
        matches!(typeless, Err(ReviewError::BadContentType { .. })),
        "{typeless:?}"
    );
    let unknown =
        request_attachment_upload(&repos, blobs, &s, "nope", "a.txt", "", 3, run(&unique("a")))
            .await;
    assert!(
        matches!(unknown, Err(ReviewError::NoTicket { .. })),
        "{unknown:?}"
    );

    let (pending, _) = ok(
        "request",
        request_attachment_upload(
            &repos,
            blobs,
            &s,
            &ticket,
            "C:\\Users\\me\\spec sheet.pdf",
            "application/pdf",
            5,
            run(&unique("a")),
        )
        .await,
    );
    assert_eq!(
        (pending.file_name.as_str(), pending.status),
        ("spec sheet.pdf", AttachmentStatus::Pending)
    );
    assert!(
        pending.blob_key.ends_with("/spec_sheet.pdf"),
        "{}",
        pending.blob_key
    );
    match confirm_attachment(&repos, blobs, &s, &ticket, &pending.id, run(&unique("c"))).await {
        Err(ReviewError::NotUploaded { file_name }) => assert_eq!(file_name, "spec sheet.pdf"),
        other => panic!("confirmed before the upload: {other:?}"),
    }
    ok(
        "put",
        blobs
            .put(
                &pending.blob_key,
                b"%PDF-1.7 hello".to_vec(),
                "application/pdf",
            )
            .await,
    );
    let uploaded = ok(
        "confirm",
        confirm_attachment(&repos, blobs, &s, &ticket, &pending.id, run(&unique("c"))).await,
    );
    assert_eq!(
        (uploaded.status, uploaded.size),
        (AttachmentStatus::Uploaded, 14),
        "the size received"
    );

    let detail = ok("detail", ticket_detail(&repos, &s, &ticket, NOW).await);
    assert_eq!(detail.attachments, std::slice::from_ref(&uploaded));

    for n in 1..MAX_ATTACHMENTS_PER_TICKET {
        ok(
            "fill",
            request_attachment_upload(
                &repos,
                blobs,
                &s,
                &ticket,
                &format!("f{n}.txt"),
                "",
                1,
                run(&unique("a")),
            )
            .await,
        );
    }
    let full = request_attachment_upload(
        &repos,
        blobs,
        &s,
        &ticket,
        "one-more.txt",
        "",
        1,
        run(&unique("a")),
    )
    .await;
    assert!(
        matches!(full, Err(ReviewError::TooManyAttachments { .. })),
        "{full:?}"
    );

    ok(
        "delete",
        delete_attachment(&repos, blobs, &s, &ticket, &uploaded.id, run(&unique("x"))).await,
    );
    assert!(ok("blob", blobs.get(&uploaded.blob_key).await).is_none());
    match delete_attachment(&repos, blobs, &s, &ticket, &uploaded.id, run(&unique("x"))).await {
        Err(ReviewError::NoAttachment { .. }) => {}
        other => panic!("deleting a deleted attachment: {other:?}"),
    }
    let left = ok("list", attachments(&repos, &s, &ticket, NOW).await);
    assert_eq!(left.len(), MAX_ATTACHMENTS_PER_TICKET - 1);

    let kept = attach(t, blobs, &s, &plan.tickets[1].id, "kept.txt", b"kept").await;
    let keys = ok("delete session", repos.delete_session(&s, NOW + 30).await);
    assert!(
        keys.contains(&kept.blob_key),
        "deleting the session names the attachments' blobs"
    );
    assert!(keys.iter().any(|k| k == &left[0].blob_key));
}

/// GIVEN a plan WHEN its tickets are listed by page and filter THEN they
/// come in build order with their position, version and neighbours, the
/// total counts every match, and the page size is bounded.
pub async fn tickets_page_and_filter_in_build_order(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let all = ok(
        "list",
        list_tickets(&repos, &s, &TicketQuery::default(), NOW).await,
    );
    assert_eq!(
        (all.total, all.page, all.per_page),
        (plan.tickets.len(), 1, 50)
    );
    let ids: Vec<&str> = all.tickets.iter().map(|r| r.id.as_str()).collect();
    let first: Vec<&str> = plan.order.iter().take(50).map(String::as_str).collect();
    assert_eq!(ids, first);
    assert_eq!(all.tickets[0].order, 1);
    for row in &all.tickets {
        assert_eq!(row.version, 1);
        let needs: Vec<&String> = plan
            .dependencies
            .iter()
            .filter(|d| d.from == row.id)
            .map(|d| &d.to)
            .collect();
        assert_eq!(
            row.needs.iter().collect::<BTreeSet<_>>(),
            needs.into_iter().collect()
        );
        let by = plan.dependencies.iter().filter(|d| d.to == row.id).count();
        assert_eq!(row.needed_by.len(), by);
    }

    let (r, id) = (&repos, s.as_str());
    let query = |q: TicketQuery| async move { ok("list", list_tickets(r, id, &q, NOW).await) };
    let second = query(TicketQuery {
        page: 2,
        per_page: 10,
        ..TicketQuery::default()
    })
    .await;
    let orders: Vec<usize> = second.tickets.iter().map(|r| r.order).collect();
    assert_eq!(orders, (11..=20).collect::<Vec<_>>());
    let huge = query(TicketQuery {
        per_page: 10_000,
        page: 0,
        ..TicketQuery::default()
    })
    .await;
    assert_eq!((huge.per_page, huge.page), (super::MAX_PER_PAGE, 1));
    let beyond = query(TicketQuery {
        page: 99,
        ..TicketQuery::default()
    })
    .await;
    assert!(beyond.tickets.is_empty() && beyond.total == plan.tickets.len());

    let epic = &plan.epics[1];
    let by_epic = query(TicketQuery {
        epic: Some(epic.id.clone()),
        per_page: 200,
        ..TicketQuery::default()
    })
    .await;
    assert_eq!(by_epic.total, epic.tickets.len());
    assert!(by_epic.tickets.iter().all(|r| r.epic == epic.id));
    let by_area = query(TicketQuery {
        area: Some(epic.area),
        ..TicketQuery::default()
    })
    .await;
    assert_eq!(
        by_area.total,
        plan.tickets.iter().filter(|t| t.area == epic.area).count()
    );
    let stories = query(TicketQuery {
        issue_type: Some(IssueType::Story),
        ..TicketQuery::default()
    })
    .await;
    assert_eq!(
        stories.total,
        plan.tickets
            .iter()
            .filter(|t| t.issue_type == IssueType::Story)
            .count()
    );

    let target = &plan.tickets[plan.tickets.len() - 1];
    let needle = target.config_names[0].to_uppercase();
    let found = query(TicketQuery {
        text: Some(needle.clone()),
        ..TicketQuery::default()
    })
    .await;
    assert!(
        found.tickets.iter().any(|r| r.id == target.id),
        "{needle} finds {}",
        target.id
    );
    let described = query(TicketQuery {
        text: Some("  DRUSH CONFIG:EXPORT ".into()),
        per_page: 200,
        ..TicketQuery::default()
    })
    .await;
    let expected = plan
        .tickets
        .iter()
        .filter(|t| {
            let hay = [
                t.title.to_lowercase(),
                t.items.join("\n").to_lowercase(),
                t.config_names.join("\n").to_lowercase(),
                dtg_core::plan::edit::description_text(t).to_lowercase(),
            ];
            hay.iter().any(|h| h.contains("drush config:export"))
        })
        .count();
    assert!(expected > 0);
    assert_eq!(described.total, expected);
    let none = query(TicketQuery {
        text: Some("zzz-no-such-text".into()),
        ..TicketQuery::default()
    })
    .await;
    assert_eq!(none.total, 0);

    let detail = ok(
        "detail",
        ticket_detail(&repos, &s, &plan.dependencies[0].from, NOW).await,
    );
    let position = plan
        .order
        .iter()
        .position(|id| *id == detail.ticket.id)
        .unwrap_or_default();
    assert_eq!((detail.order, detail.version), (position + 1, 1));
    let need = detail
        .needs
        .iter()
        .find(|n| n.id == plan.dependencies[0].to);
    let title = &plan
        .ticket(&plan.dependencies[0].to)
        .unwrap_or_else(|| panic!("to"))
        .title;
    assert!(need.is_some_and(|n| n.title == *title && !n.because.is_empty()));
    match ticket_detail(&repos, &s, "nope", NOW).await {
        Err(ReviewError::NoTicket { .. }) => {}
        other => panic!("an unknown ticket: {other:?}"),
    }
    match list_tickets(&repos, &unique("nosession"), &TicketQuery::default(), NOW).await {
        Err(ReviewError::NoSession(_)) => {}
        other => panic!("an unknown session: {other:?}"),
    }
}

/// GIVEN a stored plan WHEN it is downloaded THEN the Markdown and the Jira
/// CSV hold its tickets; a session with no plan has none to download.
pub async fn downloads_render_the_stored_plan(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let md = ok("markdown", plan_markdown(&repos, &s, NOW).await);
    assert!(md.starts_with("# Build plan"));
    assert!(md.contains(&plan.tickets[0].title));
    let csv = ok("csv", plan_jira_csv(&repos, &s, NOW).await);
    assert!(csv.text.starts_with("Issue ID,"));
    assert!(
        csv.text
            .contains(&plan.tickets[plan.tickets.len() - 1].title)
    );
    let empty = unique("empty");
    ok(
        "create",
        repos.create_session(&empty, "reviewer", "", NOW).await,
    );
    match plan_markdown(&repos, &empty, NOW).await {
        Err(e @ ReviewError::NoPlan(_)) => assert_eq!(e.code(), "no_plan"),
        other => panic!("a session with no plan: {other:?}"),
    }
    let page = ok(
        "list",
        list_tickets(&repos, &empty, &TicketQuery::default(), NOW).await,
    );
    assert_eq!(page.total, 0);
}

/// GIVEN twenty editors who all read version 1 of a ticket WHEN each saves
/// once THEN exactly one is accepted and only its change is stored; and
/// WHEN each retries from the current version it is given THEN every change
/// is stored, one version each.
pub async fn racing_editors_of_one_ticket_lose_nothing<T: Table>(t: Arc<T>, plan: &Plan) {
    const EDITORS: usize = 20;
    let s = in_review(t.as_ref(), plan).await;
    let id = plan.tickets[1].id.clone();
    let base = plan.tickets[1].labels.clone();

    let mut tasks = Vec::new();
    for n in 0..EDITORS {
        let (t, s, id, base) = (Arc::clone(&t), s.clone(), id.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let repos = Repos::new(t.as_ref(), TTL);
            let mut labels = base;
            labels.push(format!("once-{n}"));
            let edit = TicketEdit {
                labels: Some(labels),
                ..TicketEdit::default()
            };
            let run_id = unique("once");
            edit_ticket(
                &repos,
                &s,
                &id,
                1,
                &edit,
                &EditLimits::default(),
                run(&run_id),
            )
            .await
        }));
    }
    let mut accepted = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(Ok(saved)) => accepted.push((n, saved)),
            Ok(Err(ReviewError::Stale { current })) => assert!(current.version >= 2),
            Ok(Err(e)) => panic!("editor {n}: {e}"),
            Err(e) => panic!("editor {n} failed: {e}"),
        }
    }
    assert_eq!(accepted.len(), 1, "exactly one editor of version 1 wins");
    let repos = Repos::new(t.as_ref(), TTL);
    let stored =
        ok("read", repos.ticket(&s, &id, NOW + 20).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(stored.version, 2);
    let once: Vec<&String> = stored
        .value
        .labels
        .iter()
        .filter(|l| l.starts_with("once-"))
        .collect();
    assert_eq!(
        once,
        [&format!("once-{}", accepted[0].0)],
        "only the accepted change is visible"
    );

    let versions: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut tasks = Vec::new();
    for n in 0..EDITORS {
        let (t, s, id, versions) = (Arc::clone(&t), s.clone(), id.clone(), Arc::clone(&versions));
        tasks.push(tokio::spawn(async move {
            let repos = Repos::new(t.as_ref(), TTL);
            let mut current = match repos.ticket(&s, &id, NOW).await {
                Ok(Some(c)) => c,
                other => panic!("editor {n}: read: {other:?}"),
            };
            let mut stale = 0;
            loop {
                let mut labels = current.value.labels.clone();
                labels.push(format!("editor-{n}"));
                let edit = TicketEdit {
                    labels: Some(labels),
                    ..TicketEdit::default()
                };
                let run_id = unique("race");
                match edit_ticket(
                    &repos,
                    &s,
                    &id,
                    current.version,
                    &edit,
                    &EditLimits::default(),
                    run(&run_id),
                )
                .await
                {
                    Ok(saved) => {
                        if let Ok(mut v) = versions.lock() {
                            v.push(saved.version);
                        }
                        return stale;
                    }
                    Err(ReviewError::Stale { current: now }) => {
                        stale += 1;
                        current = *now;
                    }
                    Err(e) => panic!("editor {n}: {e}"),
                }
            }
        }));
    }
    for task in tasks {
        if let Err(e) = task.await {
            panic!("an editor failed: {e}");
        }
    }
    let stored =
        ok("read", repos.ticket(&s, &id, NOW + 20).await).unwrap_or_else(|| panic!("gone"));
    assert_eq!(
        stored.version,
        2 + EDITORS as u64,
        "one version per accepted edit"
    );
    for n in 0..EDITORS {
        assert!(
            stored.value.labels.contains(&format!("editor-{n}")),
            "editor {n}'s change kept"
        );
    }
    let mut got = versions.lock().map(|v| v.clone()).unwrap_or_default();
    got.sort_unstable();
    assert_eq!(
        got,
        (3..=2 + EDITORS as u64).collect::<Vec<_>>(),
        "each version won once"
    );
    let edits = audit_actions(t.as_ref(), &s).await;
    assert_eq!(
        edits.iter().filter(|a| *a == "ticket.edited").count(),
        1 + EDITORS
    );
}

/// GIVEN six unrelated pairs of tickets WHEN six editors each add one need
/// at once THEN each either lands or is told the plan changed, and the
/// stored plan holds exactly the needs that landed, whole.
pub async fn racing_plan_edits_never_land_on_a_stale_plan<T: Table>(t: Arc<T>, plan: &Plan) {
    let s = in_review(t.as_ref(), plan).await;
    let pairs = free_pairs(plan, 6);
    let mut tasks = Vec::new();
    for (a, b) in pairs.clone() {
        let (t, s) = (Arc::clone(&t), s.clone());
        tasks.push(tokio::spawn(async move {
            let repos = Repos::new(t.as_ref(), TTL);
            let run_id = unique("plan-race");
            add_dependency(&repos, &s, &a, &b, run(&run_id)).await
        }));
    }
    let mut landed = BTreeSet::new();
    for (task, pair) in tasks.into_iter().zip(&pairs) {
        match task.await {
            Ok(Ok(change)) => {
                assert_eq!(change.added.len(), 1);
                landed.insert(pair.clone());
            }
            Ok(Err(ReviewError::PlanChanged)) => {}
            Ok(Err(e)) => panic!("{pair:?}: {e}"),
            Err(e) => panic!("{pair:?} failed: {e}"),
        }
    }
    assert!(!landed.is_empty(), "at least one edit lands");
    let stored = whole(t.as_ref(), &s).await;
    let added: BTreeSet<(String, String)> = stored
        .dependencies
        .iter()
        .filter(|d| d.because == ["added in review"])
        .map(|d| (d.from.clone(), d.to.clone()))
        .collect();
    assert_eq!(added, landed, "exactly the edits that landed are stored");
    assert_eq!(
        stored.dependencies.len(),
        plan.dependencies.len() + landed.len()
    );
}

/// Every page of `query` read from the list rows equals the page built from
/// the whole plan, and so does the detail of every `probe`d ticket.
async fn rows_agree(t: &impl Table, session: &str, what: &str, probes: &[&str]) {
    let repos = Repos::new(t, TTL);
    let stored = ok("read plan", repos.plan(session, NOW + 20).await)
        .unwrap_or_else(|| panic!("session {session} lost its plan"));
    let mut queries = vec![TicketQuery {
        per_page: super::MAX_PER_PAGE,
        ..TicketQuery::default()
    }];
    if let Some(e) = stored.epics.first() {
        queries.push(TicketQuery {
            epic: Some(e.id.clone()),
            ..TicketQuery::default()
        });
    }
    queries.push(TicketQuery {
        issue_type: Some(IssueType::Task),
        ..TicketQuery::default()
    });
    if let Some(t) = stored.tickets.last() {
        // The description's last word: past the row's cut when it is long.
        let text = super::edit::description_text(t);
        let word = text.split_whitespace().last().unwrap_or("a").to_uppercase();
        queries.push(TicketQuery {
            text: Some(word),
            ..TicketQuery::default()
        });
        queries.push(TicketQuery {
            text: Some(t.title.clone()),
            ..TicketQuery::default()
        });
    }
    for base in queries {
        let mut page = 1;
        loop {
            let query = TicketQuery {
                page,
                ..base.clone()
            };
            let rows = ok(what, list_tickets(&repos, session, &query, NOW + 20).await);
            let full = ok(
                what,
                list_tickets_full(&repos, session, &query, NOW + 20).await,
            );
            assert_eq!(rows, full, "{what}: page {page} of {query:?}");
            if page * rows.per_page >= rows.total {
                break;
            }
            page += 1;
        }
    }
    for id in probes {
        if stored.ticket(id).is_none() {
            continue;
        }
        let rows = ok(what, ticket_detail(&repos, session, id, NOW + 20).await);
        let full = ok(
            what,
            ticket_detail_full(&repos, session, id, NOW + 20).await,
        );
        assert_eq!(rows, full, "{what}: detail of {id}");
    }
}

/// GIVEN a session in review WHEN a ticket's fields are edited, it moves to
/// another epic, a dependency is added and removed, a ticket is deleted,
/// two are merged, worded tickets are saved THEN after each the list read
/// from the rows is the list read from the tickets; and a session stored
/// before tickets had rows still lists from the tickets.
pub async fn list_rows_agree_with_the_tickets_after_every_edit<B: Blobs>(
    t: &impl Table,
    blobs: &B,
    plan: &Plan,
) {
    let repos = Repos::new(t, TTL);
    let s = in_review(t, plan).await;
    let n = plan.order.len();
    let probes: Vec<&str> = [0, n / 3, n / 2, n - 1]
        .iter()
        .map(|&i| plan.order[i].as_str())
        .collect();
    rows_agree(t, &s, "saved", &probes).await;

    let first = &plan.order[n / 3];
    let edit = TicketEdit {
        title: Some("Renamed ticket with Zebra".to_owned()),
        labels: Some(vec!["relabelled".to_owned()]),
        estimate: Some(13),
        ..TicketEdit::default()
    };
    let limits = EditLimits::default();
    ok(
        "field edit",
        edit_ticket(&repos, &s, first, 1, &edit, &limits, run(&unique("r"))).await,
    );
    rows_agree(t, &s, "field edit", &probes).await;

    let moved = &plan.order[n / 2];
    let ticket = plan.ticket(moved).unwrap_or_else(|| panic!("{moved}"));
    let target = plan
        .epics
        .iter()
        .find(|e| e.id != ticket.epic)
        .unwrap_or_else(|| panic!("a plan with two epics"));
    let edit = TicketEdit {
        epic: Some(target.id.clone()),
        ..TicketEdit::default()
    };
    ok(
        "move",
        edit_ticket(&repos, &s, moved, 1, &edit, &limits, run(&unique("r"))).await,
    );
    rows_agree(t, &s, "move", &probes).await;

    let (a, b) = free_pairs(plan, 1).remove(0);
    ok(
        "add",
        add_dependency(&repos, &s, &a, &b, run(&unique("r"))).await,
    );
    let mut with_pair = probes.clone();
    with_pair.extend([a.as_str(), b.as_str()]);
    rows_agree(t, &s, "dependency added", &with_pair).await;
    ok(
        "remove",
        remove_dependency(&repos, &s, &a, &b, run(&unique("r"))).await,
    );
    rows_agree(t, &s, "dependency removed", &with_pair).await;

    let gone = &plan.order[n - 2];
    ok(
        "delete",
        delete_ticket(&repos, blobs, &s, gone, run(&unique("r"))).await,
    );
    rows_agree(t, &s, "deleted", &probes).await;

    let stored = whole(t, &s).await;
    let (keep, absorb) = (&stored.order[1], &stored.order[2]);
    ok(
        "merge",
        merge_tickets(&repos, &s, keep, absorb, run(&unique("r"))).await,
    );
    let mut merged = probes.clone();
    merged.extend([keep.as_str(), absorb.as_str()]);
    rows_agree(t, &s, "merged", &merged).await;

    // Worded tickets: new titles and descriptions, one ticket fewer.
    let mut worded = whole(t, &s).await;
    for t in &mut worded.tickets {
        t.title = format!("Worded {}", t.title);
        t.description_html = format!("<p>{} Worded at last Quokka</p>", t.description_html);
    }
    let dropped = worded.order.remove(3);
    let dropped_ticket = worded.ticket(&dropped).cloned();
    worded.tickets.retain(|t| t.id != dropped);
    worded
        .dependencies
        .retain(|d| d.from != dropped && d.to != dropped);
    for e in &mut worded.epics {
        e.tickets.retain(|id| *id != dropped);
    }
    ok(
        "wording",
        save_wording(
            &repos,
            &s,
            &worded,
            serde_json::json!({}),
            "test",
            "model",
            run(&unique("r")),
        )
        .await,
    );
    assert!(dropped_ticket.is_some());
    rows_agree(t, &s, "worded", &probes).await;
    let quokka = TicketQuery {
        text: Some("quokka".to_owned()),
        per_page: super::MAX_PER_PAGE,
        ..TicketQuery::default()
    };
    let found = ok("quokka", list_tickets(&repos, &s, &quokka, NOW + 20).await);
    assert_eq!(
        found.total,
        worded.tickets.len(),
        "the worded text is searched"
    );

    // A session stored before rows existed: no rows at all.
    let pk = keys::session(&s);
    let rows = ok(
        "rows",
        query_all(t, &pk, keys::prefix::TICKET_ROWS, NOW + 20).await,
    );
    assert_eq!(
        rows.len(),
        worded.tickets.len(),
        "one row a ticket, no more"
    );
    let deletes: Vec<TransactOp> = rows
        .into_iter()
        .map(|r| TransactOp::Delete {
            pk: r.pk,
            sk: r.sk,
            condition: Condition::None,
        })
        .collect();
    ok(
        "forget rows",
        repos.transact_in_batches(deletes, NOW + 20).await,
    );
    rows_agree(t, &s, "no rows", &probes).await;
}
