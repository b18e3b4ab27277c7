//! Database per service: provisioning, migrations, pools.
//!
//! Each service gets its own database and its own login role, both named
//! `<prefix>_<service>`, with a generated password the host keeps. The
//! database refuses connections from every other role (CONNECT is revoked from
//! PUBLIC), so one service's role cannot read another service's tables even
//! with SQL of its own. Migrations are the service's own SQL files in
//! `functions/<service>/migrations/` (refinery's `V<n>__<name>.sql` naming),
//! applied as the service role under an advisory lock, so several hosts
//! starting together migrate once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::config::DatabaseConfig;
use crate::postgres::ServiceDb;
use crate::secrets::Secrets;

/// Database and role name of a service.
pub fn db_name(prefix: &str, service: &str) -> String {
    format!("{prefix}_{service}")
}

/// Where a service keeps its migrations, relative to the project root.
pub fn migrations_dir(root: &Path, service: &str) -> PathBuf {
    root.join("functions").join(service).join("migrations")
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

async fn connect(url: &tokio_postgres::Config) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = url.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "provisioning connection closed");
        }
    });
    Ok(client)
}

fn admin_config(cfg: &DatabaseConfig) -> anyhow::Result<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(&cfg.admin_url)
        .with_context(|| "database.admin_url is not a PostgreSQL connection URL".to_string())
}

/// The connection settings of a service's role: the admin server, the service's database and role.
fn service_config(cfg: &DatabaseConfig, service: &str, password: &str) -> anyhow::Result<tokio_postgres::Config> {
    let mut c = admin_config(cfg)?;
    let name = db_name(&cfg.prefix, service);
    c.user(&name).password(password).dbname(&name).application_name(format!("mart-{service}"));
    Ok(c)
}

/// Creates a service's role and database if missing, and (re)sets the role's password.
pub async fn provision_service(cfg: &DatabaseConfig, service: &str, password: &str) -> anyhow::Result<()> {
    let admin = connect(&admin_config(cfg)?).await.context("cannot connect with database.admin_url")?;
    let name = db_name(&cfg.prefix, service);
    let role_exists = admin.query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name]).await?.is_some();
    let role_sql = if role_exists { "ALTER ROLE" } else { "CREATE ROLE" };
    let r = admin
        .batch_execute(&format!("{role_sql} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}", ident(&name), literal(password)))
        .await;
    // Another host may have created it between our check and our CREATE.
    if let Err(e) = r {
        if e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT) {
            return Err(e).with_context(|| format!("cannot create role {name}"));
        }
    }
    let db_exists = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
    if !db_exists {
        match admin.batch_execute(&format!("CREATE DATABASE {} OWNER {}", ident(&name), ident(&name))).await {
            Ok(()) => tracing::info!(database = %name, "created service database"),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create database {name}")),
        }
    }
    admin
        .batch_execute(&format!("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC", ident(&name)))
        .await
        .with_context(|| format!("cannot restrict access to database {name}"))?;
    Ok(())
}

/// Applies the host's own tables (outbox, inbox), then the service's
/// migrations, as the service's own role.
pub async fn migrate_service(cfg: &DatabaseConfig, root: &Path, service: &str, password: &str) -> anyhow::Result<usize> {
    let dir = migrations_dir(root, service);
    let migrations = if dir.is_dir() {
        refinery::load_sql_migrations(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
    } else {
        Vec::new()
    };
    let mut client = connect(&service_config(cfg, service, password)?).await
        .with_context(|| format!("cannot connect to the {service} database as its role"))?;
    client.batch_execute("SELECT pg_advisory_lock(hashtext('mart-migrations'))").await?;
    if let Err(e) = client.batch_execute(crate::outbox::PLATFORM_SCHEMA).await {
        let _ = client.batch_execute("SELECT pg_advisory_unlock(hashtext('mart-migrations'))").await;
        return Err(e).with_context(|| format!("creating the outbox and inbox tables of {service}"));
    }
    let report = refinery::Runner::new(&migrations)
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(&mut client)
        .await
        .map_err(|e| anyhow::anyhow!("migrating {service} from {}: {e}", dir.display()));
    client.batch_execute("SELECT pg_advisory_unlock(hashtext('mart-migrations'))").await?;
    let applied = report?.applied_migrations().len();
    if applied > 0 {
        tracing::info!(%service, applied, "applied migrations");
    }
    Ok(applied)
}

pub fn pool(cfg: &DatabaseConfig, service: &str, password: &str) -> anyhow::Result<Pool> {
    let mgr = Manager::from_config(
        service_config(cfg, service, password)?,
        NoTls,
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    let wait = Duration::from_secs(cfg.acquire_timeout_secs);
    Ok(Pool::builder(mgr)
        .max_size(cfg.pool_size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .recycle_timeout(Some(wait))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}

/// Provisions, migrates and opens a pool for each service.
pub async fn prepare_all(
    cfg: &DatabaseConfig,
    root: &Path,
    services: &[String],
    secrets: &mut Secrets,
) -> anyhow::Result<BTreeMap<String, Arc<ServiceDb>>> {
    let mut out = BTreeMap::new();
    for service in services {
        let password = secrets.db_password(&db_name(&cfg.prefix, service))?;
        provision_service(cfg, service, &password).await?;
        migrate_service(cfg, root, service, &password).await?;
        let pool = pool(cfg, service, &password)?;
        let config = service_config(cfg, service, &password)?;
        out.insert(service.clone(), Arc::new(ServiceDb { service: service.clone(), pool, config }));
    }
    Ok(out)
}

/// Drops services' databases and roles. For tests and `mart db drop`; never called on start.
pub async fn drop_services(cfg: &DatabaseConfig, services: &[String]) -> anyhow::Result<()> {
    let admin = connect(&admin_config(cfg)?).await?;
    for service in services {
        let name = db_name(&cfg.prefix, service);
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&name))).await?;
        admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&name))).await?;
    }
    Ok(())
}

/// True when a connection can be had and answers.
pub async fn ping(pool: &Pool) -> bool {
    match tokio::time::timeout(Duration::from_secs(2), pool.get()).await {
        Ok(Ok(c)) => c.simple_query("SELECT 1").await.is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(db_name("mart", "product"), "mart_product");
    }
}
