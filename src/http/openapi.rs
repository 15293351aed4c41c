//! `GET /api/v1/openapi.json`: the JSON API described as OpenAPI 3.1.
//!
//! Each API module declares its routes once, as `Endpoint`s that carry both
//! the handler and what the document says about it; the router and the
//! document are built from that one list, so a route cannot be served
//! without being documented.

use axum::Json;
use axum::routing::{MethodRouter, get};
use serde_json::{Map, Value, json};

use crate::app::AppState;

/// One method on one path, with its handler.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    summary: &'static str,
    /// Whether a JSON body is read.
    body: bool,
    /// Query parameters, all strings.
    query: &'static [&'static str],
    /// The success status and what it returns.
    ok: (u16, &'static str),
    /// Whether the API token is required.
    bearer: bool,
    handler: MethodRouter<AppState>,
}

impl Endpoint {
    fn new(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Self {
            method,
            path,
            summary,
            body: method != "get",
            query: &[],
            ok: (200, "OK"),
            bearer: true,
            handler,
        }
    }

    pub fn get(path: &'static str, summary: &'static str, h: MethodRouter<AppState>) -> Self {
        Self::new("get", path, summary, h)
    }

    pub fn post(path: &'static str, summary: &'static str, h: MethodRouter<AppState>) -> Self {
        Self::new("post", path, summary, h)
    }

    pub fn patch(path: &'static str, summary: &'static str, h: MethodRouter<AppState>) -> Self {
        Self::new("patch", path, summary, h)
    }

    pub fn created(mut self, what: &'static str) -> Self {
        self.ok = (201, what);
        self
    }

    pub fn returns(mut self, what: &'static str) -> Self {
        self.ok.1 = what;
        self
    }

    pub fn query(mut self, names: &'static [&'static str]) -> Self {
        self.query = names;
        self
    }

    fn public(mut self) -> Self {
        self.bearer = false;
        self
    }

    fn operation(&self) -> Value {
        let mut parameters: Vec<Value> = path_parameters(self.path)
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
            })
            .collect();
        parameters.extend(self.query.iter().map(|name| {
            json!({"name": name, "in": "query", "required": true, "schema": {"type": "string"}})
        }));
        let error = json!({"description": "Refused; see error.code",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut operation = json!({
            "operationId": format!("{}{}", self.method, self.path.replace(['/', '{', '}'], "_")),
            "summary": self.summary,
            "parameters": parameters,
            "responses": {
                self.ok.0.to_string(): {
                    "description": self.ok.1,
                    "content": {"application/json": {"schema": {"type": "object"}}}
                },
                "4XX": error,
            },
        });
        if self.body {
            operation["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        if !self.bearer {
            operation["security"] = json!([]);
        }
        operation
    }
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
}

pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// Every API endpoint: the JSON API's own lists and this document.
pub fn endpoints() -> Vec<Endpoint> {
    let mut all = super::api::endpoints();
    all.extend(super::verifications::endpoints());
    all.push(Endpoint::get(DOCUMENT_PATH, "This OpenAPI document", get(serve)).public());
    all
}

/// The routes of `endpoints`, merged per path.
pub fn router() -> axum::Router<AppState> {
    endpoints()
        .into_iter()
        .fold(axum::Router::new(), |router, e| {
            router.route(e.path, e.handler)
        })
}

/// The document for `endpoints`.
pub fn document(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for endpoint in endpoints {
        let item = paths
            .entry(endpoint.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[endpoint.method] = endpoint.operation();
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "smstrail send-side API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Register outbound messages and OTP verification steps, and read \
                their delivery timelines (CONTRACT §4). Errors are {\"error\": {\"code\", \"message\"}}."
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
                }}
            }}
        }
    })
}

async fn serve() -> Json<Value> {
    Json(document(&endpoints()))
}

/// `(method, path)` of every API route, upper-case methods, for tests and
/// tools.
pub fn routes() -> Vec<(String, &'static str)> {
    endpoints()
        .iter()
        .map(|e| (e.method.to_uppercase(), e.path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_in_the_document_once() {
        let all = endpoints();
        let document = document(&all);
        assert_eq!(document["openapi"], "3.1.0");
        let mut operations = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            operations += item.as_object().unwrap().len();
            for name in path_parameters(path) {
                for operation in item.as_object().unwrap().values() {
                    let declared = operation["parameters"].as_array().unwrap();
                    assert!(declared.iter().any(|p| p["name"] == name), "{path} {name}");
                }
            }
        }
        assert_eq!(operations, all.len());
        for e in &all {
            assert!(
                document["paths"][e.path][e.method].is_object(),
                "{} {}",
                e.method,
                e.path
            );
        }
    }
}
