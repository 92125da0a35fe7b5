//! Tool `input_schema` (JSON Schema, any draft) → Gemini function parameters.
//!
//! Two outputs:
//! * [`json_schema_parameters`] — the default, sent as `parametersJsonSchema`: a light,
//!   whitelist-based normalisation that keeps JSON Schema semantics (`additionalProperties`,
//!   typeless "any value" properties, unions). Local `$ref`s are inlined (cycles cut), `allOf`
//!   merged, `oneOf` → `anyOf`, `const` → `enum`, numeric `exclusiveMinimum/Maximum` →
//!   `minimum/maximum` (±1 for integers, same bound otherwise), `type: [T, "null"]` → `anyOf`,
//!   `examples[0]` → `example`; `$schema`, `$id`, `$comment`, `x-*`, `propertyNames`,
//!   `patternProperties`, `if/then/else`, `not`, … are dropped. This is what Gemini CLI does for
//!   its own tools on Gemini 2.5/3.
//! * [`strict_parameters`] — the OpenAPI-subset `parameters` form (only the keywords in
//!   [`PARAMETERS_KEYWORDS`], upper-case types, string-only enums, `anyOf` as the only field of
//!   its node, `nullable` instead of null types). Used for legacy models (1.x/2.0) and by
//!   [`downgrade_to_parameters`], which the caller can apply before retrying a request that
//!   Gemini rejected with a schema 400.
//!
//! Both return `None` when the tool takes no parameters (an object without properties), so no
//! empty OBJECT schema is ever sent.
//!
//! `$ref` inlining is bounded by a work budget ([`SCHEMA_BUDGET`] per request, shared by its
//! schemas): the `*_within` forms report a schema that needs more as [`SchemaTooLarge`] (the
//! request is then a 400); the plain forms return the output cut short.

mod light;
mod prepare;
mod strict;

use serde_json::{json, Map, Value};

use crate::upstream::wire::GenerateContentRequest;

use prepare::Ctx;

/// Keywords allowed in Gemini's `parameters` (OpenAPI subset `Schema`).
pub const PARAMETERS_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// Keywords [`json_schema_parameters`] keeps beyond [`PARAMETERS_KEYWORDS`].
pub const JSON_SCHEMA_EXTRA_KEYWORDS: &[&str] = &["prefixItems", "additionalProperties"];

/// Whether [`json_schema_parameters`] keeps keyword `k`.
pub fn is_json_schema_keyword(k: &str) -> bool {
    PARAMETERS_KEYWORDS.contains(&k) || JSON_SCHEMA_EXTRA_KEYWORDS.contains(&k)
}

/// Work units one request's schema conversions may use (a unit is a JSON value or 64 bytes of
/// text copied). The 24 tools of Claude Code's captured requests take about 2,100 in both forms
/// together; a hostile `$ref` bomb would take 2^24 and more.
pub const SCHEMA_BUDGET: usize = 100_000;

/// A schema whose `$ref` expansion needs more than the budget left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the schema is too large once its $refs are expanded")]
pub struct SchemaTooLarge;

/// `parametersJsonSchema` for a tool's `input_schema`, or `None` for a parameterless tool.
pub fn json_schema_parameters(input_schema: &Value) -> Option<Value> {
    let mut budget = SCHEMA_BUDGET;
    json_schema_parameters_within(input_schema, &mut budget).unwrap_or_else(|(cut, _)| cut)
}

/// [`json_schema_parameters`] spending `budget`; `Err` carries the cut output.
pub fn json_schema_parameters_within(
    input_schema: &Value,
    budget: &mut usize,
) -> Result<Option<Value>, (Option<Value>, SchemaTooLarge)> {
    let mut ctx = Ctx::new(input_schema, *budget);
    let mut out = light::light(input_schema, &mut ctx, 0);
    if !out.contains_key("type") && !out.contains_key("anyOf") {
        out.insert("type".into(), json!("object"));
    }
    settle(&ctx, budget, non_empty_object(out))
}

/// A light-normalised JSON Schema for `responseJsonSchema` (structured output).
pub fn response_json_schema(schema: &Value) -> Value {
    let mut budget = SCHEMA_BUDGET;
    response_json_schema_within(schema, &mut budget).unwrap_or_else(|(cut, _)| cut)
}

/// [`response_json_schema`] spending `budget`; `Err` carries the cut output.
pub fn response_json_schema_within(
    schema: &Value,
    budget: &mut usize,
) -> Result<Value, (Value, SchemaTooLarge)> {
    let mut ctx = Ctx::new(schema, *budget);
    let out = Value::Object(light::light(schema, &mut ctx, 0));
    settle(&ctx, budget, out)
}

/// `parameters` (OpenAPI subset) for a tool's `input_schema`, or `None` for a parameterless tool.
pub fn strict_parameters(input_schema: &Value) -> Option<Value> {
    let mut budget = SCHEMA_BUDGET;
    strict_parameters_within(input_schema, &mut budget).unwrap_or_else(|(cut, _)| cut)
}

/// [`strict_parameters`] spending `budget`; `Err` carries the cut output.
pub fn strict_parameters_within(
    input_schema: &Value,
    budget: &mut usize,
) -> Result<Option<Value>, (Option<Value>, SchemaTooLarge)> {
    let mut ctx = Ctx::new(input_schema, *budget);
    let out = strict::strict(input_schema, &mut ctx, 0);
    settle(&ctx, budget, non_empty_object(out))
}

fn settle<T>(ctx: &Ctx<'_>, budget: &mut usize, out: T) -> Result<T, (T, SchemaTooLarge)> {
    *budget = ctx.remaining();
    if ctx.exhausted() {
        Err((out, SchemaTooLarge))
    } else {
        Ok(out)
    }
}

/// Rewrite every `parametersJsonSchema` of the request as strict `parameters` (fallback for a
/// Gemini 400 on a JSON Schema, or for models without `parametersJsonSchema` support).
pub fn downgrade_to_parameters(req: &mut GenerateContentRequest) {
    for tool in req.tools.iter_mut().flatten() {
        tool.decode_declarations();
        for decl in tool.function_declarations.iter_mut().flatten() {
            if let Some(schema) = decl.parameters_json_schema.take() {
                decl.parameters = strict_parameters(&schema);
            }
        }
    }
}

fn non_empty_object(out: Map<String, Value>) -> Option<Value> {
    let has_props = out
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    (has_props || out.contains_key("anyOf")).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests;
