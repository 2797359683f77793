//! The pure domain of the Drupal Ticket Generator.
//!
//! Everything here is deterministic and free of I/O: callers hand in bytes and
//! settings, and get back typed values and findings. The CSV type registry and
//! validator live in [`csv`], the config items they produce in [`item`], and
//! the findings that explain what is wrong with an upload in [`finding`], the
//! build plan in [`plan`], and Atlassian Document Format in [`adf`].

pub mod adf;
pub mod csv;
pub mod finding;
pub mod item;
pub mod plan;
pub mod session;

pub use finding::{Code, Finding, Severity};
pub use item::{ConfigItem, ItemData};
