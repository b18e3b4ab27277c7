//! Host configuration: defaults, then an optional TOML file, then `MART_*`
//! environment variables (nested keys with `__`, e.g.
//! `MART_DATABASE__ADMIN_URL`). The defaults run on a fresh machine whose
//! PostgreSQL listens on 127.0.0.1:5432 with trust authentication.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::runtime::EngineConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Spin manifest listing routes and components.
    pub manifest: PathBuf,
    /// Address the HTTP server binds.
    pub listen: String,
    /// Where generated secrets (database passwords, bootstrap token, JWT key) are kept.
    pub state_dir: PathBuf,
    /// Bootstrap admin token; generated into the state directory when unset.
    pub admin_token: Option<String>,
    /// HS256 key for tokens the host signs and verifies; generated when unset.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    /// Reload a component when its `.wasm` file changes.
    pub watch: bool,
    /// `text` or `json` log lines.
    pub log_format: String,
    pub database: DatabaseConfig,
    pub engine: EngineConfig,
    pub kafka: KafkaConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers (`host:port,…`). Unset: the host starts a local Tansu broker.
    /// `KAFKA_BROKERS` sets it too.
    pub brokers: Option<String>,
    /// Start Tansu when no broker is configured.
    pub start_local: bool,
    /// Port of the local broker.
    pub local_port: u16,
    /// Prepended to every topic name: lets several deployments (or test runs) share a broker.
    pub topic_prefix: String,
    /// Partitions of topics the host creates.
    pub partitions: i32,
    pub replication_factor: i32,
    /// How often the outbox relay looks for rows when no notification arrives.
    pub relay_poll_ms: u64,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: None,
            start_local: true,
            local_port: 9092,
            topic_prefix: String::new(),
            partitions: 3,
            replication_factor: 1,
            relay_poll_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A role that may create databases and roles; used only to provision and migrate.
    pub admin_url: String,
    /// Service databases and roles are named `<prefix>_<service>`.
    pub prefix: String,
    /// Connections per service pool.
    pub pool_size: usize,
    /// Seconds a request waits for a pooled connection before failing.
    pub acquire_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            manifest: PathBuf::from("spin.toml"),
            listen: "127.0.0.1:3000".into(),
            state_dir: PathBuf::from(".mart"),
            admin_token: None,
            jwt_secret: None,
            jwt_issuer: "mart".into(),
            watch: true,
            log_format: "text".into(),
            database: DatabaseConfig::default(),
            engine: EngineConfig::default(),
            kafka: KafkaConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            admin_url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
            prefix: "mart".into(),
            pool_size: 16,
            acquire_timeout_secs: 5,
        }
    }
}

impl Config {
    /// Loads configuration. `file` must exist when given; otherwise `mart.toml`
    /// in the working directory is read if present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
                fig = fig.merge(Toml::file(f));
            }
            None if Path::new("mart.toml").exists() => fig = fig.merge(Toml::file("mart.toml")),
            None => {}
        }
        // MART_LOG (log filter), MART_CONFIG and MART_URL (CLI arguments) and
        // MART_TEST_* (the test suite's settings) are not configuration keys.
        let env = Env::prefixed("MART_")
            .ignore(&["log", "config", "url"])
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
            .split("__");
        fig = fig.merge(env);
        let mut cfg: Config = fig.extract().map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        // The conventional variable, for deployments that already set it.
        if cfg.kafka.brokers.is_none() {
            cfg.kafka.brokers = std::env::var("KAFKA_BROKERS").ok().filter(|b| !b.trim().is_empty());
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            crate::manifest::is_service_name(&self.database.prefix),
            "database.prefix `{}` must be lowercase letters, digits and '_', starting with a letter",
            self.database.prefix
        );
        anyhow::ensure!(self.database.pool_size > 0, "database.pool_size must be greater than 0");
        anyhow::ensure!(matches!(self.log_format.as_str(), "text" | "json"), "log_format must be `text` or `json`");
        anyhow::ensure!(self.kafka.partitions > 0, "kafka.partitions must be greater than 0");
        anyhow::ensure!(
            self.kafka.topic_prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
            "kafka.topic_prefix may contain only letters, digits, '.', '_' and '-'"
        );
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its (large) error type
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_fresh_machine() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.listen, "127.0.0.1:3000");
        assert!(c.database.admin_url.contains("127.0.0.1:5432"));
    }

    #[test]
    fn file_and_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("custom.toml", "listen = \"0.0.0.0:8080\"\n[database]\nprefix = \"shop\"\n")?;
            jail.set_env("MART_DATABASE__POOL_SIZE", "3");
            jail.set_env("KAFKA_BROKERS", "broker-1:9092");
            let c = Config::load(Some(Path::new("custom.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:8080");
            assert_eq!(c.database.prefix, "shop");
            assert_eq!(c.database.pool_size, 3);
            assert_eq!(c.kafka.brokers.as_deref(), Some("broker-1:9092"));
            Ok(())
        });
    }

    #[test]
    fn cli_and_log_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MART_LOG", "debug");
            jail.set_env("MART_CONFIG", "elsewhere.toml");
            jail.set_env("MART_URL", "http://127.0.0.1:1");
            jail.set_env("MART_TEST_KAFKA_BROKERS", "127.0.0.1:1");
            Config::load(None).map_err(|e| e.to_string())?;
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lisen = \"x\"\n")?;
            let e = Config::load(Some(Path::new("bad.toml"))).unwrap_err().to_string();
            assert!(e.contains("lisen"), "{e}");
            Ok(())
        });
    }
}
