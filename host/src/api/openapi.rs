//! The OpenAPI 3.1 description of the admin API, generated.
//!
//! `openapi-base.json` beside this file holds what is written by hand: the document's
//! info, tags, security scheme and shared answers, and the routes that are not
//! [`Operation`]s (health, metrics, this description, webhooks). Each operation adds
//! its path from its [`OpDoc`](crate::control::OpDoc) and the JSON Schemas of its
//! parameters, input and output, which `schemars` derives from the same types serde
//! reads and writes; so the description cannot drift from what is served. Print it
//! with `curl -H "Authorization: Bearer $(sluice token)" http://127.0.0.1:7780/openapi.json`.

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::control::{InputFrom, OpVisitor, Operation, for_each_op};

/// The hand-written part of the description.
const BASE: &str = include_str!("openapi-base.json");

/// The whole description: the base, every operation's path, and the schemas they use.
pub fn document() -> Value {
    let mut doc: Value = serde_json::from_str(BASE).expect("openapi-base.json is JSON");
    let mut paths = Paths {
        schemas: SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
            .into_generator(),
        shared_responses: doc["components"]["responses"]
            .as_object()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default(),
        paths: Map::new(),
    };
    for_each_op(&mut paths);
    let Paths {
        mut schemas, paths, ..
    } = paths;
    let doc_paths = doc["paths"].as_object_mut().expect("base has paths");
    for (path, item) in paths {
        doc_paths.insert(path, item);
    }
    let doc_schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("base has components.schemas");
    for (name, schema) in schemas.take_definitions(true) {
        doc_schemas.insert(name, schema);
    }
    doc
}

/// Builds the `paths` of the operations, collecting the schemas they refer to.
struct Paths {
    schemas: SchemaGenerator,
    /// The names in `components.responses`.
    shared_responses: Vec<String>,
    paths: Map<String, Value>,
}

impl OpVisitor for Paths {
    fn visit<O: Operation>(&mut self) {
        let doc = &O::DOC;
        let mut op = json!({
            "operationId": doc.id,
            "tags": [doc.tag],
            "summary": doc.summary,
            "description": doc.description,
        });
        let mut parameters = Vec::new();
        let path_fields = fields::<O::Params>();
        for name in O::PATH
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}'))
            .map(|(name, _)| name)
        {
            let (schema, _) = path_fields
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, s, r)| (s.clone(), *r))
                .unwrap_or_else(|| panic!("{}: no field for {{{name}}}", O::PATH));
            parameters.push(parameter(name, "path", true, schema));
        }
        match O::INPUT {
            InputFrom::Nothing => {}
            InputFrom::Query => {
                for (name, schema, required) in fields::<O::Input>() {
                    parameters.push(parameter(&name, "query", required, schema));
                }
            }
            InputFrom::Json | InputFrom::JsonOrEmpty => {
                op["requestBody"] = json!({
                    "required": O::INPUT == InputFrom::Json,
                    "content": {
                        "application/json": {
                            "schema": self.schemas.subschema_for::<O::Input>(),
                        }
                    }
                });
            }
        }
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        let mut responses = Map::new();
        let output = self.schemas.subschema_for::<O::Output>();
        for &(status, text) in doc.responses {
            let answer = if (200..300).contains(&status) {
                json!({
                    "description": text,
                    "content": { "application/json": { "schema": output } },
                })
            } else if self.shared_responses.iter().any(|r| r == text) {
                json!({ "$ref": format!("#/components/responses/{text}") })
            } else if status == 413 && O::INPUT == InputFrom::JsonOrEmpty {
                // A raw body past the limit is refused by the framework in plain text.
                json!({
                    "description": text,
                    "content": { "text/plain": { "schema": { "type": "string" } } },
                })
            } else {
                json!({
                    "description": text,
                    "content": {
                        "application/json": {
                            "schema": { "$ref": "#/components/schemas/Error" }
                        }
                    },
                })
            };
            responses.insert(status.to_string(), answer);
        }
        responses.insert(
            "401".into(),
            json!({ "$ref": "#/components/responses/Unauthorized" }),
        );
        op["responses"] = Value::Object(responses);
        let item = self
            .paths
            .entry(O::PATH)
            .or_insert_with(|| Value::Object(Map::new()));
        item[O::METHOD.as_str().to_ascii_lowercase()] = op;
    }
}

/// A struct's fields as (name, schema, required), for path and query parameters:
/// their schemas inline, each field's doc comment as its description.
fn fields<T: schemars::JsonSchema>() -> Vec<(String, Value, bool)> {
    let root = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    let required: Vec<&str> = root["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    root["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, schema)| {
                    (
                        name.clone(),
                        schema.clone(),
                        required.contains(&name.as_str()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An OpenAPI parameter: the field's description moves up beside the schema.
fn parameter(name: &str, location: &str, required: bool, mut schema: Value) -> Value {
    let description = schema
        .as_object_mut()
        .and_then(|s| s.remove("description"))
        .unwrap_or(Value::Null);
    let mut p = json!({
        "name": name,
        "in": location,
        "required": required,
        "schema": schema,
    });
    if !description.is_null() {
        p["description"] = description;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_in_the_description_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "the description refers to its schemas");
        for r in found {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn every_operation_documents_its_path_parameters_and_answers() {
        let doc = document();
        struct Check<'a>(&'a Value);
        impl OpVisitor for Check<'_> {
            fn visit<O: Operation>(&mut self) {
                let op = &self.0["paths"][O::PATH][O::METHOD.as_str().to_ascii_lowercase()];
                assert_eq!(op["operationId"], O::DOC.id, "{}", O::PATH);
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                for name in O::PATH.split('{').skip(1).filter_map(|r| r.split_once('}')) {
                    assert!(
                        params
                            .iter()
                            .any(|p| p["in"] == "path" && p["name"] == name.0),
                        "{}: no parameter {}",
                        O::PATH,
                        name.0
                    );
                }
                let ok = op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .any(|s| s.starts_with('2'));
                assert!(ok, "{} {}: no success answer", O::METHOD.as_str(), O::PATH);
            }
        }
        for_each_op(&mut Check(&doc));
    }
}
