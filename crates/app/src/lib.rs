//! Use cases of the Drupal Ticket Generator, written once over small ports.
//!
//! The ports live here ([`store`]: the single table and the blob store); the
//! adapters live in `crates/aws` (DynamoDB, S3) and `crates/embedded`
//! (SQLite, a folder). Nothing in this crate knows which one it runs on.
//! [`repo`] holds the repositories over the table; [`workflow`] the stages.

pub mod export;
pub mod jira;
pub mod jobs;
pub mod progress;
pub mod repo;
pub mod review;
pub mod store;
pub mod time;
pub mod upload;
pub mod workflow;
