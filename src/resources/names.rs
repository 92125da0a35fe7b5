//! How Gemini's stored resources are named, and where a request names them. A name is
//! `{collection}/{id}`: `files/abc123`, `cachedContents/xyz`, `batches/123`, `interactions/v1_…`.
//! Bodies name them in many places — `fileData.fileUri` (bare or as a full URL),
//! `cachedContent`, a batch's input `fileName`, a cache's own contents, an interaction's
//! `previous_interaction_id` — so a body is scanned for the names themselves rather than parsed
//! field by field: one pass per collection (memchr's SIMD search), no parse, no copy.

use memchr::memmem;

/// A kind of resource Gemini keeps per project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Cache,
    Batch,
    Interaction,
    /// A resumable upload's session (`upload_id`): the key that opened it takes its bytes.
    Upload,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::File,
        Kind::Cache,
        Kind::Batch,
        Kind::Interaction,
        Kind::Upload,
    ];

    /// The collection in Gemini's paths.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::File => "files",
            Kind::Cache => "cachedContents",
            Kind::Batch => "batches",
            Kind::Interaction => "interactions",
            Kind::Upload => "uploads",
        }
    }

    /// The kind a path's collection names.
    pub fn of_collection(collection: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.collection() == collection)
    }

    /// What a person calls one, in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Cache => "context cache",
            Kind::Batch => "batch",
            Kind::Interaction => "interaction",
            Kind::Upload => "upload",
        }
    }
}

/// A resource's full name, `{collection}/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceName {
    kind: Kind,
    name: String,
}

impl ResourceName {
    /// The resource `id` of `kind` (the id as Gemini gave it).
    pub fn new(kind: Kind, id: &str) -> ResourceName {
        ResourceName {
            kind,
            name: format!("{}/{id}", kind.collection()),
        }
    }

    /// A full name (`files/abc`), if it is one: a known collection and a plain id.
    pub fn parse(name: &str) -> Option<ResourceName> {
        let (collection, id) = name.split_once('/')?;
        let kind = Kind::of_collection(collection)?;
        (!id.is_empty() && id.bytes().all(is_id_byte)).then(|| ResourceName::new(kind, id))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The id, without the collection.
    pub fn id(&self) -> &str {
        &self.name[self.kind.collection().len() + 1..]
    }
}

impl std::fmt::Display for ResourceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Whether `b` may be part of a resource id (Gemini's ids: letters, digits, `-`, `_`, `.`).
pub fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Every resource name `body` holds, each once, in the order found: `files/…`,
/// `cachedContents/…` and `batches/…` wherever they stand as a JSON string or the end of a URL
/// path, and `interactions/…` for the value of `previous_interaction_id`.
pub fn in_body(body: &[u8]) -> Vec<ResourceName> {
    let mut found: Vec<ResourceName> = Vec::new();
    let mut add = |name: ResourceName| {
        if !found.contains(&name) {
            found.push(name);
        }
    };
    for kind in [Kind::File, Kind::Cache, Kind::Batch] {
        let needle = format!("{}/", kind.collection());
        for at in memmem::find_iter(body, needle.as_bytes()) {
            // A name stands alone: a string's start (`"files/`) or a path's segment (`/files/`).
            if at > 0 && !matches!(body[at - 1], b'"' | b'/') {
                continue;
            }
            let rest = &body[at + needle.len()..];
            let len = rest.iter().take_while(|b| is_id_byte(**b)).count();
            // The id ends the string or the path (`files/abc:download` names a method).
            if len == 0 || !matches!(rest.get(len), Some(b'"') | Some(b':') | Some(b'?')) {
                continue;
            }
            if let Ok(id) = std::str::from_utf8(&rest[..len]) {
                add(ResourceName::new(kind, id));
            }
        }
    }
    for at in memmem::find_iter(body, b"\"previous_interaction_id\"") {
        if let Some(id) = string_value(&body[at + b"\"previous_interaction_id\"".len()..]) {
            if !id.is_empty() && id.bytes().all(is_id_byte) {
                add(ResourceName::new(Kind::Interaction, id));
            }
        }
    }
    found
}

/// The JSON string right after a key (`: "value"`), without escapes.
fn string_value(after_key: &[u8]) -> Option<&str> {
    let rest = after_key.trim_ascii_start().strip_prefix(b":")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<String> {
        in_body(body.as_bytes())
            .into_iter()
            .map(|n| n.as_str().to_string())
            .collect()
    }

    #[test]
    fn finds_names_wherever_a_body_holds_them() {
        let body = r#"{"cachedContent":"cachedContents/c-1","contents":[{"parts":[
            {"fileData":{"fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc123","mimeType":"image/png"}},
            {"fileData":{"fileUri":"files/def456"}},
            {"fileData":{"fileUri":"files/abc123"}}]}],
            "batch":{"inputConfig":{"fileName":"files/in-9"}},
            "previous_interaction_id" : "v1_ChdabC"}"#;
        assert_eq!(
            names(body),
            [
                "files/abc123",
                "files/def456",
                "files/in-9",
                "cachedContents/c-1",
                "interactions/v1_ChdabC"
            ]
        );
    }

    #[test]
    fn words_that_only_look_like_names_are_not_names() {
        // Prose, other collections, a trailing segment, an empty id.
        for body in [
            r#"{"text":"see my files/abc123 folder"}"#,
            r#"{"text":"profiles/abc"}"#,
            r#"{"uri":"gs://bucket/files/abc/more"}"#,
            r#"{"fileUri":"files/"}"#,
            r#"{"previous_interaction_id": 5}"#,
        ] {
            assert!(names(body).is_empty(), "{body}");
        }
    }

    #[test]
    fn a_full_name_parses_only_with_a_known_collection_and_a_plain_id() {
        let n = ResourceName::parse("cachedContents/xyz").unwrap();
        assert_eq!((n.kind(), n.id()), (Kind::Cache, "xyz"));
        for bad in ["models/x", "files/", "files/a/b", "files/a b", "nothing"] {
            assert!(ResourceName::parse(bad).is_none(), "{bad}");
        }
    }
}
