//! A Responses request's whole conversation: the items it sends, after those of the response
//! it continues (`previous_response_id`), its `item_reference`s replaced by the items they
//! name. Only a request that continues, references or is to be kept pays for any of this; a
//! stateless one (Codex over HTTP) passes its items straight to the translation.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::compaction;
use super::stored::{response_of_item, Record, ResponseBook, SocketMemory};
use super::types::{self, Items};
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::signature::new_id;

/// Where earlier responses are looked up, for one client.
pub struct Lookup<'a> {
    pub book: &'a ResponseBook,
    /// The client key's name (empty without client keys): only its own responses are found.
    pub owner: &'a str,
    /// The socket's recent responses, when the request came over a WebSocket.
    pub socket: Option<&'a Mutex<SocketMemory>>,
}

impl Lookup<'_> {
    /// The response `id`, from the socket first, then the book.
    pub async fn response(&self, id: &str) -> Option<Arc<Record>> {
        let local = self
            .socket
            .and_then(|s| s.lock().unwrap_or_else(|p| p.into_inner()).get(id));
        match local {
            Some(r) => Some(r),
            None => self.book.get(id, self.owner).await,
        }
    }
}

/// The conversation, ready for the translation.
#[derive(Debug, Default)]
pub struct Conversation {
    pub items: Items,
    /// The model's whole input as JSON items, ids given, when the response will be kept.
    pub kept: Option<Vec<Value>>,
    /// The conversation it continues (its first response's id), for key affinity.
    pub thread: Option<String>,
    /// The input ended with a `compaction_trigger`: the answer is a summary of it all (the
    /// instruction asking for it is the last item now).
    pub compacting: bool,
}

/// Assembles the conversation of a request whose `input` is `input`; `keep`: the response will
/// be kept (stored, or remembered by its socket).
pub async fn assemble(
    input: Option<Value>,
    previous: Option<&str>,
    keep: bool,
    lookup: &Lookup<'_>,
) -> Result<Conversation, OpenAiError> {
    let mut own = types::input_list(input)?;
    let kind = |v: &Value, k: &str| v["type"].as_str() == Some(k);
    let compacting = match own.iter().rposition(|v| kind(v, "compaction_trigger")) {
        Some(i) => {
            own.remove(i);
            own.push(compaction::instruction_item());
            true
        }
        None => false,
    };
    let references = own.iter().any(|v| kind(v, "item_reference"));
    if previous.is_none() && !references && !keep {
        return Ok(Conversation {
            items: types::items(own)?,
            compacting,
            ..Conversation::default()
        });
    }
    let earlier = match previous {
        None => None,
        Some(id) => Some(lookup.response(id).await.ok_or_else(|| not_found(id))?),
    };
    let mut thread = earlier.as_ref().map(|r| r.conversation.clone());
    for (i, v) in own.iter_mut().enumerate() {
        if v["type"].as_str() != Some("item_reference") {
            continue;
        }
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let (found, record) = referenced(&id, earlier.as_ref(), lookup)
            .await
            .ok_or_else(|| {
                OpenAiError::invalid_param(
                    &format!("input[{i}]"),
                    format!("Item with id '{id}' not found: an item_reference must name an item of a response this gateway stored (store: true) for this API key."),
                )
            })?;
        thread.get_or_insert_with(|| record.conversation.clone());
        *v = found;
    }
    let mut whole: Vec<Value> = match &earlier {
        Some(r) => r.history().cloned().chain(own).collect(),
        None => own,
    };
    let kept = keep.then(|| {
        for v in whole.iter_mut().filter(|v| v.get("id").is_none()) {
            if let Some(item) = v.as_object_mut() {
                item.insert("id".into(), Value::String(new_id("item_")));
            }
        }
        whole.clone()
    });
    Ok(Conversation {
        items: types::items(whole)?,
        kept,
        thread,
        compacting,
    })
}

/// The item `id` names and the response it came from: the continued response's first, else
/// the one its id points at.
async fn referenced(
    id: &str,
    earlier: Option<&Arc<Record>>,
    lookup: &Lookup<'_>,
) -> Option<(Value, Arc<Record>)> {
    if let Some(r) = earlier {
        if let Some(v) = r.item(id) {
            return Some((v.clone(), r.clone()));
        }
    }
    let record = lookup.response(&response_of_item(id)?).await?;
    let found = record.item(id)?.clone();
    Some((found, record))
}

/// The 400 OpenAI answers for a `previous_response_id` it does not have.
pub fn not_found(id: &str) -> OpenAiError {
    OpenAiError {
        code: Some("previous_response_not_found"),
        ..OpenAiError::invalid_param(
            "previous_response_id",
            format!("Previous response with id '{id}' not found: it was not stored (store: false, outside a WebSocket), has expired, or belongs to another API key."),
        )
    }
}
