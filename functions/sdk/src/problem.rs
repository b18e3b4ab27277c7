//! RFC 9457 `application/problem+json` error bodies.
//!
//! All services answer errors in this one shape so clients (and Kong) can
//! handle them uniformly. A 422 carries `errors: [{field, message}]` listing
//! *every* invalid field at once, so a form can show all mistakes in one go.
//!
//! `type` values are URNs (`urn:mart:problem:<slug>`): stable identifiers
//! that do not pretend to be dereferenceable documentation URLs.

use serde::{Deserialize, Serialize};

/// Media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid input field. `field` is a JSON path (`price.amount_minor`) for
/// bodies, or the parameter name (`page_size`) for query strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors during validation so that all of them are reported
/// together instead of failing on the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = FieldError>) {
        self.0.extend(other);
    }

    /// Records the error of `result`, if any, and passes its value through.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(value)` when nothing was collected, else the errors.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl From<FieldErrors> for Problem {
    fn from(errors: FieldErrors) -> Self {
        Problem::unprocessable(errors.into_vec())
    }
}

impl From<FieldError> for Problem {
    fn from(error: FieldError) -> Self {
        Problem::unprocessable(vec![error])
    }
}

/// An RFC 9457 problem. Build one with the helpers, return it as the error of
/// a handler and convert it to a response with
/// [`crate::http::problem_response`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Sent as the `Allow` header with a 405; not part of the body.
    #[serde(skip)]
    pub allow: Option<String>,
}

impl Problem {
    /// A problem of type `urn:mart:problem:<slug>`.
    pub fn new(status: u16, slug: &str, title: impl Into<String>) -> Self {
        Self {
            type_: format!("urn:mart:problem:{slug}"),
            title: title.into(),
            status,
            detail: None,
            instance: None,
            errors: Vec::new(),
            allow: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `instance` identifies this occurrence; handlers set the request path.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, "bad-request", "Bad request").with_detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", "Authentication required").with_detail(detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, "forbidden", "Forbidden").with_detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, "not-found", "Not found").with_detail(detail)
    }

    /// `allow` lists the methods the resource supports, e.g. `["GET", "POST"]`.
    pub fn method_not_allowed(method: &str, allow: &[&str]) -> Self {
        let allow = allow.join(", ");
        let mut p = Self::new(405, "method-not-allowed", "Method not allowed")
            .with_detail(format!("{method} is not supported here; allowed: {allow}"));
        p.allow = Some(allow);
        p
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, "conflict", "Conflict").with_detail(detail)
    }

    /// 422 with every invalid field listed.
    pub fn unprocessable(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_string(),
            n => format!("{n} fields are invalid"),
        };
        let mut p = Self::new(422, "validation-failed", "Validation failed").with_detail(detail);
        p.errors = errors;
        p
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, "unsupported-media-type", "Unsupported media type").with_detail(detail)
    }

    /// A 500 whose detail is deliberately generic: the cause goes to the log,
    /// never to the client (it may contain SQL or internal names).
    pub fn internal() -> Self {
        Self::new(500, "internal", "Internal server error")
            .with_detail("the request could not be completed; it has been logged")
    }

    /// 503 for a dependency (e.g. the database) that is not reachable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, "unavailable", "Service unavailable").with_detail(detail)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).expect("problem serialises")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn body(p: &Problem) -> Value {
        serde_json::from_slice(&p.to_json()).unwrap()
    }

    #[test]
    fn not_found_has_rfc9457_members_and_omits_empty_ones() {
        let p = Problem::not_found("no product abc").with_instance("/products/abc");
        assert_eq!(
            body(&p),
            json!({
                "type": "urn:mart:problem:not-found",
                "title": "Not found",
                "status": 404,
                "detail": "no product abc",
                "instance": "/products/abc"
            })
        );
    }

    #[test]
    fn unprocessable_lists_every_field() {
        let mut errs = FieldErrors::new();
        errs.add("sku", "must not be empty");
        errs.add("price.amount_minor", "must be at least 0");
        let p: Problem = errs.into();
        assert_eq!(p.status, 422);
        let b = body(&p);
        assert_eq!(b["detail"], "2 fields are invalid");
        assert_eq!(
            b["errors"],
            json!([
                {"field": "sku", "message": "must not be empty"},
                {"field": "price.amount_minor", "message": "must be at least 0"}
            ])
        );
    }

    #[test]
    fn single_field_error_detail_is_singular() {
        let p: Problem = FieldError::new("page", "must be at least 1").into();
        assert_eq!(p.detail.as_deref(), Some("1 field is invalid"));
    }

    #[test]
    fn method_not_allowed_carries_allow_but_not_in_body() {
        let p = Problem::method_not_allowed("PUT", &["GET", "POST"]);
        assert_eq!(p.status, 405);
        assert_eq!(p.allow.as_deref(), Some("GET, POST"));
        let b = body(&p);
        assert!(b.get("allow").is_none());
        assert!(b["detail"].as_str().unwrap().contains("PUT"));
    }

    #[test]
    fn helpers_have_expected_statuses() {
        assert_eq!(Problem::bad_request("x").status, 400);
        assert_eq!(Problem::unauthorized("x").status, 401);
        assert_eq!(Problem::forbidden("x").status, 403);
        assert_eq!(Problem::conflict("x").status, 409);
        assert_eq!(Problem::unsupported_media_type("x").status, 415);
        assert_eq!(Problem::internal().status, 500);
        assert_eq!(Problem::unavailable("x").status, 503);
    }

    #[test]
    fn internal_never_carries_a_cause() {
        let d = Problem::internal().detail.unwrap();
        assert!(!d.to_lowercase().contains("sql"));
    }

    #[test]
    fn field_errors_check_and_finish() {
        let mut errs = FieldErrors::new();
        assert_eq!(errs.check::<u8>(Ok(3)), Some(3));
        assert_eq!(errs.check::<u8>(Err(FieldError::new("a", "bad"))), None);
        assert_eq!(errs.len(), 1);
        assert!(errs.clone().finish(|| ()).is_err());
        assert_eq!(FieldErrors::new().finish(|| 5).unwrap(), 5);
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(Problem::conflict("dup").to_string(), "409 Conflict: dup");
    }
}
