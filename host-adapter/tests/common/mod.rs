//! Test harness: a real host on an ephemeral port, its own databases on the
//! local PostgreSQL (unique prefix per test), and cleanup even when a test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mart_host::config::Config;
use mart_host::host::RunningHost;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A wasm build of a workspace crate (`tc_echo`, `product_http`, …), built by the test command.
pub fn wasm(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
    let p = target.join("wasm32-wasip2/release").join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run the README's test command (scripts/test), which builds the wasm components first",
        p.display()
    );
    p
}

/// The broker the test command started (scripts/test), or one you point at.
pub fn brokers() -> String {
    std::env::var("MART_TEST_KAFKA_BROKERS").or_else(|_| std::env::var("KAFKA_BROKERS")).expect(
        "no Kafka broker for tests: run the README's test command (scripts/test starts Tansu), \
         or set MART_TEST_KAFKA_BROKERS",
    )
}

pub fn admin_url() -> String {
    std::env::var("MART_TEST_ADMIN_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn unique(prefix: &str) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    format!("{prefix}_{}", Alphanumeric.sample_string(&mut rand::rng(), 10).to_lowercase())
}

/// Drops the test's databases, roles and files on drop, even after a panic.
pub struct DbCleanup {
    pub cfg: mart_host::config::DatabaseConfig,
    pub services: Vec<String>,
    pub dir: PathBuf,
}

impl Drop for DbCleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let cfg = self.cfg.clone();
        let services = self.services.clone();
        // Drop cannot await; a private runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            if let Err(e) = rt.block_on(mart_host::db::drop_services(&cfg, &services)) {
                eprintln!("cleanup of test databases failed: {e:#}");
            }
        })
        .join();
    }
}

pub struct TestHost {
    pub host: RunningHost,
    pub dir: PathBuf,
    pub client: reqwest::Client,
    pub cfg: Config,
    _cleanup: DbCleanup,
}

impl TestHost {
    /// Starts a host for `manifest` (written into a fresh directory together with `files`).
    pub async fn start(manifest: &str, files: &[(&str, &Path)], services: &[&str]) -> TestHost {
        Self::start_in(manifest, files, services, None).await
    }

    /// As `start`, with a chance to change the configuration first.
    pub async fn start_with(
        manifest: &str,
        files: &[(&str, &Path)],
        services: &[&str],
        adjust: impl FnOnce(&mut Config),
    ) -> TestHost {
        Self::start_full(manifest, files, services, None, adjust).await
    }

    /// As `start`, with the manifest's root at `root` (for the real project manifest).
    pub async fn start_in(manifest: &str, files: &[(&str, &Path)], services: &[&str], root: Option<&Path>) -> TestHost {
        Self::start_full(manifest, files, services, root, |_| {}).await
    }

    async fn start_full(
        manifest: &str,
        files: &[(&str, &Path)],
        services: &[&str],
        root: Option<&Path>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestHost {
        let _ = tracing_subscriber::fmt().with_env_filter("warn,mart_host=info,refinery_core::util=error").with_test_writer().try_init();
        let dir = std::env::temp_dir().join(unique("mart-test"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, src) in files {
            let to = dir.join(name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(src, to).unwrap();
        }
        // The manifest's directory is its root: the project's root for the real manifest.
        let manifest_path = match root {
            Some(r) => r.join(format!(".{}.spin.toml", unique("test"))),
            None => dir.join("spin.toml"),
        };
        std::fs::write(&manifest_path, manifest).unwrap();
        let mut cfg = Config {
            manifest: manifest_path,
            listen: "127.0.0.1:0".into(),
            state_dir: dir.join("state"),
            ..Config::default()
        };
        cfg.database.admin_url = admin_url();
        cfg.database.prefix = unique("t");
        cfg.database.pool_size = 8;
        cfg.engine.max_instances = 64;
        // Own topics on the shared broker: every topic name gets the test's prefix.
        cfg.kafka.brokers = Some(brokers());
        cfg.kafka.topic_prefix = format!("{}.", cfg.database.prefix);
        cfg.kafka.relay_poll_ms = 200;
        adjust(&mut cfg);
        let cleanup = DbCleanup {
            cfg: cfg.database.clone(),
            services: services.iter().map(|s| s.to_string()).collect(),
            dir: dir.clone(),
        };
        let host = mart_host::host::start(&cfg).await.expect("host starts");
        if root.is_some() {
            let _ = std::fs::remove_file(&cfg.manifest);
        }
        TestHost { host, dir, client: reqwest::Client::new(), cfg, _cleanup: cleanup }
    }

    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    pub fn admin(&self) -> String {
        format!("Bearer {}", self.host.admin_token)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// A second host on the same databases, topics and consumer groups (scale-out tests).
    pub async fn start_peer(&self) -> RunningHost {
        let mut cfg = self.cfg.clone();
        cfg.state_dir = self.dir.join("state");
        cfg.watch = false;
        mart_host::host::start(&cfg).await.expect("peer host starts")
    }

    /// Connects to a service's database with the admin role, to look at what a test did.
    pub async fn service_db(&self, service: &str) -> tokio_postgres::Client {
        let mut c: tokio_postgres::Config = admin_url().parse().unwrap();
        c.dbname(format!("{}_{service}", self.cfg.database.prefix));
        let (client, conn) = c.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    pub async fn stop(self) {
        let TestHost { host, _cleanup, .. } = self;
        host.stop().await;
        drop(_cleanup);
    }
}

/// Asserts a problem+json response and returns its JSON.
pub async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(ct.starts_with("application/problem+json"), "content-type was {ct}");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["status"], status, "{v}");
    assert!(v["title"].is_string() && v["type"].is_string(), "{v}");
    v
}
