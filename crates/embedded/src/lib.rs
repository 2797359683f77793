//! Embedded adapters of the storage ports, for `dtg serve` and the tests:
//! the single table in SQLite ([`SqliteTable`]) and blobs in a folder
//! ([`FolderBlobs`]), whose presigned URLs [`blob_routes`] serves, and the
//! in-process progress [`Hub`] (the `Publish` port) of `dtg serve`.
//!
//! Both pass the same contract suite as the AWS adapters
//! (`dtg_app::store::contract`).
//!
//! [`asl`] runs the `statemachine/*.asl.json` definitions in process, the
//! same files Step Functions runs in production.

pub mod asl;
pub mod blobs;
pub mod hub;
pub mod table;

pub use blobs::{FolderBlobs, blob_routes};
pub use hub::Hub;
pub use table::SqliteTable;
