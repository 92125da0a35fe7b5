//! Model-name patterns: `*` stands for any run of characters (none included), everything else
//! matches itself, case-insensitively. The rules table, `MODEL_ALIASES`, client allow-lists and
//! each key's `models` / `exclude_models` all name models this way (a leaf: the models and the
//! pool share it).

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    // Greedy matching with one backtrack point (the last `*`): linear for these short names.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&n[ni]) {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_any_run() {
        assert!(matches("gemini-4*", "gemini-4-argon"));
        assert!(matches("gemini-4*", "gemini-4"));
        assert!(matches("gemini-3*-flash-lite*", "gemini-3.5-flash-lite"));
        assert!(matches(
            "gemini-3*-flash-lite*",
            "gemini-3.1-flash-lite-preview"
        ));
        assert!(!matches("gemini-3*-flash-lite*", "gemini-3.8-flash"));
        assert!(matches("*", ""));
        assert!(matches("GEMINI-2.5-PRO", "gemini-2.5-pro"));
        assert!(!matches("gemini-2.5-pro", "gemini-2.5-pro-preview"));
        assert!(matches("claude-*-haiku-*", "claude-3-5-haiku-20241022"));
        assert!(!matches("a*b", "acbx"));
    }
}
