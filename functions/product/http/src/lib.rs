//! Product catalogue HTTP component (`wasi:http` via spin-sdk).
//!
//! A thin adapter: routing, validation, list parsing and SQL text all come
//! from `product-core`; this file reads the request, runs the statements
//! against `postgres://product` and renders JSON or problem+json through
//! `mart-guest-sdk`. See `functions/product/README.md` for the API.

// `Problem` (and spin-sdk's `PgError`) are large for an `Err`, but they are
// the response path of a one-request-per-instance handler: boxing would only
// add allocations. spin-sdk allows the same lint for pg4.
#![allow(clippy::result_large_err)]

use mart_guest_sdk::db::{self, RowView};
use mart_guest_sdk::outbox;
use mart_guest_sdk::http::{self as web, HandlerResult};
use mart_guest_sdk::identity::{is_admin, require_admin};
use mart_guest_sdk::page::PageRequest;
use mart_guest_sdk::query::QueryParams;
use mart_guest_sdk::{FieldError, FieldErrors, Paginated, Problem};
use product_core::category::{self, Category, CategoryKey, CreateCategoryRequest};
use product_core::events;
use product_core::ids::parse_uuid;
use product_core::listing::{ListQuery, RawListParams, KNOWN_PARAMS};
use product_core::money::Money;
use product_core::product::{self, CreateProductRequest, Product, UpdateProductRequest};
use product_core::routes::{route, Route, RouteError};
use product_core::{SqlQuery, SqlValue};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;
use spin_sdk::pg4::{Connection, ParameterValue, PgError, RowSet};

/// This component's database: the host maps it to the product service's own.
const SERVICE: &str = "product";

#[http_component]
fn handle(req: Request) -> Response {
    let path = req.path().to_string();
    web::finish(dispatch(&req), &path)
}

fn dispatch(req: &Request) -> HandlerResult {
    let method = req.method().to_string();
    let route = route(&method, req.path()).map_err(|e| match e {
        RouteError::NotFound => Problem::not_found(format!("no resource at {}", req.path())),
        RouteError::MethodNotAllowed(allow) => Problem::method_not_allowed(&method, allow),
    })?;
    match route {
        Route::ListProducts => list_products(req),
        Route::CreateProduct => create_product(req),
        Route::GetProduct(id) => get_product(&id),
        Route::UpdateProduct(id) => update_product(req, &id),
        Route::DeleteProduct(id) => delete_product(req, &id),
        Route::ListCategories => list_categories(req),
        Route::CreateCategory => create_category(req),
        Route::GetCategory(key) => get_category(&key),
        Route::DeleteCategory(key) => delete_category(req, &key),
    }
}

// ---------------------------------------------------------------------------
// Products

fn list_products(req: &Request) -> HandlerResult {
    let query = web::query(req);
    let mut errors = FieldErrors::new();
    for name in query.unknown(KNOWN_PARAMS) {
        errors.add(name, "is not a supported parameter");
    }
    let page = match PageRequest::from_query(&query) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let mut get = |name: &str| errors.check(query.non_empty(name)).flatten();
    let raw = RawListParams {
        q: get("q"),
        category: get("category"),
        min_price: get("min_price"),
        max_price: get("max_price"),
        currency: get("currency"),
        active: get("active"),
        sort: get("sort"),
    };
    let admin = is_admin(web::identity(req).as_ref());
    let list = match ListQuery::parse(raw, admin) {
        Ok(l) => Some(l),
        Err(e) => {
            errors.extend(e.into_iter().map(field_error));
            None
        }
    };
    let (Some(page), Some(list)) = (page, list) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }

    page_of(
        &list.page_sql(page.limit(), page.offset()),
        &list.count_sql(),
        page,
        product_from_row,
    )
}

/// Runs a list query whose rows carry `count(*) OVER () AS total` and renders
/// the page. Past the last page no row carries the total, so it is counted.
fn page_of<T: serde::Serialize>(
    page_sql: &SqlQuery,
    count_sql: &SqlQuery,
    page: PageRequest,
    from_row: impl Fn(&RowView<'_>) -> Result<T, Problem>,
) -> HandlerResult {
    let conn = open()?;
    let rows = query_rows(&conn, page_sql)?;
    let mut items = Vec::with_capacity(rows.rows.len());
    let mut total = 0;
    for row in db::rows(&rows) {
        total = row.i64("total")?;
        items.push(from_row(&row)?);
    }
    if items.is_empty() && page.offset() > 0 {
        let count = query_rows(&conn, count_sql)?;
        total = db::first_row(&count)
            .map(|r| r.i64("total"))
            .transpose()?
            .unwrap_or(0);
    }
    web::json(
        200,
        &Paginated::new(items, page, u64::try_from(total).unwrap_or(0)),
    )
}

fn get_product(raw_id: &str) -> HandlerResult {
    let id = product_id(raw_id)?;
    let conn = open()?;
    let rows = query_rows(&conn, &product::select_by_id_sql(&id))?;
    match db::first_row(&rows) {
        Some(row) => web::json(200, &product_from_row(&row)?),
        None => Err(product_not_found(raw_id)),
    }
}

fn create_product(req: &Request) -> HandlerResult {
    require_admin(web::identity(req).as_ref())?;
    let body: CreateProductRequest = web::json_body(req)?;
    let new = product::validate_create(body).map_err(field_errors)?;
    let conn = open()?;
    // The row and its product.created event commit together or not at all.
    let created = db::transaction(&conn, |c| {
        let rows = query_rows(c, &product::insert_sql(&new))
            .map_err(|e| product_write_error(e, &new.sku))?;
        let row = db::first_row(&rows).ok_or_else(|| {
            eprintln!("INSERT … RETURNING gave no row");
            Problem::internal()
        })?;
        let created = product_from_row(&row)?;
        outbox::publish(c, &events::created(&created, now()), web::correlation_id(req).as_deref())?;
        Ok::<_, Problem>(created)
    })?;
    web::created(&format!("/products/{}", created.id), &created)
}

fn update_product(req: &Request, raw_id: &str) -> HandlerResult {
    require_admin(web::identity(req).as_ref())?;
    let id = product_id(raw_id)?;
    let body: UpdateProductRequest = web::json_body(req)?;
    let new_sku = body.sku.clone().flatten().unwrap_or_default();
    let changes = product::validate_update(body).map_err(field_errors)?;
    let conn = open()?;
    let updated = db::transaction(&conn, |c| {
        let rows = query_rows(c, &product::update_sql(&id, &changes))
            .map_err(|e| product_write_error(e, &new_sku))?;
        let Some(row) = db::first_row(&rows) else {
            return Err(product_not_found(raw_id));
        };
        let updated = product_from_row(&row)?;
        // `{}` changes nothing and announces nothing.
        if !changes.is_empty() {
            outbox::publish(c, &events::updated(&updated, now()), web::correlation_id(req).as_deref())?;
        }
        Ok(updated)
    })?;
    web::json(200, &updated)
}

fn delete_product(req: &Request, raw_id: &str) -> HandlerResult {
    require_admin(web::identity(req).as_ref())?;
    let id = product_id(raw_id)?;
    let conn = open()?;
    let q = product::delete_sql(&id);
    db::transaction(&conn, |c| {
        let rows = query_rows(c, &q)?;
        let Some(row) = db::first_row(&rows) else {
            return Err(product_not_found(raw_id));
        };
        let sku = row.string("sku")?;
        outbox::publish(c, &events::deleted(&id, &sku, now()), web::correlation_id(req).as_deref())?;
        Ok(())
    })?;
    Ok(web::no_content())
}

/// Event time: the guest's wall clock (WASI `wall-clock`, provided by the host).
fn now() -> mart_contracts::prost_types::Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    mart_contracts::prost_types::Timestamp { seconds: since.as_secs() as i64, nanos: since.subsec_nanos() as i32 }
}

/// A malformed id names no product: 404, like an unknown one, so clients
/// need only one rule ("that URL is not a product").
fn product_id(raw: &str) -> Result<String, Problem> {
    parse_uuid(raw).ok_or_else(|| product_not_found(raw))
}

fn product_not_found(raw: &str) -> Problem {
    Problem::not_found(format!("no product with id `{raw}`"))
}

/// Duplicate SKU → 409; unknown category → 422 on `category_id`.
fn product_write_error(err: PgError, sku: &str) -> Problem {
    let failure = db::classify(&err);
    if failure.is_unique_violation_of(product::SKU_UNIQUE_INDEX) {
        Problem::conflict(format!(
            "a product with SKU `{sku}` already exists (SKUs are case-insensitive)"
        ))
    } else if failure.is_foreign_key_violation_of(product::CATEGORY_FK) {
        FieldError::new("category_id", "no category with this id exists").into()
    } else {
        failure.to_problem()
    }
}

fn product_from_row(row: &RowView<'_>) -> Result<Product, Problem> {
    Ok(Product {
        id: row.string("id")?,
        sku: row.string("sku")?,
        name: row.string("name")?,
        description: row.string("description")?,
        price: Money {
            amount_minor: row.i64("price_minor")?,
            currency: row.string("currency")?,
        },
        category_id: row.opt_string("category_id")?,
        image_url: row.opt_string("image_url")?,
        active: row.bool("active")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
    })
}

// ---------------------------------------------------------------------------
// Categories

fn list_categories(req: &Request) -> HandlerResult {
    let query: QueryParams = web::query(req);
    let mut errors = FieldErrors::new();
    for name in query.unknown(&["page", "page_size"]) {
        errors.add(name, "is not a supported parameter");
    }
    let page = match PageRequest::from_query(&query) {
        Ok(p) => p,
        Err(e) => {
            errors.extend(e);
            return Err(errors.into());
        }
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    page_of(
        &category::list_sql(page.limit(), page.offset()),
        &category::count_sql(),
        page,
        category_from_row,
    )
}

fn get_category(raw: &str) -> HandlerResult {
    let key = category_key(raw)?;
    let conn = open()?;
    let rows = query_rows(&conn, &category::select_sql(&key))?;
    match db::first_row(&rows) {
        Some(row) => web::json(200, &category_from_row(&row)?),
        None => Err(category_not_found(raw)),
    }
}

fn create_category(req: &Request) -> HandlerResult {
    require_admin(web::identity(req).as_ref())?;
    let body: CreateCategoryRequest = web::json_body(req)?;
    let new = category::validate_create(body).map_err(field_errors)?;
    let conn = open()?;
    let rows = query_rows(&conn, &category::insert_sql(&new)).map_err(|e| {
        let failure = db::classify(&e);
        if failure.is_unique_violation_of(category::SLUG_UNIQUE) {
            Problem::conflict(format!(
                "a category with slug `{}` already exists",
                new.slug
            ))
        } else {
            failure.to_problem()
        }
    })?;
    let row = db::first_row(&rows).ok_or_else(|| {
        eprintln!("INSERT … RETURNING gave no row");
        Problem::internal()
    })?;
    let created = category_from_row(&row)?;
    web::created(&format!("/categories/{}", created.id), &created)
}

fn delete_category(req: &Request, raw: &str) -> HandlerResult {
    require_admin(web::identity(req).as_ref())?;
    let key = category_key(raw)?;
    let conn = open()?;
    let q = category::delete_sql(&key);
    let deleted = conn.execute(&q.sql, &params(&q)).map_err(|e| {
        let failure = db::classify(&e);
        if failure.is_foreign_key_violation_of(product::CATEGORY_FK) {
            Problem::conflict("the category still has products; move or delete them first")
        } else {
            failure.to_problem()
        }
    })?;
    match deleted {
        0 => Err(category_not_found(raw)),
        _ => Ok(web::no_content()),
    }
}

fn category_key(raw: &str) -> Result<CategoryKey, Problem> {
    CategoryKey::parse(raw).ok_or_else(|| category_not_found(raw))
}

fn category_not_found(raw: &str) -> Problem {
    Problem::not_found(format!("no category with id or slug `{raw}`"))
}

fn category_from_row(row: &RowView<'_>) -> Result<Category, Problem> {
    Ok(Category {
        id: row.string("id")?,
        slug: row.string("slug")?,
        name: row.string("name")?,
        created_at: row.timestamp("created_at")?,
    })
}

// ---------------------------------------------------------------------------
// Plumbing

fn open() -> Result<Connection, Problem> {
    db::open(SERVICE).map_err(|e| db::problem_for(&e))
}

fn params(q: &SqlQuery) -> Vec<ParameterValue> {
    q.params
        .iter()
        .map(|v| match v {
            SqlValue::Text(s) => ParameterValue::Str(s.clone()),
            SqlValue::Int(n) => ParameterValue::Int64(*n),
            SqlValue::Bool(b) => ParameterValue::Boolean(*b),
            SqlValue::Uuid(u) => ParameterValue::Uuid(u.clone()),
            SqlValue::Null => ParameterValue::DbNull,
        })
        .collect()
}

fn query_rows(conn: &Connection, q: &SqlQuery) -> Result<RowSet, PgError> {
    conn.query(&q.sql, &params(q))
}

fn field_error(e: product_core::FieldError) -> FieldError {
    FieldError::new(e.field, e.message)
}

fn field_errors(errs: Vec<product_core::FieldError>) -> Problem {
    Problem::unprocessable(errs.into_iter().map(field_error).collect())
}
