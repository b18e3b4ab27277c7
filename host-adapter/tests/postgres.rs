//! `spin:postgres` as guests see it: real transactions, every mapped type,
//! structured errors, and no way into another service's database.

mod common;

use common::{problem, wasm, TestHost};

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "pg"

[[trigger.http]]
route = "/alpha/..."
component = "alpha-probe"
[[trigger.http]]
route = "/beta/..."
component = "beta-probe"
[[trigger.http]]
route = "/none/..."
component = "no-db"

[component.alpha-probe]
source = "probe.wasm"
environment = { SERVICE = "alpha" }
[component.alpha-probe.tool.mart]
service = "alpha"

[component.beta-probe]
source = "probe.wasm"
environment = { SERVICE = "beta" }
[component.beta-probe.tool.mart]
service = "beta"

[component.no-db]
source = "probe.wasm"
environment = { SERVICE = "alpha" }
"#;

async fn host() -> TestHost {
    let probe = wasm("tc_db_probe");
    TestHost::start(MANIFEST, &[("probe.wasm", &probe)], &["alpha", "beta"]).await
}

async fn text(h: &TestHost, method: reqwest::Method, path: &str) -> (u16, String) {
    let r = h.client.request(method, h.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn guest_transactions_are_real() {
    let h = host().await;
    assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await, (200, "0".into()));
    assert_eq!(text(&h, reqwest::Method::POST, "/alpha/rollback").await.0, 200);
    assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await, (200, "0".into()), "a rolled-back insert left a row");
    assert_eq!(text(&h, reqwest::Method::POST, "/alpha/commit").await.0, 200);
    assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await, (200, "1".into()));
    h.stop().await;
}

#[tokio::test]
async fn a_trap_inside_a_transaction_leaves_nothing_behind() {
    let h = host().await;
    assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await, (200, "0".into()));
    // More traps than the pool has connections: each abandoned transaction must be rolled back.
    for _ in 0..12 {
        problem(h.client.post(h.url("/alpha/trap-in-tx")).send().await.unwrap(), 500).await;
    }
    for _ in 0..12 {
        assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await, (200, "0".into()));
    }
    assert_eq!(text(&h, reqwest::Method::POST, "/alpha/commit").await.0, 200);
    assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await, (200, "1".into()));
    h.stop().await;
}

#[tokio::test]
async fn services_do_not_share_data() {
    let h = host().await;
    assert_eq!(text(&h, reqwest::Method::POST, "/alpha/commit").await.0, 200);
    assert_eq!(text(&h, reqwest::Method::GET, "/alpha/count").await.1, "1");
    assert_eq!(text(&h, reqwest::Method::GET, "/beta/count").await.1, "0");
    h.stop().await;
}

#[tokio::test]
async fn another_services_database_is_refused() {
    let h = host().await;
    for address in [
        "postgres://beta",
        "postgres://postgres@127.0.0.1:5432/postgres",
        &format!("postgres://127.0.0.1/{}_beta", h.cfg.database.prefix),
    ] {
        let (status, body) = text(&h, reqwest::Method::GET, &format!("/alpha/open?address={address}")).await;
        assert_eq!(status, 403, "{address} was opened: {body}");
        assert!(body.contains("refused"), "{body}");
    }
    let (status, body) = text(&h, reqwest::Method::GET, "/alpha/open?address=postgres://alpha").await;
    assert_eq!((status, body.as_str()), (200, "opened postgres://alpha"));
    // A component bound to no service gets no database at all.
    let (status, body) = text(&h, reqwest::Method::GET, "/none/open?address=postgres://alpha").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no database"), "{body}");
    h.stop().await;
}

#[tokio::test]
async fn a_service_role_cannot_connect_to_another_services_database() {
    let h = host().await;
    let secrets: toml::Value = toml::from_str(&std::fs::read_to_string(h.cfg.state_dir.join("secrets.toml")).unwrap()).unwrap();
    let prefix = &h.cfg.database.prefix;
    let alpha_role = format!("{prefix}_alpha");
    let password = secrets["db_passwords"][&alpha_role].as_str().unwrap();
    let own = format!("postgres://{alpha_role}:{password}@127.0.0.1:5432/{prefix}_alpha");
    let other = format!("postgres://{alpha_role}:{password}@127.0.0.1:5432/{prefix}_beta");
    assert!(tokio_postgres::connect(&own, tokio_postgres::NoTls).await.is_ok());
    let err = tokio_postgres::connect(&other, tokio_postgres::NoTls).await.err().expect("connected to another service's database");
    let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_else(|| format!("{err:?}"));
    assert!(message.contains("permission denied"), "{message}");
    h.stop().await;
}

#[tokio::test]
async fn every_mapped_type_round_trips() {
    let h = host().await;
    let (status, body) = text(&h, reqwest::Method::GET, "/alpha/types").await;
    assert_eq!(status, 200, "{body}");
    let body = body.replace("DbDataType::", "").replace("DbValue::", "");
    let expect = [
        "Boolean=Boolean(true)",
        "Int16=Int16(-7)",
        "Int32=Int32(123456)",
        "Int64=Int64(9007199254740993)",
        "Floating32=Floating32(1.5)",
        "Floating64=Floating64(2.25)",
        "Str=Str(\"héllo\")",
        "Binary=Binary([0, 1, 255])",
        "Uuid=Uuid(\"6a2f41a3-c54c-fce8-32d2-0324e1c32e22\")",
        "Decimal=Decimal(\"12345.6789\")",
        "Date=Date((2024, 2, 29))",
        "Time=Time((13, 14, 15, 500000000))",
        "Datetime=Datetime((2024, 2, 29, 13, 14, 15, 0))",
        "Datetime=Datetime((2023, 11, 14, 22, 13, 20, 0))",
        "ArrayInt32=ArrayInt32([Some(1), None, Some(3)])",
        "ArrayInt64=ArrayInt64([Some(1099511627776)])",
        "ArrayStr=ArrayStr([Some(\"a\"), None])",
        "ArrayDecimal=ArrayDecimal([Some(\"1.5\")])",
        "Str=DbNull",
        // An int32 parameter widened to the int8 the statement wants.
        "Int64=Int64(5)",
    ];
    for e in expect {
        assert!(body.contains(e), "missing {e} in\n{body}");
    }
    assert!(body.contains("Jsonb=Jsonb("), "{body}");
    h.stop().await;
}

#[tokio::test]
async fn sql_errors_reach_the_guest_with_their_sqlstate() {
    let h = host().await;
    let (status, body) = text(&h, reqwest::Method::GET, "/alpha/sql-error").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.starts_with("42P01"), "{body}");
    h.stop().await;
}
