//! Helpers shared by the core's integration tests: where the data lives and
//! how to load a folder of CSV files.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use dtg_core::csv::{Limits, Report, SourceFile, validate};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `sample_data/<name>`.
pub fn sample(name: &str) -> PathBuf {
    repo().join("sample_data").join(name)
}

/// `reference/drupal/<name>`: real Drupal configuration kept in the repository.
pub fn drupal(name: &str) -> PathBuf {
    repo().join("reference/drupal").join(name)
}

/// `oracle.json` of `reference/drupal/<name>`: the items, counts and
/// dependencies Drupal itself declares.
pub fn oracle(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fs::read(drupal(name).join("oracle.json")).unwrap()).unwrap()
}

/// The CSV files of a folder, sorted by name.
pub fn load(dir: &Path) -> Vec<SourceFile> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            SourceFile::new(
                p.file_name().unwrap().to_string_lossy(),
                fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// Validates a folder with the default limits.
pub fn validate_dir(dir: &Path) -> Report {
    validate(&load(dir), &Limits::default())
}
