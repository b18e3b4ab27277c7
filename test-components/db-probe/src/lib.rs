//! Test component: exercises `spin:postgres` the way the host tests need.
//!
//! The service database it opens comes from the `SERVICE` environment entry
//! in its manifest. Routes (all under any prefix):
//! `/ok`, `/commit`, `/rollback`, `/trap-in-tx`, `/count`, `/open?address=…`, `/types`, `/sql-error`.
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::pg4::{Connection, DbValue, ParameterValue as P, PgError, QueryError};

fn own() -> anyhow::Result<Connection> {
    let service = std::env::var("SERVICE")?;
    Ok(Connection::open(&format!("postgres://{service}"))?)
}

fn text(status: u16, body: impl Into<String>) -> Response {
    Response::builder().status(status).header("content-type", "text/plain").body(body.into()).build()
}

fn ensure_table(c: &Connection) -> anyhow::Result<()> {
    c.execute("CREATE TABLE IF NOT EXISTS probe (id serial PRIMARY KEY, note text NOT NULL)", &[])?;
    Ok(())
}

fn count(c: &Connection) -> anyhow::Result<i64> {
    let rows = c.query("SELECT count(*) FROM probe", &[])?;
    match rows.rows.first().and_then(|r| r.first()) {
        Some(DbValue::Int64(n)) => Ok(*n),
        other => anyhow::bail!("unexpected count {other:?}"),
    }
}

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path = req.path().rsplit('/').next().unwrap_or("").to_string();
    match path.as_str() {
        "ok" => {
            let c = own()?;
            c.query("SELECT 1", &[])?;
            Ok(text(200, "probe ok"))
        }
        "commit" | "rollback" | "trap-in-tx" => {
            let c = own()?;
            ensure_table(&c)?;
            c.execute("BEGIN", &[])?;
            c.execute("INSERT INTO probe (note) VALUES ($1)", &[P::Str(path.clone())])?;
            match path.as_str() {
                "commit" => c.execute("COMMIT", &[])?,
                "rollback" => c.execute("ROLLBACK", &[])?,
                _ => panic!("trap with a transaction open"),
            };
            Ok(text(200, format!("{path} done")))
        }
        "count" => {
            let c = own()?;
            ensure_table(&c)?;
            Ok(text(200, count(&c)?.to_string()))
        }
        "open" => {
            let address = req.query().strip_prefix("address=").unwrap_or("").replace("%3A", ":").replace("%2F", "/");
            match Connection::open(&address) {
                Ok(_) => Ok(text(200, format!("opened {address}"))),
                Err(e) => Ok(text(403, format!("refused: {e}"))),
            }
        }
        "sql-error" => {
            let c = own()?;
            match c.query("SELECT * FROM no_such_table", &[]) {
                Err(PgError::QueryFailed(QueryError::DbError(db))) => Ok(text(409, format!("{} {}", db.code, db.message))),
                other => Ok(text(500, format!("unexpected {other:?}"))),
            }
        }
        "types" => types(),
        _ => Ok(text(200, "probe")),
    }
}

/// Sends one value of each type through a query and returns what came back, one per line.
fn types() -> anyhow::Result<Response> {
    let c = own()?;
    let params = vec![
        P::Boolean(true),
        P::Int16(-7),
        P::Int32(123_456),
        P::Int64(9_007_199_254_740_993),
        P::Floating32(1.5),
        P::Floating64(2.25),
        P::Str("héllo".into()),
        P::Binary(vec![0, 1, 255]),
        P::Uuid("6a2f41a3-c54c-fce8-32d2-0324e1c32e22".into()),
        P::Jsonb(br#"{"a":[1,2]}"#.to_vec()),
        P::Decimal("12345.6789".into()),
        P::Date((2024, 2, 29)),
        P::Time((13, 14, 15, 500_000_000)),
        P::Datetime((2024, 2, 29, 13, 14, 15, 0)),
        P::Timestamp(1_700_000_000),
        P::ArrayInt32(vec![Some(1), None, Some(3)]),
        P::ArrayInt64(vec![Some(1 << 40)]),
        P::ArrayStr(vec![Some("a".into()), None]),
        P::ArrayDecimal(vec![Some("1.5".into())]),
        P::DbNull,
        P::Int32(5),
    ];
    let rows = c.query(
        "SELECT $1::bool, $2::int2, $3::int4, $4::int8, $5::float4, $6::float8, $7::text, $8::bytea, \
         $9::uuid, $10::jsonb, $11::numeric, $12::date, $13::time, $14::timestamp, $15::timestamptz, \
         $16::int4[], $17::int8[], $18::text[], $19::numeric[], $20::text, $21::int8",
        &params,
    )?;
    let mut out = String::new();
    for (col, v) in rows.columns.iter().zip(&rows.rows[0]) {
        out.push_str(&format!("{}:{:?}={v:?}\n", col.name, col.data_type));
    }
    Ok(text(200, out))
}
