//! Typed JSON request bodies with client-friendly errors.
//!
//! The split between 400 and 422 follows what the client can do about it:
//! a body that is not JSON at all (empty, malformed, wrong content type) is a
//! *bad request* (400) and the detail says where parsing stopped (line and
//! column); a well-formed JSON document whose values do not fit the expected
//! shape (a string where a number belongs, a missing required field, an
//! unknown field) is *unprocessable* (422) and names the field path, e.g.
//! `price.amount_minor`, in the same `errors` list that validation uses.

use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem};

/// True for `application/json` and `application/<anything>+json`, with or
/// without parameters such as `; charset=utf-8`. Case-insensitive.
pub fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// Parses `body` into `T`, checking the `Content-Type` first.
///
/// A missing content type is rejected too: clients must say they send JSON,
/// which guards against form posts being misread.
pub fn parse<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T, Problem> {
    match content_type {
        Some(ct) if is_json_content_type(ct) => {}
        Some(ct) => {
            return Err(Problem::bad_request(format!(
                "Content-Type must be application/json, got `{ct}`"
            )))
        }
        None => {
            return Err(Problem::bad_request(
                "Content-Type must be application/json; the header is missing",
            ))
        }
    }
    parse_body(body)
}

/// Parses `body` into `T` without looking at a content type.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "the request body is empty; a JSON object was expected",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(classify)?;
    // Reject trailing garbage such as `{"a":1} xyz`.
    de.end().map_err(|e| syntax_problem(&e))?;
    Ok(value)
}

fn syntax_problem(e: &serde_json::Error) -> Problem {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON body ends unexpectedly",
        _ => "the body is not valid JSON",
    };
    Problem::bad_request(format!(
        "{what}: {} (line {}, column {})",
        strip_location(&e.to_string()),
        e.line(),
        e.column()
    ))
}

fn classify(err: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let full = inner.to_string();
            let message = strip_location(&full);
            // serde_path_to_error renders the document root as "." (or "?"
            // when it has no segment yet).
            let base = if path == "." || path == "?" || path.is_empty() {
                String::new()
            } else {
                path
            };
            // serde reports missing/unknown fields at the *parent*; name the
            // field itself so clients can attach the error to it.
            if let Some(name) = backticked_after(message, "missing field `") {
                Problem::from(FieldError::new(join(&base, name), "is required"))
            } else if let Some(name) = backticked_after(message, "unknown field `") {
                // Here the path already ends at the unknown key.
                let field = if base == name || base.ends_with(&format!(".{name}")) {
                    base.clone()
                } else {
                    join(&base, name)
                };
                Problem::from(FieldError::new(field, "is not a known field"))
            } else if base.is_empty() {
                // The document itself has the wrong shape (e.g. an array).
                Problem::bad_request(format!("the JSON body has the wrong shape: {message}"))
            } else {
                Problem::from(FieldError::new(base, humanize(message)))
            }
        }
        _ => syntax_problem(&inner),
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// serde_json's Display appends ` at line L column C`; the location is
/// reported separately (400) or is meaningless to a form (422).
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// Turns serde's `invalid type: string "x", expected i64` into
/// `expected i64, got string "x"`, which reads better next to a field name.
fn humanize(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((got, expected)) = rest.rsplit_once(", expected ") {
                return format!("expected {expected}, got {got}");
            }
        }
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Price {
        amount_minor: i64,
        currency: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        price: Price,
        #[serde(default)]
        tags: Vec<String>,
    }

    const JSON: Option<&str> = Some("application/json");

    fn only_field(p: &Problem) -> (&str, &str) {
        assert_eq!(p.status, 422, "{p:?}");
        assert_eq!(p.errors.len(), 1, "{p:?}");
        (&p.errors[0].field, &p.errors[0].message)
    }

    #[test]
    fn parses_a_valid_body() {
        let item: Item = parse(
            JSON,
            br#"{"name":"x","price":{"amount_minor":5,"currency":"EUR"}}"#,
        )
        .unwrap();
        assert_eq!(item.price.amount_minor, 5);
    }

    #[test]
    fn content_type_variants() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
        assert!(!is_json_content_type(""));
    }

    #[test]
    fn wrong_or_missing_content_type_is_400() {
        let p = parse::<Item>(Some("text/plain"), b"{}").unwrap_err();
        assert_eq!(p.status, 400);
        assert!(p.detail.unwrap().contains("text/plain"));
        let p = parse::<Item>(None, b"{}").unwrap_err();
        assert_eq!(p.status, 400);
        assert!(p.detail.unwrap().contains("missing"));
    }

    #[test]
    fn empty_body_is_400() {
        for body in [&b""[..], b"  \n"] {
            let p = parse::<Item>(JSON, body).unwrap_err();
            assert_eq!(p.status, 400);
            assert!(p.detail.unwrap().contains("empty"));
        }
    }

    #[test]
    fn malformed_json_is_400_with_line_and_column() {
        let p = parse::<Item>(JSON, b"{\n  \"name\": \"x\",,\n}").unwrap_err();
        assert_eq!(p.status, 400);
        let d = p.detail.unwrap();
        assert!(d.contains("line 2"), "{d}");
        assert!(d.contains("column"), "{d}");
        assert!(d.contains("not valid JSON"), "{d}");
    }

    #[test]
    fn truncated_json_is_400() {
        let p = parse::<Item>(JSON, br#"{"name":"x""#).unwrap_err();
        assert_eq!(p.status, 400);
        assert!(p.detail.unwrap().contains("ends unexpectedly"));
    }

    #[test]
    fn trailing_characters_are_400() {
        let p = parse::<Item>(
            JSON,
            br#"{"name":"x","price":{"amount_minor":5,"currency":"EUR"}} x"#,
        )
        .unwrap_err();
        assert_eq!(p.status, 400);
    }

    #[test]
    fn type_mismatch_names_nested_path() {
        let p = parse::<Item>(
            JSON,
            br#"{"name":"x","price":{"amount_minor":"12","currency":"EUR"}}"#,
        )
        .unwrap_err();
        let (field, message) = only_field(&p);
        assert_eq!(field, "price.amount_minor");
        assert!(message.starts_with("expected i64"), "{message}");
        assert!(message.contains("string"), "{message}");
    }

    #[test]
    fn missing_field_names_the_field() {
        let p =
            parse::<Item>(JSON, br#"{"price":{"amount_minor":1,"currency":"EUR"}}"#).unwrap_err();
        assert_eq!(only_field(&p), ("name", "is required"));
        let p = parse::<Item>(JSON, br#"{"name":"x","price":{"amount_minor":1}}"#).unwrap_err();
        assert_eq!(only_field(&p), ("price.currency", "is required"));
    }

    #[test]
    fn unknown_field_names_the_field() {
        let p = parse::<Item>(
            JSON,
            br#"{"name":"x","price":{"amount_minor":1,"currency":"EUR","cents":1}}"#,
        )
        .unwrap_err();
        assert_eq!(only_field(&p), ("price.cents", "is not a known field"));
    }

    #[test]
    fn array_element_path() {
        let p = parse::<Item>(
            JSON,
            br#"{"name":"x","price":{"amount_minor":1,"currency":"EUR"},"tags":["a",2]}"#,
        )
        .unwrap_err();
        assert_eq!(only_field(&p).0, "tags[1]");
    }

    #[test]
    fn wrong_document_shape_is_400() {
        // (serde lets a struct be read from an array, so use a scalar.)
        let p = parse::<Item>(JSON, b"42").unwrap_err();
        assert_eq!(p.status, 400);
        assert!(p.detail.unwrap().contains("wrong shape"));
    }

    #[test]
    fn humanize_rewrites_invalid_type() {
        assert_eq!(
            humanize("invalid type: string \"a\", expected i64"),
            "expected i64, got string \"a\""
        );
        assert_eq!(humanize("something else"), "something else");
    }
}
