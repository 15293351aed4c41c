//! The SMS API's parameters, wherever the account's "HTTP Method" setting
//! puts them: the query string of a GET, a form body or a flat JSON object.
//! The same names and values are signed whichever carrier is used.

use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::super::WebhookRequest;

/// Why a request's parameters could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("a GET carries its parameters in the query string, not a body")]
    BodyOnGet,
    #[error("content type {0:?} is neither a form nor JSON")]
    ContentType(String),
    #[error("body is not a JSON object: {0}")]
    NotJsonObject(String),
    #[error("JSON field {0:?} is not a string, number or boolean")]
    NotScalar(String),
    #[error("parameter {0:?} is given more than once")]
    Repeated(String),
}

impl ParamsError {
    /// What [`super::super::VerifyError::Malformed`] names.
    pub fn what(&self) -> &'static str {
        match self {
            Self::BodyOnGet => "body",
            Self::ContentType(_) => "content-type",
            Self::NotJsonObject(_) | Self::NotScalar(_) => "JSON body",
            Self::Repeated(_) => "parameters",
        }
    }
}

/// Name/value pairs, each name once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn read(request: &WebhookRequest<'_>) -> Result<Self, ParamsError> {
        let pairs = if *request.method == Method::GET {
            // Only the query is read on a GET: a body would be unsigned.
            if !request.body.is_empty() {
                return Err(ParamsError::BodyOnGet);
            }
            decode_form(query_of(request.url).as_bytes())
        } else {
            match content_type(request)? {
                Body::Form => decode_form(request.body),
                Body::Json => json_pairs(request.body)?,
            }
        };
        Self::from_pairs(pairs)
    }

    /// Refuses repeated names: Vonage signs a map, so a repeat cannot be
    /// something Vonage sent, and picking one of its values would let the
    /// unsigned choice decide what is read.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ParamsError> {
        let mut names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ParamsError::Repeated(pair[0].to_owned()));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when it is there and not blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

enum Body {
    Form,
    Json,
}

fn content_type(request: &WebhookRequest<'_>) -> Result<Body, ParamsError> {
    let Some(value) = request.headers.get(CONTENT_TYPE) else {
        return Ok(Body::Form);
    };
    let text = value
        .to_str()
        .map_err(|_| ParamsError::ContentType("(not text)".to_owned()))?;
    let essence = text.split(';').next().unwrap_or(text).trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(Body::Form)
    } else if essence.eq_ignore_ascii_case("application/json") {
        Ok(Body::Json)
    } else {
        Err(ParamsError::ContentType(essence.to_owned()))
    }
}

fn decode_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn query_of(url: &str) -> &str {
    let Some((_, after)) = url.split_once('?') else {
        return "";
    };
    after.split_once('#').map_or(after, |(query, _)| query)
}

/// A flat JSON object's members as text, the way Vonage's own SDKs turn
/// them into the signed string. Nested values and `null` have no agreed
/// text form, so a body holding them cannot be checked and is refused.
fn json_pairs(body: &[u8]) -> Result<Vec<(String, String)>, ParamsError> {
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| ParamsError::NotJsonObject(e.to_string()))?;
    object
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(s) => Ok((name, s)),
            Value::Number(n) => Ok((name, n.to_string())),
            Value::Bool(b) => Ok((name, b.to_string())),
            Value::Null | Value::Array(_) | Value::Object(_) => Err(ParamsError::NotScalar(name)),
        })
        .collect()
}
