//! Pagination: `page` (1-based) and `page_size` query parameters and the
//! `{items, page, page_size, total}` response shape every list uses.
//!
//! An oversized `page_size` is capped rather than rejected (clients asking
//! for "everything" get the maximum); a malformed or zero value is an error,
//! since silently replacing it would hide a client bug.

use serde::Serialize;

use crate::problem::{FieldError, FieldErrors};
use crate::query::QueryParams;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page, 1..=MAX_PAGE_SIZE.
    pub page_size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Parses the two raw values; each bad one yields a field error.
    pub fn parse(
        page: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<PageRequest, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let page = match page {
            None => Some(1),
            Some(raw) => errors.check(positive("page", raw)),
        };
        let page_size = match page_size {
            None => Some(DEFAULT_PAGE_SIZE),
            Some(raw) => errors
                .check(positive("page_size", raw))
                .map(|n| n.min(MAX_PAGE_SIZE)),
        };
        match (page, page_size) {
            (Some(page), Some(page_size)) if errors.is_empty() => {
                Ok(PageRequest { page, page_size })
            }
            _ => Err(errors.into_vec()),
        }
    }

    /// Reads `page` and `page_size` from a query string.
    pub fn from_query(query: &QueryParams) -> Result<PageRequest, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let page = errors.check(query.non_empty("page")).flatten();
        let size = errors.check(query.non_empty("page_size")).flatten();
        if !errors.is_empty() {
            return Err(errors.into_vec());
        }
        Self::parse(page, size)
    }

    /// Rows to skip: `(page - 1) * page_size`, as SQL OFFSET wants it.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }

    /// SQL LIMIT.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

fn positive(name: &str, raw: &str) -> Result<u32, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(name, "must be a positive whole number"));
    }
    // Digits only, so the only failure left is overflow: treat as "too big".
    let n: u32 = raw.parse().unwrap_or(u32::MAX);
    if n == 0 {
        return Err(FieldError::new(name, "must be at least 1"));
    }
    Ok(n)
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    /// Items matching the filters across all pages.
    pub total: u64,
}

impl<T> Paginated<T> {
    pub fn new(items: Vec<T>, request: PageRequest, total: u64) -> Self {
        Self {
            items,
            page: request.page,
            page_size: request.page_size,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest {
                page: 1,
                page_size: 20
            }
        );
    }

    #[test]
    fn explicit_values() {
        let p = PageRequest::parse(Some("3"), Some("50")).unwrap();
        assert_eq!((p.page, p.page_size), (3, 50));
        assert_eq!(p.offset(), 100);
        assert_eq!(p.limit(), 50);
    }

    #[test]
    fn page_size_is_capped() {
        assert_eq!(
            PageRequest::parse(None, Some("1000")).unwrap().page_size,
            100
        );
        assert_eq!(
            PageRequest::parse(None, Some("99999999999999"))
                .unwrap()
                .page_size,
            100
        );
    }

    #[test]
    fn zero_and_garbage_are_errors_naming_each_parameter() {
        let errs = PageRequest::parse(Some("0"), Some("abc")).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].field, "page");
        assert_eq!(errs[0].message, "must be at least 1");
        assert_eq!(errs[1].field, "page_size");
        for bad in ["-1", "1.5", "", "1e3", "+2"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_page_does_not_overflow_offset() {
        let p = PageRequest::parse(Some("99999999999"), Some("100")).unwrap();
        assert_eq!(p.page, u32::MAX);
        assert!(p.offset() > 0);
    }

    #[test]
    fn from_query_reads_both() {
        let q = QueryParams::parse("page=2&page_size=5&other=x");
        assert_eq!(
            PageRequest::from_query(&q).unwrap(),
            PageRequest {
                page: 2,
                page_size: 5
            }
        );
        let q = QueryParams::parse("page=&page_size=");
        assert_eq!(PageRequest::from_query(&q).unwrap(), PageRequest::default());
        let q = QueryParams::parse("page=1&page=2");
        assert_eq!(PageRequest::from_query(&q).unwrap_err()[0].field, "page");
    }

    #[test]
    fn paginated_json_shape() {
        let p = Paginated::new(
            vec![1, 2],
            PageRequest {
                page: 2,
                page_size: 2,
            },
            7,
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"items":[1,2],"page":2,"page_size":2,"total":7})
        );
    }
}
