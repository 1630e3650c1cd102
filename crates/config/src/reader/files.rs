//! `-f` paths → the files to read: a directory stands for its `*.cfg` files.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Level};

/// The files `path` names, in the order HAProxy reads them: a file as is; a directory's
/// regular `*.cfg` files (not hidden, not recursive) in byte-wise lexical order.
pub(crate) fn expand(path: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Level::Alert,
                    None,
                    format!(
                        "cannot open configuration file/directory '{}': {e}",
                        path.display()
                    ),
                )
                .with_hint("check the path given with -f"),
            );
            return Vec::new();
        }
    };
    if !meta.is_dir() {
        return vec![path.to_path_buf()];
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Level::Alert,
                    None,
                    format!(
                        "cannot read configuration directory '{}': {e}",
                        path.display()
                    ),
                )
                .with_hint("check the directory's permissions"),
            );
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.as_encoded_bytes();
            name.ends_with(b".cfg") && !name.starts_with(b".")
        })
        .map(|e| e.path())
        // `metadata` follows symlinks, like HAProxy's stat().
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .collect();
    files.sort_by(|a, b| {
        let a = a.file_name().map(|n| n.as_encoded_bytes().to_vec());
        let b = b.file_name().map(|n| n.as_encoded_bytes().to_vec());
        a.cmp(&b)
    });
    if files.is_empty() {
        diags.push(
            Diagnostic::new(
                Level::Warning,
                None,
                format!(
                    "configuration directory '{}' contains no '*.cfg' file",
                    path.display()
                ),
            )
            .with_hint("only files whose names end in '.cfg' are read from a directory"),
        );
    }
    files
}

/// The file's text, and whether it was not valid UTF-8 (bad bytes became U+FFFD).
pub(crate) fn read_text(path: &Path) -> std::io::Result<(String, bool)> {
    let bytes = std::fs::read(path)?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, false)),
        Err(e) => Ok((String::from_utf8_lossy(e.as_bytes()).into_owned(), true)),
    }
}
