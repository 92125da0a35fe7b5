//! The check's output: a table for people, or JSON (`{"keys": [...], "summary": {...}}`) for
//! scripts. Keys appear masked and by id only.

use serde_json::json;

use super::{KeyReport, Verdict};

/// The reports as JSON.
pub fn json(reports: &[KeyReport]) -> String {
    let usable = reports.iter().filter(|r| r.usable).count();
    let value = json!({
        "keys": reports,
        "summary": {"total": reports.len(), "usable": usable, "not_usable": reports.len() - usable},
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// At most this many model names are listed per key in the table (the JSON has them all).
const MODELS_SHOWN: usize = 4;

/// The reports as an aligned text table, with a summary line.
pub fn table(reports: &[KeyReport]) -> String {
    let rows: Vec<[String; 4]> = reports
        .iter()
        .map(|r| {
            let models = match r.models.len() {
                0 => "-".to_string(),
                n if n <= MODELS_SHOWN => r.models.join(", "),
                n => format!(
                    "{} (+{} more)",
                    r.models[..MODELS_SHOWN].join(", "),
                    n - MODELS_SHOWN
                ),
            };
            let mut verdict = r.verdict.label().to_string();
            if let (Some(status), false) = (r.status, r.verdict == Verdict::Valid) {
                verdict = format!("{verdict} [{status}]");
            }
            [r.key.clone(), r.id.clone(), verdict, models]
        })
        .collect();
    let head = ["KEY", "ID", "VERDICT", "MODELS"];
    let mut width = head.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 3 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = width[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(head);
    for (row, r) in rows.iter().zip(reports) {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
        if let (Some(detail), false) = (&r.detail, r.usable) {
            out.push_str(&format!("    {}\n", detail.lines().next().unwrap_or("")));
        }
    }
    let usable = reports.iter().filter(|r| r.usable).count();
    out.push_str(&format!("\n{usable} of {} keys usable\n", reports.len()));
    out
}
