//! Function names between a client and Gemini: Gemini wants a letter or `_` first (a leading
//! digit or symbol gets a `_` prefix, undone on the way back), and only letters, digits, `_`,
//! `-`, `.` and `:`, at most [`MAX_TOOL_NAME`] long.

use std::borrow::Cow;

/// The Gemini name for a client's tool name.
pub fn to_gemini_name(name: &str) -> Cow<'_, str> {
    if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("_{name}"))
    }
}

/// The client's name for a Gemini function name (inverse of [`to_gemini_name`]).
pub fn from_gemini_name(name: &str) -> &str {
    match name.strip_prefix('_') {
        Some(rest) if rest.starts_with(|c: char| !(c.is_ascii_alphabetic() || c == '_')) => rest,
        _ => name,
    }
}

/// Longest function name sent to Gemini.
pub const MAX_TOOL_NAME: usize = 128;

/// What Gemini accepts as a function name, at its most lenient (letters, digits, `_`, `-`, `.`,
/// `:`; a letter or `_` first, which [`to_gemini_name`] ensures; at most [`MAX_TOOL_NAME`]).
pub fn valid_function_name(name: &str) -> bool {
    name.len() <= MAX_TOOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}
