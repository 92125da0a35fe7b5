//! Anthropic's own tool types (a tool with a `type` other than `custom`), sorted by who runs
//! them, because Gemini has a different answer for each kind:
//!
//! * server tools run on Anthropic's side. Two have a Gemini counterpart: `web_search_*` is
//!   Google Search (`googleSearch`) and `web_fetch_*` is URL context (`urlContext`). Every other
//!   one (`code_execution_*`, `advisor_*`, `tool_search_tool_*`, `mcp_toolset`, types from next
//!   year) has none: it is left out, and the response names it in `x-gateway-dropped-tools`
//!   rather than refusing the request.
//! * client tools are run by the client, with an input schema Anthropic fixes instead of the
//!   request: `bash_*`, `text_editor_*`, `memory_*` and `computer_*`. They are declared to Gemini
//!   as functions under the client's name, with that schema written out here.

use serde_json::{json, Value};

/// What a typed tool becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// Google Search.
    WebSearch,
    /// URL context.
    WebFetch,
    /// A client tool: a function with this description and schema.
    Client {
        description: &'static str,
        schema: Value,
    },
    /// A server tool Gemini has no counterpart for.
    Unmatched,
}

/// The kind of an Anthropic tool `type` (`custom` and untyped tools are not asked about).
/// `display` is the computer tool's screen size, when given.
pub(crate) fn kind_of(tool_type: &str, display: Option<(u64, u64)>) -> Kind {
    let family = tool_type
        .rsplit_once('_')
        .filter(|(_, date)| date.bytes().all(|b| b.is_ascii_digit()))
        .map_or(tool_type, |(family, _)| family);
    match family {
        "web_search" => Kind::WebSearch,
        "web_fetch" => Kind::WebFetch,
        "bash" => Kind::Client {
            description: BASH,
            schema: bash(),
        },
        "text_editor" => Kind::Client {
            description: TEXT_EDITOR,
            schema: text_editor(),
        },
        "memory" => Kind::Client {
            description: MEMORY,
            schema: memory(),
        },
        "computer" => Kind::Client {
            description: computer_description(display),
            schema: computer(),
        },
        _ => Kind::Unmatched,
    }
}

const BASH: &str = "Run a command in a persistent bash shell. State (working directory, \
    environment variables, files) is kept between calls. Set `restart` to true to start a \
    fresh shell.";

fn bash() -> Value {
    json!({"type": "object", "properties": {
        "command": {"type": "string",
            "description": "The bash command to run. Required unless the tool is being restarted."},
        "restart": {"type": "boolean",
            "description": "Restart the shell instead of running a command."}
    }})
}

const TEXT_EDITOR: &str = "View, create and edit files. `view` shows a file with line numbers \
    (or lists a directory); `create` writes `file_text` to a new file; `str_replace` replaces the \
    one exact occurrence of `old_str` with `new_str`; `insert` adds text after line \
    `insert_line` (0 for the top of the file).";

fn text_editor() -> Value {
    json!({"type": "object", "properties": {
        "command": {"type": "string",
            "enum": ["view", "create", "str_replace", "insert", "undo_edit"]},
        "path": {"type": "string", "description": "Absolute path to the file or directory."},
        "file_text": {"type": "string", "description": "Content of the file to create."},
        "old_str": {"type": "string", "description": "The exact text to replace."},
        "new_str": {"type": "string",
            "description": "The replacement text (also the text `insert` adds)."},
        "insert_line": {"type": "integer", "description": "The line to insert after."},
        "insert_text": {"type": "string", "description": "The text to insert."},
        "view_range": {"type": "array", "items": {"type": "integer"},
            "description": "First and last line to view (-1 for the end of the file)."}
    }, "required": ["command", "path"]})
}

const MEMORY: &str = "Read and write files in the /memories directory, which persists across \
    conversations: `view`, `create`, `str_replace`, `insert`, `delete` and `rename`.";

fn memory() -> Value {
    json!({"type": "object", "properties": {
        "command": {"type": "string",
            "enum": ["view", "create", "str_replace", "insert", "delete", "rename"]},
        "path": {"type": "string", "description": "A path under /memories."},
        "view_range": {"type": "array", "items": {"type": "integer"}},
        "file_text": {"type": "string"},
        "old_str": {"type": "string"},
        "new_str": {"type": "string"},
        "insert_line": {"type": "integer"},
        "insert_text": {"type": "string"},
        "old_path": {"type": "string"},
        "new_path": {"type": "string"}
    }, "required": ["command"]})
}

const COMPUTER: &str = "Use a mouse and keyboard to interact with a computer, and take \
    screenshots. Coordinates are pixels from the top left corner of the screen.";

/// The computer tool's description, with its screen size (from a short list, so the text can
/// be `'static`; other sizes are described without it).
fn computer_description(display: Option<(u64, u64)>) -> &'static str {
    match display {
        Some((1024, 768)) => {
            "Use a mouse and keyboard to interact with a computer, and take \
            screenshots. The screen is 1024x768 pixels; coordinates are pixels from its top \
            left corner."
        }
        Some((1280, 800)) => {
            "Use a mouse and keyboard to interact with a computer, and take \
            screenshots. The screen is 1280x800 pixels; coordinates are pixels from its top \
            left corner."
        }
        Some((1920, 1080)) => {
            "Use a mouse and keyboard to interact with a computer, and take \
            screenshots. The screen is 1920x1080 pixels; coordinates are pixels from its top \
            left corner."
        }
        _ => COMPUTER,
    }
}

fn computer() -> Value {
    let point = json!({"type": "array", "items": {"type": "integer"},
        "description": "[x, y] in pixels."});
    json!({"type": "object", "properties": {
        "action": {"type": "string", "enum": ["key", "type", "mouse_move", "left_click",
            "left_click_drag", "right_click", "middle_click", "double_click", "triple_click",
            "screenshot", "cursor_position", "left_mouse_down", "left_mouse_up", "scroll",
            "hold_key", "wait", "zoom"]},
        "coordinate": point,
        "start_coordinate": point,
        "text": {"type": "string", "description": "Text to type, or the key combination to press."},
        "scroll_direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
        "scroll_amount": {"type": "integer"},
        "duration": {"type": "number", "description": "Seconds (hold_key, wait)."},
        "region": {"type": "array", "items": {"type": "integer"},
            "description": "[x1, y1, x2, y2] to zoom into."}
    }, "required": ["action"]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_sorted_by_who_runs_them() {
        assert_eq!(kind_of("web_search_20250305", None), Kind::WebSearch);
        assert_eq!(kind_of("web_search_20260209", None), Kind::WebSearch);
        assert_eq!(kind_of("web_fetch_20250910", None), Kind::WebFetch);
        for server in [
            "advisor_20260301",
            "code_execution_20250825",
            "tool_search_tool_regex_20251119",
            "mcp_toolset",
            "something_new_20270101",
        ] {
            assert_eq!(kind_of(server, None), Kind::Unmatched, "{server}");
        }
        for client in [
            "bash_20250124",
            "text_editor_20250728",
            "text_editor_20250124",
            "memory_20250818",
            "computer_20251124",
        ] {
            assert!(
                matches!(kind_of(client, None), Kind::Client { .. }),
                "{client}"
            );
        }
    }

    #[test]
    fn client_tool_schemas_are_objects_and_the_screen_is_described() {
        for t in ["bash_1", "text_editor_1", "memory_1", "computer_1"] {
            let Kind::Client { schema, .. } = kind_of(t, None) else {
                panic!("{t}")
            };
            assert_eq!(schema["type"], "object", "{t}");
        }
        let Kind::Client { description, .. } = kind_of("computer_20250124", Some((1280, 800)))
        else {
            panic!("client tool")
        };
        assert!(description.contains("1280x800"));
    }
}
