//! Products: request bodies, validation, the response shape and the SQL that
//! reads and writes them.
//!
//! Request bodies deserialise every field as optional so that a missing
//! required field is reported *together with* the other invalid fields
//! (serde would stop at the first). Unknown fields are rejected (422) so a
//! typo such as `price_minor` is not silently ignored.

use serde::{Deserialize, Serialize};

use crate::ids::parse_uuid;
use crate::money::{validate_amount, validate_currency, Money};
use crate::{char_len, patch_field, FieldError, SqlQuery, SqlValue};

pub const SKU_MAX: usize = 64;
pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const IMAGE_URL_MAX: usize = 2048;

/// Name of the unique index on `lower(sku)` (see migration V1): a 23505 on it
/// means "duplicate SKU".
pub const SKU_UNIQUE_INDEX: &str = "products_sku_lower_key";
/// Name of the foreign key to `categories`: a 23503 on it means the
/// `category_id` in the body names no category.
pub const CATEGORY_FK: &str = "products_category_id_fkey";

/// `price` in a create body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
}

/// `POST /products` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<PriceInput>,
    pub category_id: Option<String>,
    pub image_url: Option<String>,
    pub active: Option<bool>,
}

/// `PATCH /products/{id}` body. Absent fields are left unchanged; `null`
/// clears the nullable ones (`category_id`, `image_url`; `description`
/// becomes empty) and is an error for the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[serde(default, deserialize_with = "patch_field")]
    pub sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub description: Option<Option<String>>,
    /// Either member may be given alone.
    #[serde(default, deserialize_with = "patch_field")]
    pub price: Option<Option<PriceInput>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub category_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub active: Option<Option<bool>>,
}

/// A validated new product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category_id: Option<String>,
    pub image_url: Option<String>,
    pub active: bool,
}

/// One validated change of a PATCH. The column names come from here, never
/// from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Sku(String),
    Name(String),
    Description(String),
    PriceMinor(i64),
    Currency(String),
    CategoryId(Option<String>),
    ImageUrl(Option<String>),
    Active(bool),
}

impl Change {
    fn column(&self) -> &'static str {
        match self {
            Change::Sku(_) => "sku",
            Change::Name(_) => "name",
            Change::Description(_) => "description",
            Change::PriceMinor(_) => "price_minor",
            Change::Currency(_) => "currency",
            Change::CategoryId(_) => "category_id",
            Change::ImageUrl(_) => "image_url",
            Change::Active(_) => "active",
        }
    }

    fn value(&self) -> SqlValue {
        match self {
            Change::Sku(s) | Change::Name(s) | Change::Description(s) | Change::Currency(s) => {
                SqlValue::Text(s.clone())
            }
            Change::PriceMinor(n) => SqlValue::Int(*n),
            Change::CategoryId(Some(id)) => SqlValue::Uuid(id.clone()),
            Change::ImageUrl(Some(u)) => SqlValue::Text(u.clone()),
            Change::CategoryId(None) | Change::ImageUrl(None) => SqlValue::Null,
            Change::Active(b) => SqlValue::Bool(*b),
        }
    }
}

/// The product as returned by every endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category_id: Option<String>,
    pub image_url: Option<String>,
    pub active: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

// ---------------------------------------------------------------------------
// Field rules

pub fn validate_sku(sku: &str) -> Result<(), String> {
    let n = char_len(sku);
    if n == 0 {
        return Err("must not be empty".into());
    }
    if n > SKU_MAX {
        return Err(format!("must be at most {SKU_MAX} characters"));
    }
    if !sku
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("may contain only letters A-Z/a-z, digits, '-' and '_'".into());
    }
    Ok(())
}

/// Names are trimmed; the trimmed value is what gets stored.
pub fn validate_name(name: &str) -> Result<String, String> {
    crate::display_name(name, NAME_MAX)
}

/// Descriptions keep their text as sent (line breaks are allowed).
pub fn validate_description(d: &str) -> Result<(), String> {
    if char_len(d) > DESCRIPTION_MAX {
        return Err(format!("must be at most {DESCRIPTION_MAX} characters"));
    }
    if d.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters other than line breaks and tabs".into());
    }
    Ok(())
}

/// An absolute `http`/`https` URL with a host, no whitespace or control
/// characters, at most [`IMAGE_URL_MAX`] characters. Not a full RFC 3986
/// parser: enough to keep `javascript:` and junk out of `<img src>`.
pub fn validate_image_url(url: &str) -> Result<(), String> {
    if char_len(url) > IMAGE_URL_MAX {
        return Err(format!("must be at most {IMAGE_URL_MAX} characters"));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or("must be an absolute http or https URL")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        // IPv6 literal: `[::1]` or `[::1]:8080`.
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, after)) => match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err("has an invalid host".into()),
            },
            None => return Err("has an invalid host".into()),
        },
        None => match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err("has an invalid port".into());
        }
    }
    if host.is_empty() {
        return Err("must name a host".into());
    }
    Ok(())
}

fn category_id(raw: &str) -> Result<String, String> {
    parse_uuid(raw).ok_or_else(|| "must be a category id (UUID)".to_string())
}

/// Validates a create body, listing every problem.
pub fn validate_create(req: CreateProductRequest) -> Result<NewProduct, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field: &str, r: Result<(), String>| {
        if let Err(m) = r {
            errors.push(FieldError::new(field, m));
        }
    };

    match &req.sku {
        Some(s) => err("sku", validate_sku(s)),
        None => err("sku", Err("is required".into())),
    }
    let name = match &req.name {
        Some(n) => match validate_name(n) {
            Ok(n) => Some(n),
            Err(m) => {
                err("name", Err(m));
                None
            }
        },
        None => {
            err("name", Err("is required".into()));
            None
        }
    };
    if let Some(d) = &req.description {
        err("description", validate_description(d));
    }
    let price = req.price.clone();
    match &price {
        None => err("price", Err("is required".into())),
        Some(p) => {
            match p.amount_minor {
                Some(a) => err("price.amount_minor", validate_amount(a)),
                None => err("price.amount_minor", Err("is required".into())),
            }
            match &p.currency {
                Some(c) => err("price.currency", validate_currency(c).map_err(String::from)),
                None => err("price.currency", Err("is required".into())),
            }
        }
    }
    let category = match &req.category_id {
        Some(c) => match category_id(c) {
            Ok(id) => Some(id),
            Err(m) => {
                err("category_id", Err(m));
                None
            }
        },
        None => None,
    };
    if let Some(u) = &req.image_url {
        err("image_url", validate_image_url(u));
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let price = price.expect("validated");
    Ok(NewProduct {
        sku: req.sku.expect("validated"),
        name: name.expect("validated"),
        description: req.description.unwrap_or_default(),
        price: Money {
            amount_minor: price.amount_minor.expect("validated"),
            currency: price.currency.expect("validated"),
        },
        category_id: category,
        image_url: req.image_url,
        active: req.active.unwrap_or(true),
    })
}

/// Validates a PATCH body into the list of changes (possibly empty).
pub fn validate_update(req: UpdateProductRequest) -> Result<Vec<Change>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    let not_null = |errors: &mut Vec<FieldError>, f: &str| {
        errors.push(FieldError::new(f, "must not be null"));
    };

    match req.sku {
        None => {}
        Some(None) => not_null(&mut errors, "sku"),
        Some(Some(s)) => match validate_sku(&s) {
            Ok(()) => changes.push(Change::Sku(s)),
            Err(m) => errors.push(FieldError::new("sku", m)),
        },
    }
    match req.name {
        None => {}
        Some(None) => not_null(&mut errors, "name"),
        Some(Some(n)) => match validate_name(&n) {
            Ok(n) => changes.push(Change::Name(n)),
            Err(m) => errors.push(FieldError::new("name", m)),
        },
    }
    match req.description {
        None => {}
        Some(None) => changes.push(Change::Description(String::new())),
        Some(Some(d)) => match validate_description(&d) {
            Ok(()) => changes.push(Change::Description(d)),
            Err(m) => errors.push(FieldError::new("description", m)),
        },
    }
    match req.price {
        None => {}
        Some(None) => not_null(&mut errors, "price"),
        Some(Some(p)) => {
            if p.amount_minor.is_none() && p.currency.is_none() {
                errors.push(FieldError::new(
                    "price",
                    "must contain amount_minor, currency or both",
                ));
            }
            if let Some(a) = p.amount_minor {
                match validate_amount(a) {
                    Ok(()) => changes.push(Change::PriceMinor(a)),
                    Err(m) => errors.push(FieldError::new("price.amount_minor", m)),
                }
            }
            if let Some(c) = p.currency {
                match validate_currency(&c) {
                    Ok(()) => changes.push(Change::Currency(c)),
                    Err(m) => errors.push(FieldError::new("price.currency", m)),
                }
            }
        }
    }
    match req.category_id {
        None => {}
        Some(None) => changes.push(Change::CategoryId(None)),
        Some(Some(c)) => match category_id(&c) {
            Ok(id) => changes.push(Change::CategoryId(Some(id))),
            Err(m) => errors.push(FieldError::new("category_id", m)),
        },
    }
    match req.image_url {
        None => {}
        Some(None) => changes.push(Change::ImageUrl(None)),
        Some(Some(u)) => match validate_image_url(&u) {
            Ok(()) => changes.push(Change::ImageUrl(Some(u))),
            Err(m) => errors.push(FieldError::new("image_url", m)),
        },
    }
    match req.active {
        None => {}
        Some(None) => not_null(&mut errors, "active"),
        Some(Some(b)) => changes.push(Change::Active(b)),
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------------------
// SQL

/// Columns every product query returns, in the names [`Product`] is read from.
pub const COLUMNS: &str = "p.id, p.sku, p.name, p.description, p.price_minor, p.currency, \
     p.category_id, p.image_url, p.active, p.created_at, p.updated_at";

pub fn insert_sql(p: &NewProduct) -> SqlQuery {
    let mut q = SqlQuery {
        sql: String::new(),
        params: Vec::new(),
    };
    let values = [
        q.bind(SqlValue::Text(p.sku.clone())),
        q.bind(SqlValue::Text(p.name.clone())),
        q.bind(SqlValue::Text(p.description.clone())),
        q.bind(SqlValue::Int(p.price.amount_minor)),
        q.bind(SqlValue::Text(p.price.currency.clone())),
        q.bind(p.category_id.clone().map_or(SqlValue::Null, SqlValue::Uuid)),
        q.bind(p.image_url.clone().map_or(SqlValue::Null, SqlValue::Text)),
        q.bind(SqlValue::Bool(p.active)),
    ];
    q.sql = format!(
        "INSERT INTO products AS p (sku, name, description, price_minor, currency, \
         category_id, image_url, active) VALUES ({}) RETURNING {COLUMNS}",
        values.join(", ")
    );
    q
}

pub fn select_by_id_sql(id: &str) -> SqlQuery {
    let mut q = SqlQuery {
        sql: String::new(),
        params: Vec::new(),
    };
    let p = q.bind(SqlValue::Uuid(id.to_string()));
    q.sql = format!("SELECT {COLUMNS} FROM products p WHERE p.id = {p}");
    q
}

/// `UPDATE … SET <changed columns>, updated_at = now() … RETURNING`. With no
/// changes this is a plain select (nothing to bump).
pub fn update_sql(id: &str, changes: &[Change]) -> SqlQuery {
    if changes.is_empty() {
        return select_by_id_sql(id);
    }
    let mut q = SqlQuery {
        sql: String::new(),
        params: Vec::new(),
    };
    let mut sets: Vec<String> = changes
        .iter()
        .map(|c| format!("{} = {}", c.column(), q.bind(c.value())))
        .collect();
    sets.push("updated_at = now()".into());
    let idp = q.bind(SqlValue::Uuid(id.to_string()));
    q.sql = format!(
        "UPDATE products AS p SET {} WHERE p.id = {idp} RETURNING {COLUMNS}",
        sets.join(", ")
    );
    q
}

/// Returns the deleted SKU, which `product.deleted` carries.
pub fn delete_sql(id: &str) -> SqlQuery {
    SqlQuery {
        sql: "DELETE FROM products WHERE id = $1 RETURNING sku".into(),
        params: vec![SqlValue::Uuid(id.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(v: serde_json::Value) -> Result<NewProduct, Vec<FieldError>> {
        validate_create(serde_json::from_value(v).unwrap())
    }

    fn update(v: serde_json::Value) -> Result<Vec<Change>, Vec<FieldError>> {
        validate_update(serde_json::from_value(v).unwrap())
    }

    fn fields(errs: &[FieldError]) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    fn valid() -> serde_json::Value {
        json!({
            "sku": "TSHIRT-red_L",
            "name": "  Red T-shirt ",
            "description": "Cotton.\nMachine washable.",
            "price": {"amount_minor": 1999, "currency": "EUR"},
            "category_id": "0B6A3B4C-1D2E-4F50-8A9B-0C1D2E3F4A5B",
            "image_url": "https://img.example.com/p/1.jpg",
        })
    }

    #[test]
    fn valid_create_normalises() {
        let p = create(valid()).unwrap();
        assert_eq!(p.name, "Red T-shirt");
        assert_eq!(p.sku, "TSHIRT-red_L");
        assert_eq!(
            p.price,
            Money {
                amount_minor: 1999,
                currency: "EUR".into()
            }
        );
        assert_eq!(
            p.category_id.as_deref(),
            Some("0b6a3b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b")
        );
        assert!(p.active, "active defaults to true");
    }

    #[test]
    fn minimal_create() {
        let p = create(json!({"sku":"A","name":"B","price":{"amount_minor":0,"currency":"JPY"}}))
            .unwrap();
        assert_eq!(p.description, "");
        assert_eq!(p.category_id, None);
        assert_eq!(p.image_url, None);
    }

    #[test]
    fn empty_create_lists_every_required_field() {
        let errs = create(json!({})).unwrap_err();
        assert_eq!(fields(&errs), vec!["sku", "name", "price"]);
        assert!(errs.iter().all(|e| e.message == "is required"));
        let errs = create(json!({"price": {}})).unwrap_err();
        assert_eq!(
            fields(&errs),
            vec!["sku", "name", "price.amount_minor", "price.currency"]
        );
    }

    #[test]
    fn every_bad_field_reported_at_once() {
        let errs = create(json!({
            "sku": "bad sku!",
            "name": "   ",
            "description": "x".repeat(5001),
            "price": {"amount_minor": -5, "currency": "eur"},
            "category_id": "nope",
            "image_url": "ftp://x/y",
        }))
        .unwrap_err();
        assert_eq!(
            fields(&errs),
            vec![
                "sku",
                "name",
                "description",
                "price.amount_minor",
                "price.currency",
                "category_id",
                "image_url"
            ]
        );
    }

    #[test]
    fn unknown_fields_are_rejected_by_serde() {
        assert!(serde_json::from_value::<CreateProductRequest>(json!({"price_minor": 1})).is_err());
        assert!(serde_json::from_value::<UpdateProductRequest>(json!({"id": "x"})).is_err());
    }

    #[test]
    fn sku_rules() {
        assert!(validate_sku("A").is_ok());
        assert!(validate_sku(&"a".repeat(64)).is_ok());
        assert!(validate_sku(&"a".repeat(65)).is_err());
        assert!(validate_sku("").is_err());
        for bad in ["a b", "a/b", "ä", "a.b", " a"] {
            assert!(validate_sku(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_rules() {
        assert_eq!(validate_name(" x ").unwrap(), "x");
        assert!(
            validate_name(&"é".repeat(200)).is_ok(),
            "counts chars, not bytes"
        );
        assert!(validate_name(&"é".repeat(201)).is_err());
        assert!(validate_name("a\u{0}b").is_err());
        assert!(validate_name("").is_err());
    }

    #[test]
    fn description_rules() {
        assert!(validate_description("").is_ok());
        assert!(validate_description("a\r\n\tb").is_ok());
        assert!(validate_description(&"x".repeat(5000)).is_ok());
        assert!(validate_description(&"x".repeat(5001)).is_err());
        assert!(validate_description("bell\u{7}").is_err());
    }

    #[test]
    fn image_url_rules() {
        for ok in [
            "http://a.b/c.png",
            "https://cdn.example.com:8443/x?y=1#z",
            "HTTPS://EXAMPLE.COM",
            "https://[::1]:8080/a",
            "https://user@host/x",
        ] {
            assert_eq!(validate_image_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "ftp://a/b",
            "//a/b",
            "https://",
            "https:///path",
            "https://a b/c",
            "https://host:port/x",
            "/relative.png",
        ] {
            assert!(validate_image_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://a.b/{}", "x".repeat(2048));
        assert!(validate_image_url(&long).is_err());
    }

    #[test]
    fn patch_absent_vs_null() {
        let changes =
            update(json!({"category_id": null, "image_url": null, "description": null})).unwrap();
        assert_eq!(
            changes,
            vec![
                Change::Description(String::new()),
                Change::CategoryId(None),
                Change::ImageUrl(None)
            ]
        );
        assert_eq!(update(json!({})).unwrap(), vec![]);
    }

    #[test]
    fn patch_null_on_required_fields_is_an_error() {
        let errs =
            update(json!({"sku": null, "name": null, "price": null, "active": null})).unwrap_err();
        assert_eq!(fields(&errs), vec!["sku", "name", "price", "active"]);
    }

    #[test]
    fn patch_partial_price() {
        assert_eq!(
            update(json!({"price": {"amount_minor": 5}})).unwrap(),
            vec![Change::PriceMinor(5)]
        );
        assert_eq!(
            update(json!({"price": {"currency": "USD"}})).unwrap(),
            vec![Change::Currency("USD".into())]
        );
        assert_eq!(
            fields(&update(json!({"price": {}})).unwrap_err()),
            vec!["price"]
        );
    }

    #[test]
    fn patch_reports_all_bad_fields() {
        let errs = update(json!({
            "sku": "",
            "name": "ok",
            "price": {"amount_minor": -1, "currency": "XYZ"},
            "category_id": "1",
            "image_url": "nope"
        }))
        .unwrap_err();
        assert_eq!(
            fields(&errs),
            vec![
                "sku",
                "price.amount_minor",
                "price.currency",
                "category_id",
                "image_url"
            ]
        );
    }

    #[test]
    fn insert_sql_is_parameterized() {
        let mut p = create(valid()).unwrap();
        p.name = "x'); DROP TABLE products; --".into();
        let q = insert_sql(&p);
        assert!(!q.sql.contains("DROP"));
        assert!(q.sql.contains("VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"));
        assert!(q.sql.ends_with(&format!("RETURNING {COLUMNS}")));
        assert_eq!(q.params.len(), 8);
        assert_eq!(q.params[1], SqlValue::Text(p.name.clone()));
        assert_eq!(q.params[3], SqlValue::Int(1999));
        assert_eq!(
            q.params[5],
            SqlValue::Uuid("0b6a3b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b".into())
        );
        assert_eq!(q.params[7], SqlValue::Bool(true));
    }

    #[test]
    fn update_sql_sets_only_changed_columns_and_bumps_updated_at() {
        let q = update_sql(
            "id-1",
            &[
                Change::Name("n".into()),
                Change::CategoryId(None),
                Change::Active(false),
            ],
        );
        assert_eq!(
            q.sql,
            format!(
                "UPDATE products AS p SET name = $1, category_id = $2, active = $3, \
                 updated_at = now() WHERE p.id = $4 RETURNING {COLUMNS}"
            )
        );
        assert_eq!(
            q.params,
            vec![
                SqlValue::Text("n".into()),
                SqlValue::Null,
                SqlValue::Bool(false),
                SqlValue::Uuid("id-1".into())
            ]
        );
    }

    #[test]
    fn empty_update_is_a_select() {
        let q = update_sql("id-1", &[]);
        assert!(q.sql.starts_with("SELECT"));
        assert_eq!(q.params, vec![SqlValue::Uuid("id-1".into())]);
    }

    #[test]
    fn delete_and_select_sql() {
        assert_eq!(delete_sql("x").params, vec![SqlValue::Uuid("x".into())]);
        assert!(select_by_id_sql("x").sql.contains("WHERE p.id = $1"));
    }

    #[test]
    fn product_json_shape() {
        let p = Product {
            id: "i".into(),
            sku: "S".into(),
            name: "N".into(),
            description: "".into(),
            price: Money {
                amount_minor: 1,
                currency: "EUR".into(),
            },
            category_id: None,
            image_url: None,
            active: true,
            created_at: "2024-01-01T00:00:00.000000Z".into(),
            updated_at: "2024-01-01T00:00:00.000000Z".into(),
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({
                "id": "i", "sku": "S", "name": "N", "description": "",
                "price": {"amount_minor": 1, "currency": "EUR"},
                "category_id": null, "image_url": null, "active": true,
                "created_at": "2024-01-01T00:00:00.000000Z",
                "updated_at": "2024-01-01T00:00:00.000000Z"
            })
        );
    }
}
