//! Categories: a slug (unique, lowercase kebab-case) and a display name.
//!
//! `GET /categories/{key}` accepts an id *or* a slug, so a slug must never
//! look like a UUID; that is enforced here.

use serde::{Deserialize, Serialize};

use crate::ids::parse_uuid;
use crate::{FieldError, SqlQuery, SqlValue};

pub const SLUG_MAX: usize = 64;
pub const NAME_MAX: usize = 100;

/// Unique constraint on `categories.slug` (migration V1).
pub const SLUG_UNIQUE: &str = "categories_slug_key";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCategoryRequest {
    pub slug: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCategory {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
}

/// How a path segment names a category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryKey {
    Id(String),
    Slug(String),
}

impl CategoryKey {
    /// A UUID is an id, a valid slug is a slug, anything else names nothing.
    pub fn parse(raw: &str) -> Option<CategoryKey> {
        if let Some(id) = parse_uuid(raw) {
            Some(CategoryKey::Id(id))
        } else if validate_slug(raw).is_ok() {
            Some(CategoryKey::Slug(raw.to_string()))
        } else {
            None
        }
    }

    fn condition(&self, q: &mut SqlQuery) -> String {
        match self {
            CategoryKey::Id(id) => format!("c.id = {}", q.bind(SqlValue::Uuid(id.clone()))),
            CategoryKey::Slug(s) => format!("c.slug = {}", q.bind(SqlValue::Text(s.clone()))),
        }
    }
}

/// `^[a-z0-9]+(-[a-z0-9]+)*$`, 1..=64 characters, not UUID-shaped.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("must not be empty".into());
    }
    if slug.len() > SLUG_MAX {
        return Err(format!("must be at most {SLUG_MAX} characters"));
    }
    let kebab = slug.split('-').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !kebab {
        return Err(
            "must be lowercase kebab-case: a-z, 0-9 and single hyphens between words".into(),
        );
    }
    if parse_uuid(slug).is_some() {
        return Err("must not look like a UUID".into());
    }
    Ok(())
}

pub fn validate_name(name: &str) -> Result<String, String> {
    crate::display_name(name, NAME_MAX)
}

pub fn validate_create(req: CreateCategoryRequest) -> Result<NewCategory, Vec<FieldError>> {
    let mut errors = Vec::new();
    let slug = match req.slug {
        None => {
            errors.push(FieldError::new("slug", "is required"));
            None
        }
        Some(s) => match validate_slug(&s) {
            Ok(()) => Some(s),
            Err(m) => {
                errors.push(FieldError::new("slug", m));
                None
            }
        },
    };
    let name = match req.name {
        None => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        Some(n) => match validate_name(&n) {
            Ok(n) => Some(n),
            Err(m) => {
                errors.push(FieldError::new("name", m));
                None
            }
        },
    };
    match (slug, name) {
        (Some(slug), Some(name)) => Ok(NewCategory { slug, name }),
        _ => Err(errors),
    }
}

pub const COLUMNS: &str = "c.id, c.slug, c.name, c.created_at";

fn empty() -> SqlQuery {
    SqlQuery {
        sql: String::new(),
        params: Vec::new(),
    }
}

pub fn insert_sql(c: &NewCategory) -> SqlQuery {
    let mut q = empty();
    let slug = q.bind(SqlValue::Text(c.slug.clone()));
    let name = q.bind(SqlValue::Text(c.name.clone()));
    q.sql = format!(
        "INSERT INTO categories AS c (slug, name) VALUES ({slug}, {name}) RETURNING {COLUMNS}"
    );
    q
}

pub fn select_sql(key: &CategoryKey) -> SqlQuery {
    let mut q = empty();
    let cond = key.condition(&mut q);
    q.sql = format!("SELECT {COLUMNS} FROM categories c WHERE {cond}");
    q
}

/// Alphabetical by name, id as tie-break so pages are stable.
pub fn list_sql(limit: i64, offset: i64) -> SqlQuery {
    let mut q = empty();
    let l = q.bind(SqlValue::Int(limit));
    let o = q.bind(SqlValue::Int(offset));
    q.sql = format!(
        "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM categories c \
         ORDER BY c.name ASC, c.id ASC LIMIT {l} OFFSET {o}"
    );
    q
}

pub fn count_sql() -> SqlQuery {
    SqlQuery {
        sql: "SELECT COUNT(*) AS total FROM categories".into(),
        params: Vec::new(),
    }
}

/// Deletes by id or slug; a category still referenced by products fails
/// with a foreign-key violation (ON DELETE RESTRICT), answered with 409.
pub fn delete_sql(key: &CategoryKey) -> SqlQuery {
    let mut q = empty();
    let cond = key.condition(&mut q);
    q.sql = format!("DELETE FROM categories c WHERE {cond}");
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slugs() {
        for ok in ["shoes", "mens-shoes", "a1-b2-c3", "x", &"a".repeat(64)] {
            assert_eq!(validate_slug(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Shoes",
            "mens_shoes",
            "-shoes",
            "shoes-",
            "mens--shoes",
            "mens shoes",
            "schuhe-ä",
            &"a".repeat(65),
        ] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_shaped_slug_is_rejected() {
        let e = validate_slug("0b6a3b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b").unwrap_err();
        assert!(e.contains("UUID"));
    }

    #[test]
    fn key_parsing() {
        assert_eq!(
            CategoryKey::parse("0B6A3B4C-1D2E-4F50-8A9B-0C1D2E3F4A5B"),
            Some(CategoryKey::Id(
                "0b6a3b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b".into()
            ))
        );
        assert_eq!(
            CategoryKey::parse("shoes"),
            Some(CategoryKey::Slug("shoes".into()))
        );
        assert_eq!(CategoryKey::parse("Not A Slug"), None);
    }

    #[test]
    fn create_validation_lists_all_fields() {
        let errs = validate_create(serde_json::from_value(json!({})).unwrap()).unwrap_err();
        assert_eq!(errs.len(), 2);
        let errs =
            validate_create(serde_json::from_value(json!({"slug": "Bad", "name": " "})).unwrap())
                .unwrap_err();
        assert_eq!(
            errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            vec!["slug", "name"]
        );
        let ok = validate_create(
            serde_json::from_value(json!({"slug": "shoes", "name": " Shoes "})).unwrap(),
        )
        .unwrap();
        assert_eq!(
            ok,
            NewCategory {
                slug: "shoes".into(),
                name: "Shoes".into()
            }
        );
    }

    #[test]
    fn unknown_field_rejected() {
        assert!(serde_json::from_value::<CreateCategoryRequest>(json!({"id": "x"})).is_err());
    }

    #[test]
    fn sql_is_parameterized() {
        let q = select_sql(&CategoryKey::Slug("x'--".into()));
        assert_eq!(
            q.sql,
            format!("SELECT {COLUMNS} FROM categories c WHERE c.slug = $1")
        );
        assert_eq!(q.params, vec![SqlValue::Text("x'--".into())]);
        let q = delete_sql(&CategoryKey::Id("i".into()));
        assert_eq!(q.sql, "DELETE FROM categories c WHERE c.id = $1");
        let q = insert_sql(&NewCategory {
            slug: "s".into(),
            name: "n".into(),
        });
        assert!(q.sql.contains("VALUES ($1, $2)"));
        let q = list_sql(20, 40);
        assert!(q.sql.ends_with("LIMIT $1 OFFSET $2"));
        assert_eq!(q.params, vec![SqlValue::Int(20), SqlValue::Int(40)]);
    }
}
