//! The Jira client against scripted servers: retries and what is never
//! retried, rate-limit handling, error mapping, every operation's request
//! and answer, OAuth refresh over the real SQLite token store, dry runs,
//! every JSON body checked against Jira's published request schemas, and
//! answers generated from its response schemas read by the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod answers;
mod helpers;
mod oauth;
mod operations;
mod retries;
mod schema;
