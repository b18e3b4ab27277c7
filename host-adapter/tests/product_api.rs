//! The product service end to end: the project's own spin.toml, the real
//! product component, its migrations on a fresh database, real HTTP.

mod common;

use common::{problem, workspace_root, TestHost};
use serde_json::{json, Value};

async fn host() -> TestHost {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("spin.toml")).unwrap();
    common::wasm("product_http"); // a clear message when the build is missing
    TestHost::start_in(&manifest, &[], &["product"], Some(&root)).await
}

struct Api<'a> {
    h: &'a TestHost,
}

impl Api<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>, admin: bool) -> reqwest::Response {
        let mut r = self.h.client.request(method, self.h.url(path));
        if admin {
            r = r.header("authorization", self.h.admin());
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    async fn create(&self, body: Value) -> Value {
        let r = self.send(reqwest::Method::POST, "/products", Some(body), true).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    async fn list(&self, query: &str) -> Value {
        let r = self.h.get(&format!("/products{query}")).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

fn product(sku: &str, name: &str, amount: i64) -> Value {
    json!({"sku": sku, "name": name, "description": format!("The {name}"), "price": {"amount_minor": amount, "currency": "EUR"}})
}

fn skus(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn product_crud() {
    let h = host().await;
    let api = Api { h: &h };

    let r = api.send(reqwest::Method::POST, "/products", Some(product("MUG-1", "Blue mug", 1250)), true).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    assert_eq!(location, format!("/products/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["price"], json!({"amount_minor": 1250, "currency": "EUR"}));
    assert_eq!(created["active"], true);

    let fetched: Value = h.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, created);

    let r = api
        .send(reqwest::Method::PATCH, &location, Some(json!({"name": "Big blue mug", "price": {"amount_minor": 1500}})), true)
        .await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["name"], "Big blue mug");
    assert_eq!(updated["price"], json!({"amount_minor": 1500, "currency": "EUR"}));
    assert_eq!(updated["sku"], "MUG-1");
    assert!(updated["updated_at"].as_str().unwrap() > created["updated_at"].as_str().unwrap());

    let r = api.send(reqwest::Method::DELETE, &location, None, true).await;
    assert_eq!(r.status(), 204);
    problem(h.get(&location).await, 404).await;
    problem(api.send(reqwest::Method::DELETE, &location, None, true).await, 404).await;
    h.stop().await;
}

#[tokio::test]
async fn categories_and_filters() {
    let h = host().await;
    let api = Api { h: &h };
    let r = api.send(reqwest::Method::POST, "/categories", Some(json!({"slug": "mugs", "name": "Mugs"})), true).await;
    assert_eq!(r.status(), 201);
    let mugs: Value = r.json().await.unwrap();
    let r = api.send(reqwest::Method::POST, "/categories", Some(json!({"slug": "mugs", "name": "Again"})), true).await;
    problem(r, 409).await;
    let by_slug: Value = h.get("/categories/mugs").await.json().await.unwrap();
    assert_eq!(by_slug["id"], mugs["id"]);

    let mut in_mugs = product("MUG-RED", "Red mug", 900);
    in_mugs["category_id"] = mugs["id"].clone();
    api.create(in_mugs).await;
    api.create(product("TEE-RED", "Red tee", 1900)).await;
    api.create(product("TEE-BLUE", "Blue tee", 2900)).await;

    assert_eq!(skus(&api.list("?category=mugs").await), vec!["MUG-RED"]);
    assert_eq!(skus(&api.list(&format!("?category={}", mugs["id"].as_str().unwrap())).await), vec!["MUG-RED"]);
    assert_eq!(skus(&api.list("?q=red&sort=price").await), vec!["MUG-RED", "TEE-RED"]);
    assert_eq!(skus(&api.list("?q=RED&sort=-price").await), vec!["TEE-RED", "MUG-RED"]);
    assert_eq!(skus(&api.list("?min_price=1000&max_price=2000").await), vec!["TEE-RED"]);
    assert_eq!(skus(&api.list("?sort=name").await), vec!["TEE-BLUE", "MUG-RED", "TEE-RED"]);
    // LIKE wildcards in the search text are literal.
    assert!(skus(&api.list("?q=%25").await).is_empty());

    // A category still in use cannot go; once empty it can.
    let r = api.send(reqwest::Method::DELETE, &format!("/categories/{}", mugs["id"].as_str().unwrap()), None, true).await;
    problem(r, 409).await;
    let list: Value = h.get("/categories").await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    h.stop().await;
}

#[tokio::test]
async fn pagination_reports_totals_and_caps_page_size() {
    let h = host().await;
    let api = Api { h: &h };
    for i in 0..7 {
        api.create(product(&format!("SKU-{i}"), &format!("Item {i}"), 100 + i)).await;
    }
    let p1 = api.list("?sort=price&page_size=3").await;
    assert_eq!((p1["page"].clone(), p1["page_size"].clone(), p1["total"].clone()), (json!(1), json!(3), json!(7)));
    assert_eq!(skus(&p1), vec!["SKU-0", "SKU-1", "SKU-2"]);
    let p3 = api.list("?sort=price&page_size=3&page=3").await;
    assert_eq!(skus(&p3), vec!["SKU-6"]);
    let beyond = api.list("?sort=price&page_size=3&page=9").await;
    assert!(skus(&beyond).is_empty());
    assert_eq!(beyond["total"], 7);
    // An oversized page is capped, not refused.
    assert_eq!(api.list("?page_size=1000").await["page_size"], 100);
    let p = problem(h.get("/products?page_size=0&page=0&sort=sideways").await, 422).await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["page_size", "page", "sort"] {
        assert!(fields.contains(&f), "{p}");
    }
    problem(h.get("/products?min_price=500&max_price=100").await, 422).await;
    problem(h.get("/products?min_price=cheap").await, 422).await;
    h.stop().await;
}

#[tokio::test]
async fn every_error_status() {
    let h = host().await;
    let api = Api { h: &h };
    api.create(product("DUP-1", "Original", 100)).await;

    // 409: duplicate SKU.
    problem(api.send(reqwest::Method::POST, "/products", Some(product("DUP-1", "Copy", 100)), true).await, 409).await;

    // 422: every bad field named at once.
    let bad = json!({"sku": "has space", "name": "", "price": {"amount_minor": -5, "currency": "euro"}, "image_url": "ftp://x"});
    let p = problem(api.send(reqwest::Method::POST, "/products", Some(bad), true).await, 422).await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["sku", "name", "price.amount_minor", "price.currency", "image_url"] {
        assert!(fields.contains(&f), "{f} not named in {p}");
    }
    // 422: wrong JSON type, naming the field.
    let wrong = json!({"sku": "T-1", "name": "x", "price": {"amount_minor": "ten", "currency": "EUR"}});
    let p = problem(api.send(reqwest::Method::POST, "/products", Some(wrong), true).await, 422).await;
    assert!(p.to_string().contains("price.amount_minor"), "{p}");

    // 400: malformed JSON.
    let r = h
        .client
        .post(h.url("/products"))
        .header("authorization", h.admin())
        .header("content-type", "application/json")
        .body("{\"sku\": ")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;

    // 401 / 403: admin routes.
    problem(api.send(reqwest::Method::POST, "/products", Some(product("A-1", "A", 1)), false).await, 401).await;
    let customer = h.host.sign_token("cust-1", &["customer".into()]).unwrap();
    let r = h.client.post(h.url("/products")).bearer_auth(customer).json(&product("A-1", "A", 1)).send().await.unwrap();
    problem(r, 403).await;

    // 404: unknown and malformed ids, unknown paths inside the service and outside any route.
    problem(h.get("/products/3f0c7c4e-4a43-4c3b-9d7e-0a6b8f2e5d11").await, 404).await;
    problem(h.get("/products/not-a-uuid").await, 404).await;
    problem(h.get("/products/a/b/c").await, 404).await;
    problem(h.get("/no-such-service").await, 404).await;

    // 405 with Allow.
    let r = api.send(reqwest::Method::PUT, "/products", None, true).await;
    assert!(r.headers().contains_key("allow"));
    problem(r, 405).await;

    // 413: over the manifest's max_body_bytes (64 KiB), refused before the guest runs.
    let huge = json!({"sku": "BIG-1", "name": "Big", "description": "x".repeat(70_000), "price": {"amount_minor": 1, "currency": "EUR"}});
    problem(api.send(reqwest::Method::POST, "/products", Some(huge), true).await, 413).await;

    // Nothing above changed the catalogue.
    assert_eq!(api.list("").await["total"], 1);
    h.stop().await;
}

#[tokio::test]
async fn inactive_products_are_hidden_from_the_public() {
    let h = host().await;
    let api = Api { h: &h };
    let mut hidden = product("OLD-1", "Discontinued", 100);
    hidden["active"] = json!(false);
    api.create(hidden).await;
    api.create(product("NEW-1", "Current", 100)).await;
    assert_eq!(skus(&api.list("").await), vec!["NEW-1"]);
    let r = h.client.get(h.url("/products?sort=name")).header("authorization", h.admin()).send().await.unwrap();
    let all: Value = r.json().await.unwrap();
    assert_eq!(all["total"], 2);
    h.stop().await;
}
