//! Thin conversions between `spin_sdk::http` and this crate's plain types.

use serde::Serialize;
use spin_sdk::http::{Request, Response};

use crate::identity::{Identity, ROLES_HEADER, SUBJECT_HEADER};
use crate::problem::{self, Problem};
use crate::query::QueryParams;

/// Set by the host on every request; carried into events and logs.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

/// What a handler returns: a response, or a problem to render.
pub type HandlerResult = Result<Response, Problem>;

/// A header's value as UTF-8 text, if present and valid.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

/// The host-verified caller, or `None` for anonymous.
pub fn identity(req: &Request) -> Option<Identity> {
    Identity::from_headers(header(req, SUBJECT_HEADER), header(req, ROLES_HEADER))
}

/// The correlation id the host assigned to this request.
pub fn correlation_id(req: &Request) -> Option<String> {
    header(req, CORRELATION_ID_HEADER).map(str::to_string)
}

/// The decoded query string.
pub fn query(req: &Request) -> QueryParams {
    QueryParams::parse(req.query())
}

/// Parses the JSON body (see [`crate::json::parse`] for the 400/422 rules).
pub fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    crate::json::parse(header(req, "content-type"), req.body())
}

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: u16, body: &T) -> HandlerResult {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        eprintln!("response serialisation failed: {e}");
        Problem::internal()
    })?;
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(bytes)
        .build())
}

/// 201 Created with a `Location` header and the JSON body.
pub fn created<T: Serialize>(location: &str, body: &T) -> HandlerResult {
    let mut resp = json(201, body)?;
    resp.set_header("location", location);
    Ok(resp)
}

/// 204 No Content.
pub fn no_content() -> Response {
    Response::builder().status(204).build()
}

/// Renders a problem (with `Allow` for a 405).
pub fn problem_response(p: &Problem) -> Response {
    let mut b = Response::builder();
    b.status(p.status)
        .header("content-type", problem::CONTENT_TYPE);
    if let Some(allow) = &p.allow {
        b.header("allow", allow.as_str());
    }
    b.body(p.to_json()).build()
}

/// Finishes a handler: a problem without `instance` gets the request path.
pub fn finish(result: HandlerResult, path: &str) -> Response {
    match result {
        Ok(r) => r,
        Err(mut p) => {
            if p.instance.is_none() {
                p.instance = Some(path.to_string());
            }
            problem_response(&p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::http::Method;

    #[test]
    fn problem_response_sets_type_and_allow() {
        let r = problem_response(&Problem::method_not_allowed("PUT", &["GET"]));
        assert_eq!(*r.status(), 405);
        assert_eq!(
            r.header("content-type").unwrap().as_str(),
            Some(problem::CONTENT_TYPE)
        );
        assert_eq!(r.header("allow").unwrap().as_str(), Some("GET"));
    }

    #[test]
    fn finish_fills_instance() {
        let r = finish(Err(Problem::not_found("x")), "/products/1");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["instance"], "/products/1");
    }

    #[test]
    fn created_sets_location() {
        let r = created("/products/1", &serde_json::json!({"id": "1"})).unwrap();
        assert_eq!(*r.status(), 201);
        assert_eq!(r.header("location").unwrap().as_str(), Some("/products/1"));
    }

    #[test]
    fn request_helpers() {
        let mut req = Request::new(Method::Get, "/products?page=2");
        req.set_header("x-mart-subject", "u1");
        req.set_header("x-mart-roles", "admin");
        req.set_header("x-correlation-id", "c-1");
        assert!(identity(&req).unwrap().is_admin());
        assert_eq!(correlation_id(&req).as_deref(), Some("c-1"));
        assert_eq!(query(&req).single("page").unwrap(), Some("2"));
        let anon = Request::new(Method::Get, "/products");
        assert!(identity(&anon).is_none());
    }
}
