//! Snapshot comparison for the translation tests: a translated request is compared with its
//! expected JSON under `tests/fixtures/<folder>/expected/`; `UPDATE_SNAPSHOTS=1` rewrites the file
//! (and the diff is then reviewed like any change).

#![cfg(test)]

use serde_json::Value;

/// Compares `actual` with `tests/fixtures/<folder>/expected/<name>`.
pub fn assert_snapshot(folder: &str, name: &str, actual: &Value) {
    let path = format!(
        "{}/tests/fixtures/{folder}/expected/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let pretty = serde_json::to_string_pretty(actual).unwrap_or_default() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &pretty).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let expected: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
    assert_eq!(actual, &expected, "snapshot {name} differs");
}
