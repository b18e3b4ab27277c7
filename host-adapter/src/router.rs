//! Route matching with Spin's HTTP route syntax.
//!
//! `/a/b` matches exactly; `/a/:id` matches one segment per parameter;
//! `/a/...` matches `/a` and everything below it. When several routes match,
//! the most specific wins: more literal segments first, then parameters, and a
//! trailing wildcard last — the same precedence Spin documents.

use std::cmp::Reverse;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone)]
struct Pattern {
    route: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

/// What a request path matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a, T> {
    pub target: &'a T,
    /// The route as written in the manifest (`spin-matched-route`).
    pub route: &'a str,
    /// The part of the path below a wildcard route (`spin-path-info`), e.g. `/42` for `/products/...`.
    pub path_info: String,
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<(Pattern, T)>,
}

/// Checks that a route is something this router can serve.
pub fn validate_route(route: &str) -> Result<(), String> {
    parse(route).map(|_| ())
}

fn parse(route: &str) -> Result<Pattern, String> {
    if !route.starts_with('/') {
        return Err(format!("`{route}` must start with '/'"));
    }
    let mut segments = Vec::new();
    let mut wildcard = false;
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        if *part == "..." {
            if i != parts.len() - 1 {
                return Err(format!("`{route}`: '...' may only end a route"));
            }
            wildcard = true;
        } else if let Some(name) = part.strip_prefix(':') {
            if name.is_empty() {
                return Err(format!("`{route}`: a parameter needs a name, e.g. ':id'"));
            }
            segments.push(Segment::Param(name.to_string()));
        } else if part.contains("...") || part.contains(':') || part.contains('*') {
            return Err(format!("`{route}`: segment `{part}` mixes text with a pattern"));
        } else {
            segments.push(Segment::Literal((*part).to_string()));
        }
    }
    Ok(Pattern { route: route.to_string(), segments, wildcard })
}

impl<T> Router<T> {
    /// Builds a router; routes must have been validated.
    pub fn new(routes: impl IntoIterator<Item = (String, T)>) -> Result<Self, String> {
        let mut parsed = Vec::new();
        for (route, target) in routes {
            parsed.push((parse(&route)?, target));
        }
        // Most specific first: exact before wildcard, more literals, then longer.
        parsed.sort_by_key(|(p, _)| {
            let literals = p.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
            (p.wildcard, Reverse(literals), Reverse(p.segments.len()))
        });
        Ok(Router { routes: parsed })
    }

    pub fn route(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        'routes: for (p, target) in &self.routes {
            if parts.len() < p.segments.len() || (!p.wildcard && parts.len() != p.segments.len()) {
                continue;
            }
            let mut params = Vec::new();
            for (seg, part) in p.segments.iter().zip(&parts) {
                match seg {
                    Segment::Literal(l) if l == part => {}
                    Segment::Literal(_) => continue 'routes,
                    Segment::Param(name) => params.push((name.clone(), (*part).to_string())),
                }
            }
            let rest = &parts[p.segments.len()..];
            let path_info = if rest.is_empty() { String::new() } else { format!("/{}", rest.join("/")) };
            return Some(RouteMatch { target, route: &p.route, path_info, params });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        Router::new(vec![
            ("/products/...".to_string(), "products"),
            ("/products/special".to_string(), "special"),
            ("/users/:id".to_string(), "user"),
            ("/...".to_string(), "fallback"),
        ])
        .unwrap()
    }

    #[test]
    fn wildcard_matches_its_root_and_below() {
        let r = router();
        assert_eq!(*r.route("/products").unwrap().target, "products");
        let m = r.route("/products/42").unwrap();
        assert_eq!(*m.target, "products");
        assert_eq!(m.path_info, "/42");
        assert_eq!(m.route, "/products/...");
    }

    #[test]
    fn exact_route_beats_wildcard() {
        assert_eq!(*router().route("/products/special").unwrap().target, "special");
    }

    #[test]
    fn params_capture_one_segment() {
        let r = router();
        let m = r.route("/users/7").unwrap();
        assert_eq!(m.params, vec![("id".to_string(), "7".to_string())]);
        assert_eq!(*r.route("/users/7/x").unwrap().target, "fallback");
    }

    #[test]
    fn no_match_without_fallback() {
        let r = Router::new(vec![("/a".to_string(), 1)]).unwrap();
        assert!(r.route("/b").is_none());
        assert!(r.route("/a/b").is_none());
        assert!(r.route("/a").is_some());
    }

    #[test]
    fn malformed_routes_are_rejected() {
        assert!(validate_route("products").is_err());
        assert!(validate_route("/a/.../b").is_err());
        assert!(validate_route("/a/:").is_err());
        assert!(validate_route("/a/x*").is_err());
    }
}
