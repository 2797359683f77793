//! Embedded adapters of the storage ports, for `dtg serve` and the tests:
//! the single table in SQLite ([`SqliteTable`]) and blobs in a folder
//! ([`FolderBlobs`]), whose presigned URLs [`blob_routes`] serves.
//!
//! Both pass the same contract suite as the AWS adapters
//! (`dtg_app::store::contract`).

pub mod blobs;
pub mod table;

pub use blobs::{FolderBlobs, blob_routes};
pub use table::SqliteTable;
