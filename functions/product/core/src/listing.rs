//! `GET /products` parameters and the SQL that answers them.
//!
//! Parameters (all optional):
//! `q` (case-insensitive substring of name or description), `category`
//! (id or slug), `min_price`/`max_price` (minor units, inclusive),
//! `currency`, `active` (`true`/`false`), `sort`, plus `page`/`page_size`
//! which the SDK parses. Every bad parameter is reported at once (422).
//!
//! Visibility: anonymous callers and customers only ever see active
//! products (asking for `active=false` is a 422 naming `active`);
//! administrators see all products unless they filter with `active`.
//!
//! Sorting comes from the fixed [`Sort`] enum, whose ORDER BY fragments are
//! constants ending in `p.id` so that pages are stable when the sort key
//! ties; user text never reaches the SQL text.

use crate::category::CategoryKey;
use crate::money::validate_currency;
use crate::product::COLUMNS;
use crate::{char_len, FieldError, SqlQuery, SqlValue};

/// Longest accepted search text.
pub const Q_MAX: usize = 200;

/// Parameter names this endpoint understands (others are rejected, which
/// catches typos such as `sort_by`).
pub const KNOWN_PARAMS: &[&str] = &[
    "q",
    "category",
    "min_price",
    "max_price",
    "currency",
    "active",
    "sort",
    "page",
    "page_size",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    NameAsc,
    NameDesc,
    PriceAsc,
    PriceDesc,
    CreatedAsc,
    /// Newest first.
    #[default]
    CreatedDesc,
}

impl Sort {
    pub const ALLOWED: &'static str = "name, -name, price, -price, created, -created";

    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "name" => Sort::NameAsc,
            "-name" => Sort::NameDesc,
            "price" => Sort::PriceAsc,
            "-price" => Sort::PriceDesc,
            "created" => Sort::CreatedAsc,
            "-created" => Sort::CreatedDesc,
            _ => return None,
        })
    }

    /// The ORDER BY list: a constant per variant, id as the tie-break.
    pub fn order_by(self) -> &'static str {
        match self {
            Sort::NameAsc => "p.name ASC, p.id ASC",
            Sort::NameDesc => "p.name DESC, p.id DESC",
            Sort::PriceAsc => "p.price_minor ASC, p.id ASC",
            Sort::PriceDesc => "p.price_minor DESC, p.id DESC",
            Sort::CreatedAsc => "p.created_at ASC, p.id ASC",
            Sort::CreatedDesc => "p.created_at DESC, p.id DESC",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveFilter {
    OnlyActive,
    OnlyInactive,
    Any,
}

/// Raw parameter values as taken from the query string (`None` = absent or
/// empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawListParams<'a> {
    pub q: Option<&'a str>,
    pub category: Option<&'a str>,
    pub min_price: Option<&'a str>,
    pub max_price: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub active: Option<&'a str>,
    pub sort: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Trimmed search text.
    pub q: Option<String>,
    pub category: Option<CategoryKey>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub currency: Option<String>,
    pub active: ActiveFilter,
    pub sort: Sort,
}

fn non_negative(name: &str, raw: &str) -> Result<i64, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            name,
            "must be a non-negative whole number of minor units",
        ));
    }
    raw.parse()
        .map_err(|_| FieldError::new(name, "is too large"))
}

impl ListQuery {
    /// Parses and checks the parameters for a caller who is (or is not) an
    /// administrator.
    pub fn parse(raw: RawListParams<'_>, is_admin: bool) -> Result<ListQuery, Vec<FieldError>> {
        let mut errors = Vec::new();

        let q = raw
            .q
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(text) = &q {
            if char_len(text) > Q_MAX {
                errors.push(FieldError::new(
                    "q",
                    format!("must be at most {Q_MAX} characters"),
                ));
            }
        }

        let category = match raw.category {
            None => None,
            Some(c) => match CategoryKey::parse(c.trim()) {
                Some(k) => Some(k),
                None => {
                    errors.push(FieldError::new("category", "must be a category id or slug"));
                    None
                }
            },
        };

        let mut price = |name: &str, v: Option<&str>| match v.map(|v| non_negative(name, v)) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
        };
        let min_price = price("min_price", raw.min_price);
        let max_price = price("max_price", raw.max_price);
        if let (Some(lo), Some(hi)) = (min_price, max_price) {
            if lo > hi {
                errors.push(FieldError::new(
                    "min_price",
                    "must not be greater than max_price",
                ));
            }
        }

        let currency = match raw.currency {
            None => None,
            Some(c) => match validate_currency(c) {
                Ok(()) => Some(c.to_string()),
                Err(m) => {
                    errors.push(FieldError::new("currency", m));
                    None
                }
            },
        };

        let requested = match raw.active {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                errors.push(FieldError::new("active", "must be true or false"));
                None
            }
        };
        let active = match (is_admin, requested) {
            (_, Some(true)) => ActiveFilter::OnlyActive,
            (true, Some(false)) => ActiveFilter::OnlyInactive,
            (true, None) => ActiveFilter::Any,
            (false, Some(false)) => {
                errors.push(FieldError::new(
                    "active",
                    "only administrators can list inactive products",
                ));
                ActiveFilter::OnlyActive
            }
            (false, None) => ActiveFilter::OnlyActive,
        };

        let sort = match raw.sort {
            None => Sort::default(),
            Some(s) => Sort::parse(s).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "sort",
                    format!("must be one of: {}", Sort::ALLOWED),
                ));
                Sort::default()
            }),
        };

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ListQuery {
            q,
            category,
            min_price,
            max_price,
            currency,
            active,
            sort,
        })
    }

    /// The WHERE clause (with its leading keyword, or empty) and parameters.
    fn filter(&self, q: &mut SqlQuery) -> String {
        let mut conds: Vec<String> = Vec::new();
        match self.active {
            ActiveFilter::OnlyActive => conds.push("p.active".into()),
            ActiveFilter::OnlyInactive => conds.push("NOT p.active".into()),
            ActiveFilter::Any => {}
        }
        if let Some(text) = &self.q {
            let pattern = q.bind(SqlValue::Text(format!("%{}%", escape_like(text))));
            conds.push(format!(
                "(p.name ILIKE {pattern} ESCAPE '\\' OR p.description ILIKE {pattern} ESCAPE '\\')"
            ));
        }
        match &self.category {
            Some(CategoryKey::Id(id)) => {
                let p = q.bind(SqlValue::Uuid(id.clone()));
                conds.push(format!("p.category_id = {p}"));
            }
            Some(CategoryKey::Slug(slug)) => {
                let p = q.bind(SqlValue::Text(slug.clone()));
                conds.push(format!(
                    "p.category_id = (SELECT c.id FROM categories c WHERE c.slug = {p})"
                ));
            }
            None => {}
        }
        if let Some(lo) = self.min_price {
            conds.push(format!("p.price_minor >= {}", q.bind(SqlValue::Int(lo))));
        }
        if let Some(hi) = self.max_price {
            conds.push(format!("p.price_minor <= {}", q.bind(SqlValue::Int(hi))));
        }
        if let Some(c) = &self.currency {
            conds.push(format!(
                "p.currency = {}",
                q.bind(SqlValue::Text(c.clone()))
            ));
        }
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    }

    /// One page of products, each row carrying `total` (the number of
    /// matches over all pages) from `COUNT(*) OVER ()`.
    pub fn page_sql(&self, limit: i64, offset: i64) -> SqlQuery {
        let mut q = SqlQuery {
            sql: String::new(),
            params: Vec::new(),
        };
        let filter = self.filter(&mut q);
        let l = q.bind(SqlValue::Int(limit));
        let o = q.bind(SqlValue::Int(offset));
        q.sql = format!(
            "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM products p{filter} \
             ORDER BY {} LIMIT {l} OFFSET {o}",
            self.sort.order_by()
        );
        q
    }

    /// The match count alone, for a page past the end (which has no rows
    /// to carry `total`).
    pub fn count_sql(&self) -> SqlQuery {
        let mut q = SqlQuery {
            sql: String::new(),
            params: Vec::new(),
        };
        let filter = self.filter(&mut q);
        q.sql = format!("SELECT COUNT(*) AS total FROM products p{filter}");
        q
    }
}

/// Escapes `\`, `%` and `_` so user text matches literally in
/// `LIKE … ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: RawListParams, admin: bool) -> Result<ListQuery, Vec<FieldError>> {
        ListQuery::parse(raw, admin)
    }

    fn fields(e: &[FieldError]) -> Vec<&str> {
        e.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn defaults_for_anonymous() {
        let q = parse(RawListParams::default(), false).unwrap();
        assert_eq!(q.sort, Sort::CreatedDesc);
        assert_eq!(q.active, ActiveFilter::OnlyActive);
        assert_eq!(q.q, None);
        let s = q.page_sql(20, 0);
        assert_eq!(
            s.sql,
            format!(
                "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM products p WHERE p.active \
                 ORDER BY p.created_at DESC, p.id DESC LIMIT $1 OFFSET $2"
            )
        );
        assert_eq!(s.params, vec![SqlValue::Int(20), SqlValue::Int(0)]);
    }

    #[test]
    fn admin_sees_everything_by_default_and_can_filter() {
        assert_eq!(
            parse(RawListParams::default(), true).unwrap().active,
            ActiveFilter::Any
        );
        let raw = RawListParams {
            active: Some("false"),
            ..Default::default()
        };
        assert_eq!(parse(raw, true).unwrap().active, ActiveFilter::OnlyInactive);
        let raw = RawListParams {
            active: Some("true"),
            ..Default::default()
        };
        assert_eq!(parse(raw, true).unwrap().active, ActiveFilter::OnlyActive);
        let q = parse(RawListParams::default(), true)
            .unwrap()
            .page_sql(5, 0);
        assert!(!q.sql.contains("WHERE"), "{}", q.sql);
    }

    #[test]
    fn non_admin_cannot_ask_for_inactive() {
        let raw = RawListParams {
            active: Some("false"),
            ..Default::default()
        };
        assert_eq!(fields(&parse(raw, false).unwrap_err()), vec!["active"]);
        let raw = RawListParams {
            active: Some("true"),
            ..Default::default()
        };
        assert_eq!(parse(raw, false).unwrap().active, ActiveFilter::OnlyActive);
        let raw = RawListParams {
            active: Some("yes"),
            ..Default::default()
        };
        assert_eq!(
            parse(raw, true).unwrap_err()[0].message,
            "must be true or false"
        );
    }

    #[test]
    fn every_sort_value() {
        for (s, frag) in [
            ("name", "p.name ASC, p.id ASC"),
            ("-name", "p.name DESC, p.id DESC"),
            ("price", "p.price_minor ASC, p.id ASC"),
            ("-price", "p.price_minor DESC, p.id DESC"),
            ("created", "p.created_at ASC, p.id ASC"),
            ("-created", "p.created_at DESC, p.id DESC"),
        ] {
            let raw = RawListParams {
                sort: Some(s),
                ..Default::default()
            };
            let q = parse(raw, false).unwrap();
            assert_eq!(q.sort.order_by(), frag);
            assert!(q.page_sql(1, 0).sql.contains(frag));
        }
    }

    #[test]
    fn unknown_sort_is_rejected_and_never_reaches_sql() {
        for bad in ["p.name; DROP TABLE products", "NAME", "+name", "id"] {
            let raw = RawListParams {
                sort: Some(bad),
                ..Default::default()
            };
            let e = parse(raw, false).unwrap_err();
            assert_eq!(fields(&e), vec!["sort"]);
            assert!(e[0].message.contains("-created"));
        }
    }

    #[test]
    fn all_bad_parameters_reported_together() {
        let raw = RawListParams {
            q: Some(&"x".repeat(201)),
            category: Some("Not a slug"),
            min_price: Some("-1"),
            max_price: Some("ten"),
            currency: Some("eur"),
            active: Some("maybe"),
            sort: Some("random"),
        };
        assert_eq!(
            fields(&parse(raw, true).unwrap_err()),
            vec![
                "q",
                "category",
                "min_price",
                "max_price",
                "currency",
                "active",
                "sort"
            ]
        );
    }

    #[test]
    fn min_greater_than_max() {
        let raw = RawListParams {
            min_price: Some("500"),
            max_price: Some("100"),
            ..Default::default()
        };
        let e = parse(raw, false).unwrap_err();
        assert_eq!(
            e,
            vec![FieldError::new(
                "min_price",
                "must not be greater than max_price"
            )]
        );
        let raw = RawListParams {
            min_price: Some("100"),
            max_price: Some("100"),
            ..Default::default()
        };
        assert!(parse(raw, false).is_ok());
    }

    #[test]
    fn huge_price_is_an_error_not_a_panic() {
        let raw = RawListParams {
            min_price: Some("99999999999999999999999"),
            ..Default::default()
        };
        assert_eq!(parse(raw, false).unwrap_err()[0].message, "is too large");
    }

    #[test]
    fn full_filter_sql_and_params_in_order() {
        let raw = RawListParams {
            q: Some("  50%_off\\ "),
            category: Some("shoes"),
            min_price: Some("100"),
            max_price: Some("2000"),
            currency: Some("EUR"),
            active: None,
            sort: Some("price"),
        };
        let lq = parse(raw, false).unwrap();
        assert_eq!(lq.q.as_deref(), Some("50%_off\\"));
        let s = lq.page_sql(10, 30);
        assert_eq!(
            s.sql,
            format!(
                "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM products p WHERE p.active AND \
                 (p.name ILIKE $1 ESCAPE '\\' OR p.description ILIKE $1 ESCAPE '\\') AND \
                 p.category_id = (SELECT c.id FROM categories c WHERE c.slug = $2) AND \
                 p.price_minor >= $3 AND p.price_minor <= $4 AND p.currency = $5 \
                 ORDER BY p.price_minor ASC, p.id ASC LIMIT $6 OFFSET $7"
            )
        );
        assert_eq!(
            s.params,
            vec![
                SqlValue::Text("%50\\%\\_off\\\\%".into()),
                SqlValue::Text("shoes".into()),
                SqlValue::Int(100),
                SqlValue::Int(2000),
                SqlValue::Text("EUR".into()),
                SqlValue::Int(10),
                SqlValue::Int(30),
            ]
        );
        let c = lq.count_sql();
        assert!(c
            .sql
            .starts_with("SELECT COUNT(*) AS total FROM products p WHERE p.active AND"));
        assert_eq!(c.params.len(), 5);
    }

    #[test]
    fn category_by_id() {
        let raw = RawListParams {
            category: Some("0B6A3B4C-1D2E-4F50-8A9B-0C1D2E3F4A5B"),
            ..Default::default()
        };
        let s = parse(raw, true).unwrap().count_sql();
        assert_eq!(
            s.sql,
            "SELECT COUNT(*) AS total FROM products p WHERE p.category_id = $1"
        );
        assert_eq!(
            s.params,
            vec![SqlValue::Uuid(
                "0b6a3b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b".into()
            )]
        );
    }

    #[test]
    fn blank_q_is_ignored() {
        let raw = RawListParams {
            q: Some("   "),
            ..Default::default()
        };
        assert_eq!(parse(raw, false).unwrap().q, None);
    }

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(escape_like("plain"), "plain");
    }
}
