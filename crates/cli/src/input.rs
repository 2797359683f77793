//! Collecting the CSV files named on the command line.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dtg_core::csv::SourceFile;

fn is_csv(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads the CSV files named by `paths`: files as given, directories for
/// their `*.csv` files (sorted by name, not recursive).
///
/// # Errors
/// A path that does not exist or cannot be read, or no CSV file at all.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<SourceFile>> {
    let mut found: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_csv(p))
                .collect();
            entries.sort();
            found.extend(entries);
        } else {
            found.push(path.clone());
        }
    }
    if found.is_empty() {
        let list = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        bail!("no CSV file found in {list}; name CSV files or a folder that holds them");
    }
    found
        .iter()
        .map(|path| {
            let bytes =
                fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok(SourceFile::new(name, bytes))
        })
        .collect()
}
