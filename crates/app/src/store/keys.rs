//! Single-table keys, as code: every partition and sort key the product
//! writes is built here, for both backends.

/// `SESSION#<id>`: everything of one session.
#[must_use]
pub fn session(id: &str) -> String {
    format!("SESSION#{id}")
}

/// Sort key of a session's own item.
pub const META: &str = "META";

/// `PLAN`: a session's plan (granularity, ticket order, epics).
pub const PLAN: &str = "PLAN";

/// `EPIC#<id>`: an epic of the plan.
#[must_use]
pub fn epic(id: &str) -> String {
    format!("EPIC#{id}")
}

/// `FILE#<id>`: an uploaded file.
#[must_use]
pub fn file(id: &str) -> String {
    format!("FILE#{id}")
}

/// `UPLOAD#<id>`: a file a browser was given a URL to upload, not confirmed yet.
#[must_use]
pub fn upload(id: &str) -> String {
    format!("UPLOAD#{id}")
}

/// `TICKET#<id>`: a ticket.
#[must_use]
pub fn ticket(id: &str) -> String {
    format!("TICKET#{id}")
}

/// `TROW#<id>`: what a ticket list needs of a ticket, written with it.
#[must_use]
pub fn ticket_row(id: &str) -> String {
    format!("TROW#{id}")
}

/// `DEP#<from>#<to>`: `from` needs `to`.
#[must_use]
pub fn dependency(from: &str, to: &str) -> String {
    format!("DEP#{from}#{to}")
}

/// `TASK#<id>`: a processing, validation or export task.
#[must_use]
pub fn task(id: &str) -> String {
    format!("TASK#{id}")
}

/// `AUDIT#<ts>#<id>`: an audit entry; the zero-padded timestamp keeps them in time order.
#[must_use]
pub fn audit(at: i64, id: &str) -> String {
    format!("AUDIT#{at:012}#{id}")
}

/// `USER#<id>`: a user's items.
#[must_use]
pub fn user(id: &str) -> String {
    format!("USER#{id}")
}

/// `SESSION#<id>` under a user: the sessions a user owns.
#[must_use]
pub fn owned_session(id: &str) -> String {
    format!("SESSION#{id}")
}

/// `TOKEN#<site>`: a user's encrypted Jira tokens for a site.
#[must_use]
pub fn token(site: &str) -> String {
    format!("TOKEN#{site}")
}

/// `CONN#<id>`: a WebSocket connection (its own partition, with `META`), and
/// the same key under the session it listens to.
#[must_use]
pub fn connection(id: &str) -> String {
    format!("CONN#{id}")
}

/// `LOGIN#<digest>`: a signed-in browser, by the digest of its cookie.
#[must_use]
pub fn login(digest: &str) -> String {
    format!("LOGIN#{digest}")
}

/// `OAUTH#<state>`: a sign-in with Atlassian under way.
#[must_use]
pub fn oauth(state: &str) -> String {
    format!("OAUTH#{state}")
}

/// `WSTICKET#<digest>`: a short-lived ticket to open a WebSocket.
#[must_use]
pub fn ws_ticket(digest: &str) -> String {
    format!("WSTICKET#{digest}")
}

/// `ATTACH#<ticket>#<id>`: a file a reviewer attached to a ticket.
#[must_use]
pub fn attachment(ticket: &str, id: &str) -> String {
    format!("ATTACH#{ticket}#{id}")
}

/// `ATTACH#<ticket>#`: the prefix of one ticket's attachments (the closing
/// `#` keeps `menu-main` from matching `menu-main-footer`).
#[must_use]
pub fn attachments_of(ticket: &str) -> String {
    format!("ATTACH#{ticket}#")
}

/// Prefixes for queries within a session.
pub mod prefix {
    /// Every file.
    pub const FILES: &str = "FILE#";
    /// Every upload not confirmed yet.
    pub const UPLOADS: &str = "UPLOAD#";
    /// Every ticket.
    pub const TICKETS: &str = "TICKET#";
    /// Every ticket's list row.
    pub const TICKET_ROWS: &str = "TROW#";
    /// Every dependency.
    pub const DEPENDENCIES: &str = "DEP#";
    /// Every task.
    pub const TASKS: &str = "TASK#";
    /// Every audit entry.
    pub const AUDIT: &str = "AUDIT#";
    /// Every epic.
    pub const EPICS: &str = "EPIC#";
    /// Every ticket attachment.
    pub const ATTACHMENTS: &str = "ATTACH#";
    /// Every connection listening to a session.
    pub const CONNECTIONS: &str = "CONN#";
    /// Every session of a user.
    pub const SESSIONS: &str = "SESSION#";
    /// Every token of a user.
    pub const TOKENS: &str = "TOKEN#";
    /// Everything.
    pub const ALL: &str = "";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_and_prefix_as_queries_need() {
        assert!(ticket("a").starts_with(prefix::TICKETS));
        assert!(dependency("a", "b").starts_with(prefix::DEPENDENCIES));
        assert!(ticket_row("a").starts_with(prefix::TICKET_ROWS));
        assert!(!ticket_row("a").starts_with(prefix::TICKETS));
        assert!(audit(9, "x") < audit(10, "a"), "audit entries sort by time");
        assert_eq!(session("s1"), "SESSION#s1");
        assert_eq!(dependency("t1", "t2"), "DEP#t1#t2");
        assert!(attachment("menu-main", "a1").starts_with(&attachments_of("menu-main")));
        assert!(!attachment("menu-main-footer", "a1").starts_with(&attachments_of("menu-main")));
        assert!(attachments_of("t").starts_with(prefix::ATTACHMENTS));
    }
}
