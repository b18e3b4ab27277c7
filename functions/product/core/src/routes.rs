//! Which handler a method and path select.
//!
//! Kept here (not in spin-sdk's Router) so that unknown paths give a 404
//! problem and known paths with an unsupported method give a 405 problem
//! with an accurate `Allow` list, both unit-tested. A single trailing slash
//! is ignored. Path ids are passed through raw; handlers treat a malformed
//! id as naming nothing (404).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListProducts,
    CreateProduct,
    GetProduct(String),
    UpdateProduct(String),
    DeleteProduct(String),
    ListCategories,
    CreateCategory,
    /// Id or slug.
    GetCategory(String),
    /// Id or slug.
    DeleteCategory(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed(&'static [&'static str]),
}

const COLLECTION: &[&str] = &["GET", "POST"];
const PRODUCT_ITEM: &[&str] = &["GET", "PATCH", "DELETE"];
const CATEGORY_ITEM: &[&str] = &["GET", "DELETE"];

pub fn route(method: &str, path: &str) -> Result<Route, RouteError> {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let not_allowed = |allow| Err(RouteError::MethodNotAllowed(allow));
    match segments.as_slice() {
        ["products"] => match method {
            "GET" => Ok(Route::ListProducts),
            "POST" => Ok(Route::CreateProduct),
            _ => not_allowed(COLLECTION),
        },
        ["products", id] if !id.is_empty() => {
            let id = id.to_string();
            match method {
                "GET" => Ok(Route::GetProduct(id)),
                "PATCH" => Ok(Route::UpdateProduct(id)),
                "DELETE" => Ok(Route::DeleteProduct(id)),
                _ => not_allowed(PRODUCT_ITEM),
            }
        }
        ["categories"] => match method {
            "GET" => Ok(Route::ListCategories),
            "POST" => Ok(Route::CreateCategory),
            _ => not_allowed(COLLECTION),
        },
        ["categories", key] if !key.is_empty() => {
            let key = key.to_string();
            match method {
                "GET" => Ok(Route::GetCategory(key)),
                "DELETE" => Ok(Route::DeleteCategory(key)),
                _ => not_allowed(CATEGORY_ITEM),
            }
        }
        _ => Err(RouteError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_routes() {
        assert_eq!(route("GET", "/products"), Ok(Route::ListProducts));
        assert_eq!(route("GET", "/products/"), Ok(Route::ListProducts));
        assert_eq!(route("POST", "/products"), Ok(Route::CreateProduct));
        assert_eq!(
            route("GET", "/products/abc"),
            Ok(Route::GetProduct("abc".into()))
        );
        assert_eq!(
            route("PATCH", "/products/abc"),
            Ok(Route::UpdateProduct("abc".into()))
        );
        assert_eq!(
            route("DELETE", "/products/abc/"),
            Ok(Route::DeleteProduct("abc".into()))
        );
    }

    #[test]
    fn category_routes() {
        assert_eq!(route("GET", "/categories"), Ok(Route::ListCategories));
        assert_eq!(route("POST", "/categories"), Ok(Route::CreateCategory));
        assert_eq!(
            route("GET", "/categories/shoes"),
            Ok(Route::GetCategory("shoes".into()))
        );
        assert_eq!(
            route("DELETE", "/categories/x"),
            Ok(Route::DeleteCategory("x".into()))
        );
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        assert_eq!(
            route("PUT", "/products"),
            Err(RouteError::MethodNotAllowed(&["GET", "POST"]))
        );
        assert_eq!(
            route("PUT", "/products/1"),
            Err(RouteError::MethodNotAllowed(&["GET", "PATCH", "DELETE"]))
        );
        assert_eq!(
            route("PATCH", "/categories/1"),
            Err(RouteError::MethodNotAllowed(&["GET", "DELETE"]))
        );
        assert_eq!(
            route("DELETE", "/categories"),
            Err(RouteError::MethodNotAllowed(&["GET", "POST"]))
        );
    }

    #[test]
    fn unknown_paths() {
        for p in [
            "/",
            "",
            "/product",
            "/products//",
            "/products/a/b",
            "/categories/a/products",
            "/productsx",
        ] {
            assert_eq!(route("GET", p), Err(RouteError::NotFound), "{p}");
        }
    }
}
