//! `spin.toml` (Spin manifest v2) as the mart host understands it.
//!
//! The host reads the subset of Spin's format that this product uses: the
//! application table, `[[trigger.http]]` routes, components with their build
//! settings, and mart-specific per-component settings under
//! `[component.<id>.tool.mart]` — Spin's documented place for tool-specific
//! configuration, so upstream Spin still accepts the same file.
//!
//! Every problem is reported with the file, the key and what is wrong, and a
//! manifest with any problem is refused as a whole.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Defaults for per-component limits when the manifest does not set them.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_MEMORY_LIMIT_MB: u64 = 64;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: i64,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, AppVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

/// `[variables]`: an application variable, as Spin defines them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppVariable {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Never logged; still handed to a component whose variables refer to it.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    trigger: Option<toml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
    #[serde(default)]
    kafka: Vec<RawKafkaTrigger>,
}

/// `[[trigger.kafka]]`: a consumer group feeding a component's `mart:events/handler`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKafkaTrigger {
    component: String,
    topics: Vec<String>,
    group: String,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    retry_backoff_ms: Option<u64>,
    #[serde(default)]
    max_backoff_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    #[serde(default)]
    id: Option<String>,
    route: String,
    component: toml::Value,
    #[serde(default)]
    executor: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<toml::Value>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default)]
    tool: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: String,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    watch: Vec<String>,
}

/// Mart's own per-component settings: `[component.<id>.tool.mart]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMartSettings {
    service: Option<String>,
    timeout_ms: Option<u64>,
    memory_limit_mb: Option<u64>,
    max_body_bytes: Option<u64>,
    auth: Option<AuthRequirement>,
}

/// Whether a component's routes need a verified caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthRequirement {
    /// Anonymous callers reach the component; a presented token must still be valid.
    #[default]
    Optional,
    /// Every request needs a valid token; the component decides about roles.
    Required,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    /// Directory that relative paths in the manifest are resolved against.
    pub root: PathBuf,
    pub name: String,
    pub version: Option<String>,
    pub http_routes: Vec<HttpRoute>,
    pub kafka_triggers: Vec<KafkaTrigger>,
    pub components: BTreeMap<String, ComponentSpec>,
    pub variables: BTreeMap<String, AppVariable>,
}

/// Defaults for `[[trigger.kafka]]` retry settings.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_RETRY_BACKOFF_MS: u64 = 200;
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTrigger {
    pub component: String,
    /// Topic names as the application knows them (the host may add a deployment prefix).
    pub topics: Vec<String>,
    pub group: String,
    /// Attempts per record before it is dead-lettered (1 = no retry).
    pub max_attempts: u32,
    pub retry_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

/// Which export a component must have, decided by the trigger that uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// `wasi:http/incoming-handler`
    #[default]
    Http,
    /// `mart:events/handler`
    Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct ComponentSpec {
    pub id: String,
    /// Absolute path of the `.wasm` file.
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// `[component.<id>.variables]`: values, possibly templates such as `"{{ api_base }}/v1"`.
    pub variables: BTreeMap<String, String>,
    pub build: Option<BuildSpec>,
    /// The service whose database this component may open (`postgres://<service>`).
    pub service: Option<String>,
    pub timeout_ms: u64,
    pub memory_limit_bytes: u64,
    pub max_body_bytes: u64,
    pub auth: AuthRequirement,
    pub kind: TriggerKind,
}

#[derive(Debug, Clone)]
pub struct BuildSpec {
    pub command: String,
    pub workdir: PathBuf,
    pub watch: Vec<String>,
}

/// Every problem found in a manifest, each naming its key.
#[derive(Debug)]
pub struct ManifestError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid manifest {}:", self.path.display())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: path.to_path_buf(),
            problems: vec![format!("cannot read the file: {e}")],
        })?;
        let root = path
            .parent()
            .map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p })
            .unwrap_or(Path::new("."));
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Self::parse(&text, path, &root)
    }

    /// Parses manifest text; `root` resolves relative `source`/`workdir` paths.
    pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Manifest, ManifestError> {
        let err = |problems: Vec<String>| ManifestError { path: path.to_path_buf(), problems };
        let raw: RawManifest = toml::from_str(text).map_err(|e| err(vec![describe_toml_error(&e)]))?;
        let mut problems = Vec::new();

        if raw.spin_manifest_version != 2 {
            problems.push(format!(
                "`spin_manifest_version`: is {}, this host reads version 2",
                raw.spin_manifest_version
            ));
        }
        if raw.application.name.trim().is_empty() {
            problems.push("`application.name`: must not be empty".into());
        }
        let _ = (&raw.application.description, &raw.application.authors, &raw.application.trigger);

        for (name, v) in &raw.variables {
            if !is_variable_name(name) {
                problems.push(format!(
                    "`variables.{name}`: variable names are lowercase letters, digits and '_', starting with a letter"
                ));
            }
            if v.required && v.default.is_some() {
                problems.push(format!("`variables.{name}`: a required variable cannot have a default"));
            }
        }

        let mut components = BTreeMap::new();
        for (id, c) in &raw.component {
            if !is_kebab_id(id) {
                problems.push(format!(
                    "`component.{id}`: component ids are lowercase letters, digits and '-', starting with a letter"
                ));
            }
            match component_spec(id, c, root, &raw.variables) {
                Ok(spec) => {
                    components.insert(id.clone(), spec);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }

        let mut http_routes = Vec::new();
        for (i, t) in raw.trigger.http.iter().enumerate() {
            let key = format!("trigger.http[{i}]");
            let _ = (&t.id, &t.executor);
            let component = match &t.component {
                toml::Value::String(s) => s.clone(),
                _ => {
                    problems.push(format!(
                        "`{key}.component`: must name a component declared as [component.<id>]; inline components are not supported"
                    ));
                    continue;
                }
            };
            if !raw.component.contains_key(&component) {
                problems.push(format!(
                    "`{key}.component`: no component `{component}` is declared (known: {})",
                    known(&raw.component)
                ));
            }
            if let Err(e) = crate::router::validate_route(&t.route) {
                problems.push(format!("`{key}.route`: {e}"));
            }
            if let Some(prev) = http_routes.iter().position(|r: &HttpRoute| r.route == t.route) {
                problems.push(format!(
                    "`{key}.route`: route `{}` is already served by trigger.http[{prev}]",
                    t.route
                ));
            }
            http_routes.push(HttpRoute { route: t.route.clone(), component });
        }

        let mut kafka_triggers = Vec::new();
        for (i, t) in raw.trigger.kafka.iter().enumerate() {
            let key = format!("trigger.kafka[{i}]");
            if !raw.component.contains_key(&t.component) {
                problems.push(format!(
                    "`{key}.component`: no component `{}` is declared (known: {})",
                    t.component,
                    known(&raw.component)
                ));
            }
            if http_routes.iter().any(|r| r.component == t.component) {
                problems.push(format!(
                    "`{key}.component`: `{}` already serves HTTP; a component exports either an HTTP or an event handler",
                    t.component
                ));
            }
            if t.topics.is_empty() {
                problems.push(format!("`{key}.topics`: name at least one topic"));
            }
            for (j, topic) in t.topics.iter().enumerate() {
                if !is_topic_name(topic) {
                    problems.push(format!(
                        "`{key}.topics[{j}]`: `{topic}` is not a Kafka topic name (letters, digits, '.', '_', '-', at most 200)"
                    ));
                }
            }
            if t.group.trim().is_empty() {
                problems.push(format!("`{key}.group`: must not be empty"));
            }
            if t.max_attempts == Some(0) {
                problems.push(format!("`{key}.max_attempts`: must be at least 1"));
            }
            if let Some(c) = components.get_mut(&t.component) {
                c.kind = TriggerKind::Event;
            }
            kafka_triggers.push(KafkaTrigger {
                component: t.component.clone(),
                topics: t.topics.clone(),
                group: t.group.clone(),
                max_attempts: t.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
                retry_backoff_ms: t.retry_backoff_ms.unwrap_or(DEFAULT_RETRY_BACKOFF_MS),
                max_backoff_ms: t.max_backoff_ms.unwrap_or(DEFAULT_MAX_BACKOFF_MS),
            });
        }

        if !problems.is_empty() {
            return Err(err(problems));
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            root: root.to_path_buf(),
            name: raw.application.name,
            version: raw.application.version,
            http_routes,
            kafka_triggers,
            components,
            variables: raw.variables,
        })
    }

    /// Components that at least one trigger uses, in id order.
    pub fn triggered_components(&self) -> Vec<&ComponentSpec> {
        self.components
            .values()
            .filter(|c| {
                self.http_routes.iter().any(|r| r.component == c.id)
                    || self.kafka_triggers.iter().any(|t| t.component == c.id)
            })
            .collect()
    }

    /// Resolves every component's variables: application variables come from
    /// `lookup(name)` (the host passes `SPIN_VARIABLE_<NAME>` from the
    /// environment, Spin's convention) or their default. A required variable
    /// without a value fails the start, naming it.
    pub fn resolve_variables(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, ManifestError> {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, v) in &self.variables {
            match lookup(name).or_else(|| v.default.clone()) {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None if v.required => problems.push(format!(
                    "`variables.{name}` is required: set SPIN_VARIABLE_{}",
                    name.to_ascii_uppercase()
                )),
                None => {}
            }
        }
        let mut out = BTreeMap::new();
        for c in self.components.values() {
            let mut resolved = BTreeMap::new();
            for (name, template) in &c.variables {
                match expand(template, &values) {
                    Ok(v) => {
                        resolved.insert(name.clone(), v);
                    }
                    Err(missing) => problems.push(format!(
                        "`component.{}.variables.{name}`: `{missing}` has no value (no default, SPIN_VARIABLE_{} unset)",
                        c.id,
                        missing.to_ascii_uppercase()
                    )),
                }
            }
            out.insert(c.id.clone(), resolved);
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ManifestError { path: self.path.clone(), problems })
        }
    }

    /// The distinct services whose databases the components use.
    pub fn services(&self) -> Vec<String> {
        let mut s: Vec<String> = self.components.values().filter_map(|c| c.service.clone()).collect();
        s.sort();
        s.dedup();
        s
    }
}

fn known(components: &BTreeMap<String, RawComponent>) -> String {
    if components.is_empty() {
        "none".into()
    } else {
        components.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn component_spec(
    id: &str,
    c: &RawComponent,
    root: &Path,
    app_variables: &BTreeMap<String, AppVariable>,
) -> Result<ComponentSpec, Vec<String>> {
    let key = format!("component.{id}");
    let mut problems = Vec::new();
    let source = match &c.source {
        toml::Value::String(s) if s.ends_with(".wasm") => root.join(s),
        toml::Value::String(s) => {
            problems.push(format!("`{key}.source`: `{s}` is not a .wasm file path"));
            PathBuf::new()
        }
        _ => {
            problems.push(format!(
                "`{key}.source`: must be a path to a .wasm file; remote sources are not supported"
            ));
            PathBuf::new()
        }
    };
    for (i, h) in c.allowed_outbound_hosts.iter().enumerate() {
        if !h.contains("://") {
            problems.push(format!(
                "`{key}.allowed_outbound_hosts[{i}]`: `{h}` needs a scheme, e.g. postgres://{h}"
            ));
        }
    }
    if !c.files.is_empty() || !c.key_value_stores.is_empty() || !c.sqlite_databases.is_empty() {
        problems.push(format!(
            "`{key}`: files, key_value_stores and sqlite_databases are not provided by the mart host; services use their PostgreSQL database"
        ));
    }
    for (name, template) in &c.variables {
        if !is_variable_name(name) {
            problems.push(format!(
                "`{key}.variables.{name}`: variable names are lowercase letters, digits and '_', starting with a letter"
            ));
        }
        match template_refs(template) {
            Ok(refs) => {
                for r in refs {
                    if !app_variables.contains_key(&r) {
                        problems.push(format!("`{key}.variables.{name}`: refers to `{{{{ {r} }}}}`, which [variables] does not declare"));
                    }
                }
            }
            Err(e) => problems.push(format!("`{key}.variables.{name}`: {e}")),
        }
    }
    let _ = &c.description;

    let mart: RawMartSettings = match c.tool.get("mart") {
        None => RawMartSettings::default(),
        Some(v) => match serde_path_to_error::deserialize::<_, RawMartSettings>(v.clone()) {
            Ok(m) => m,
            Err(e) => {
                let at = e.path().to_string();
                let at = if at == "." { String::new() } else { format!(".{at}") };
                problems.push(format!("`{key}.tool.mart{at}`: {}", e.inner().message()));
                RawMartSettings::default()
            }
        },
    };
    if let Some(s) = &mart.service {
        if !is_service_name(s) {
            problems.push(format!(
                "`{key}.tool.mart.service`: `{s}` is not a service name (lowercase letters, digits, '_', starting with a letter, at most 30 characters)"
            ));
        }
    }
    let positive = |name: &str, v: Option<u64>, default: u64, problems: &mut Vec<String>| match v {
        Some(0) => {
            problems.push(format!("`{key}.tool.mart.{name}`: must be greater than 0"));
            default
        }
        Some(n) => n,
        None => default,
    };
    let timeout_ms = positive("timeout_ms", mart.timeout_ms, DEFAULT_TIMEOUT_MS, &mut problems);
    let memory_limit_mb = positive("memory_limit_mb", mart.memory_limit_mb, DEFAULT_MEMORY_LIMIT_MB, &mut problems);
    let max_body_bytes = positive("max_body_bytes", mart.max_body_bytes, DEFAULT_MAX_BODY_BYTES, &mut problems);

    let build = c.build.as_ref().map(|b| BuildSpec {
        command: b.command.clone(),
        workdir: b.workdir.as_ref().map(|w| root.join(w)).unwrap_or_else(|| root.to_path_buf()),
        watch: b.watch.clone(),
    });

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ComponentSpec {
        id: id.to_string(),
        source,
        allowed_outbound_hosts: c.allowed_outbound_hosts.clone(),
        environment: c.environment.clone(),
        variables: c.variables.clone(),
        build,
        service: mart.service,
        timeout_ms,
        memory_limit_bytes: memory_limit_mb * 1024 * 1024,
        max_body_bytes,
        auth: mart.auth.unwrap_or_default(),
        kind: TriggerKind::Http,
    })
}

fn describe_toml_error(e: &toml::de::Error) -> String {
    // toml's message already names the offending key and the line; keep it on one line.
    e.to_string().lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" | ")
}

pub fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The application variables a template such as `"{{ base }}/v1"` refers to.
fn template_refs(template: &str) -> Result<Vec<String>, String> {
    let mut refs = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("`{template}` has an unclosed `{{{{`"))?;
        let name = after[..end].trim();
        if !is_variable_name(name) {
            return Err(format!("`{template}` refers to `{name}`, which is not a variable name"));
        }
        refs.push(name.to_string());
        rest = &after[end + 2..];
    }
    Ok(refs)
}

/// Fills a template's `{{ name }}` references; `Err(name)` for one without a value.
fn expand(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or(after.len());
        let name = after[..end].trim();
        out.push_str(values.get(name).ok_or_else(|| name.to_string())?);
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn is_topic_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_kebab_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub fn is_service_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 30
        && matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("spin.toml"), Path::new("/app"))
    }

    const GOOD: &str = r#"
spin_manifest_version = 2
[application]
name = "mart"

[[trigger.http]]
route = "/products/..."
component = "product-http"

[component.product-http]
source = "target/wasm32-wasip2/release/product_http.wasm"
[component.product-http.build]
command = "cargo build --target wasm32-wasip2 --release -p product-http"
watch = ["functions/product/**/*.rs"]
[component.product-http.tool.mart]
service = "product"
timeout_ms = 2000
memory_limit_mb = 32
"#;

    #[test]
    fn reads_routes_components_and_mart_settings() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.http_routes, vec![HttpRoute { route: "/products/...".into(), component: "product-http".into() }]);
        let c = &m.components["product-http"];
        assert_eq!(c.source, Path::new("/app/target/wasm32-wasip2/release/product_http.wasm"));
        assert_eq!(c.service.as_deref(), Some("product"));
        assert_eq!(c.timeout_ms, 2000);
        assert_eq!(c.memory_limit_bytes, 32 * 1024 * 1024);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.build.as_ref().unwrap().workdir, Path::new("/app"));
        assert_eq!(m.services(), vec!["product".to_string()]);
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let e = parse(&GOOD.replace("timeout_ms = 2000", "timeout = 2000")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("spin.toml"), "{msg}");
        assert!(msg.contains("timeout"), "{msg}");
        assert!(msg.contains("tool.mart"), "{msg}");
    }

    #[test]
    fn trigger_naming_unknown_component_is_refused() {
        let e = parse(&GOOD.replace("component = \"product-http\"", "component = \"nope\"")).unwrap_err();
        assert!(e.to_string().contains("trigger.http[0].component"), "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = parse("spin_manifest_version = 2\n[application\nname='x'").unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
    }

    #[test]
    fn wrong_type_is_refused() {
        let e = parse(&GOOD.replace("timeout_ms = 2000", "timeout_ms = \"fast\"")).unwrap_err();
        assert!(e.to_string().contains("timeout_ms"), "{e}");
    }

    #[test]
    fn all_problems_are_reported_together() {
        let text = GOOD
            .replace("memory_limit_mb = 32", "memory_limit_mb = 0")
            .replace("service = \"product\"", "service = \"Product DB\"");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
    }

    #[test]
    fn duplicate_and_malformed_routes_are_refused() {
        let text = format!("{GOOD}\n[[trigger.http]]\nroute = \"/products/...\"\ncomponent = \"product-http\"\n[[trigger.http]]\nroute = \"products\"\ncomponent = \"product-http\"\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("already served"), "{e}");
        assert!(e.to_string().contains("trigger.http[2].route"), "{e}");
    }

    #[test]
    fn kafka_triggers_are_read_and_checked() {
        let text = format!(
            "{GOOD}\n[[trigger.kafka]]\ncomponent = \"stock\"\ntopics = [\"mart.order.events\"]\ngroup = \"inventory\"\nmax_attempts = 3\n\n[component.stock]\nsource = \"s.wasm\"\n"
        );
        let m = parse(&text).unwrap();
        assert_eq!(m.kafka_triggers[0].topics, vec!["mart.order.events".to_string()]);
        assert_eq!(m.kafka_triggers[0].max_attempts, 3);
        assert_eq!(m.kafka_triggers[0].retry_backoff_ms, DEFAULT_RETRY_BACKOFF_MS);
        assert_eq!(m.components["stock"].kind, TriggerKind::Event);
        assert_eq!(m.components["product-http"].kind, TriggerKind::Http);
        assert_eq!(m.triggered_components().len(), 2);

        let bad = text.replace("mart.order.events", "bad topic!").replace("max_attempts = 3", "max_attempts = 0");
        let e = parse(&bad).unwrap_err().to_string();
        assert!(e.contains("trigger.kafka[0].topics[0]"), "{e}");
        assert!(e.contains("trigger.kafka[0].max_attempts"), "{e}");

        let both = text.replace("component = \"stock\"", "component = \"product-http\"");
        assert!(parse(&both).unwrap_err().to_string().contains("already serves HTTP"));
    }

    #[test]
    fn variables_resolve_from_lookup_then_default() {
        let text = format!(
            "{GOOD}\n[variables]\nbase = {{ default = \"https://x\" }}\ntoken = {{ required = true, secret = true }}\n\n[component.product-http.variables]\nendpoint = \"{{{{ base }}}}/v1\"\nauth = \"Bearer {{{{token}}}}\"\nplain = \"literal\"\n"
        );
        let m = parse(&text).unwrap();
        let resolved = m.resolve_variables(|n| (n == "token").then(|| "t0k".to_string())).unwrap();
        let v = &resolved["product-http"];
        assert_eq!(v["endpoint"], "https://x/v1");
        assert_eq!(v["auth"], "Bearer t0k");
        assert_eq!(v["plain"], "literal");
        let e = m.resolve_variables(|_| None).unwrap_err().to_string();
        assert!(e.contains("SPIN_VARIABLE_TOKEN"), "{e}");
    }

    #[test]
    fn undeclared_or_malformed_variable_references_are_refused() {
        let text = format!("{GOOD}\n[component.product-http.variables]\na = \"{{{{ nope }}}}\"\nb = \"{{{{ open\"\n");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("variables.a") && e.contains("nope"), "{e}");
        assert!(e.contains("variables.b") && e.contains("unclosed"), "{e}");
    }

    #[test]
    fn wrong_manifest_version_is_refused() {
        let e = parse(&GOOD.replace("spin_manifest_version = 2", "spin_manifest_version = 1")).unwrap_err();
        assert!(e.to_string().contains("spin_manifest_version"), "{e}");
    }
}
