//! Offline checks of the deployment files: Dockerfile, docker-compose.yml,
//! kong/kong.yml, .devcontainer/ and the GitHub workflow. Nothing here needs
//! Docker; it checks that the files agree with spin.toml and with the host,
//! that images are pinned and that no secret is committed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(rel: &str) -> String {
    let p = root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn yaml(rel: &str) -> Yaml {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn spin() -> toml::Value {
    toml::from_str(&read("spin.toml")).expect("spin.toml parses")
}

/// Route prefixes of spin.toml's `[[trigger.http]]`, e.g. `/products` for `/products/...`.
fn spin_route_prefixes() -> Vec<String> {
    let spin = spin();
    let routes = spin["trigger"]["http"].as_array().expect("spin.toml has [[trigger.http]]");
    let prefixes: Vec<String> = routes
        .iter()
        .map(|r| {
            let route = r["route"].as_str().expect("trigger.http.route is a string");
            let p = route.strip_suffix("/...").unwrap_or(route);
            if p.is_empty() { "/".to_string() } else { p.to_string() }
        })
        .collect();
    assert!(!prefixes.is_empty(), "spin.toml declares no HTTP route");
    prefixes
}

fn services(compose: &Yaml) -> &serde_yaml::Mapping {
    compose["services"].as_mapping().expect("compose file has a services mapping")
}

fn str_of(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => panic!("unexpected YAML value {other:?}"),
    }
}

/// A service's environment as (name, value) pairs, in either compose form.
fn environment(service: &Yaml) -> Vec<(String, String)> {
    match &service["environment"] {
        Yaml::Mapping(m) => m.iter().map(|(k, v)| (str_of(k), str_of(v))).collect(),
        Yaml::Sequence(s) => s
            .iter()
            .map(|e| {
                let e = str_of(e);
                match e.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (e, String::new()),
                }
            })
            .collect(),
        Yaml::Null => Vec::new(),
        other => panic!("unexpected environment {other:?}"),
    }
}

/// `name:tag` (optionally `@sha256:...`) with a tag other than `latest`.
fn assert_pinned(image: &str, context: &str) {
    let without_digest = image.split('@').next().unwrap();
    let last = without_digest.rsplit('/').next().unwrap();
    let tag = last.split_once(':').map(|(_, t)| t);
    match tag {
        Some(t) if !t.is_empty() && t != "latest" => {}
        _ => panic!("{context}: image `{image}` is not pinned to a version tag"),
    }
}

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.contains("PASSWORD") || n.contains("SECRET") || n.contains("TOKEN") || n.ends_with("_KEY") || n.ends_with("_PASS")
}

/// True when `value` is exactly one `${VAR}`, `${VAR:?msg}` or `${VAR?msg}` reference,
/// i.e. no literal and no default value.
fn is_env_reference_without_default(value: &str) -> bool {
    let Some(inner) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else { return false };
    let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_end);
    !name.is_empty() && !inner.contains('}') && (rest.is_empty() || rest.starts_with(":?") || rest.starts_with('?'))
}

/// The password part of every `scheme://user:password@host` in `value`
/// (a `${...}` reference inside the userinfo is kept whole).
fn url_passwords(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("://") {
        rest = &rest[i + 3..];
        let mut depth = 0;
        for (j, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                '/' | '?' | '#' if depth == 0 => break,
                '@' if depth == 0 => {
                    if let Some((_, pw)) = rest[..j].split_once(':') {
                        out.push(pw.to_string());
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

// ------------------------------------------------------------------ compose

#[test]
fn helpers_recognise_secrets_and_references() {
    assert!(is_env_reference_without_default("${POSTGRES_PASSWORD}"));
    assert!(is_env_reference_without_default("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"));
    assert!(!is_env_reference_without_default("${POSTGRES_PASSWORD:-hunter2}"));
    assert!(!is_env_reference_without_default("hunter2"));
    assert_eq!(url_passwords("postgres://postgres:hunter2@db:5432/x"), vec!["hunter2"]);
    assert_eq!(url_passwords("postgres://postgres:${PW:?x}@db:5432/x"), vec!["${PW:?x}"]);
    assert!(url_passwords("postgres://postgres@db:5432/x").is_empty());
    assert!(is_secret_name("POSTGRES_PASSWORD") && is_secret_name("MART_JWT_SECRET") && !is_secret_name("KAFKA_NODE_ID"));
}

#[test]
fn compose_has_every_service_with_pinned_images() {
    let compose = yaml("docker-compose.yml");
    let svcs = services(&compose);
    for name in ["postgres", "kafka", "kong", "mart"] {
        assert!(svcs.contains_key(name), "docker-compose.yml lacks service `{name}`");
    }
    for (name, svc) in svcs {
        let name = str_of(name);
        match svc["image"].as_str() {
            Some(image) => assert_pinned(image, &format!("docker-compose.yml service {name}")),
            None => assert!(!svc["build"].is_null(), "service {name} has neither image nor build"),
        }
    }
    assert!(!svcs.get("mart").unwrap()["build"].is_null(), "the mart service is built from this repository");

    let dev = yaml(".devcontainer/docker-compose.yml");
    for (name, svc) in services(&dev) {
        let image = svc["image"].as_str().unwrap_or_else(|| panic!("dev service {name:?} has no image"));
        assert_pinned(image, &format!(".devcontainer/docker-compose.yml service {}", str_of(name)));
    }
}

#[test]
fn compose_commits_no_secret() {
    for file in ["docker-compose.yml", ".devcontainer/docker-compose.yml"] {
        let compose = yaml(file);
        for (name, svc) in services(&compose) {
            let name = str_of(name);
            for (key, value) in environment(svc) {
                if is_secret_name(&key) {
                    assert!(
                        is_env_reference_without_default(&value),
                        "{file}: {name}.{key} must be a ${{VAR}} reference without a default, not `{value}`"
                    );
                }
                for pw in url_passwords(&value) {
                    assert!(
                        is_env_reference_without_default(&pw),
                        "{file}: {name}.{key} embeds a literal password `{pw}` in a URL"
                    );
                }
            }
        }
        // A default such as ${POSTGRES_PASSWORD:-changeme} is a committed secret too.
        let text = read(file);
        for (i, _) in text.match_indices("${") {
            let reference = &text[i..text[i..].find('}').map(|e| i + e + 1).unwrap_or(text.len())];
            let name: String = reference[2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if is_secret_name(&name) {
                assert!(is_env_reference_without_default(reference), "{file}: `{reference}` gives a secret a default");
            }
        }
    }
}

#[test]
fn compose_mart_service_is_configured_and_only_kong_is_published() {
    let compose = yaml("docker-compose.yml");
    let svcs = services(&compose);
    let mart = &svcs.get("mart").unwrap();
    let env: std::collections::BTreeMap<_, _> = environment(mart).into_iter().collect();
    let admin = env.get("MART_DATABASE__ADMIN_URL").expect("mart service sets MART_DATABASE__ADMIN_URL");
    assert!(admin.starts_with("postgres://") && admin.contains("@postgres:5432/"), "admin URL `{admin}` targets the postgres service");
    assert!(admin.contains("${POSTGRES_PASSWORD"), "admin URL takes the password from POSTGRES_PASSWORD");
    assert_eq!(env.get("MART_LISTEN").map(String::as_str), Some("0.0.0.0:3000"));
    let state_dir = env.get("MART_STATE_DIR").expect("mart service sets MART_STATE_DIR");
    let volumes: Vec<String> = mart["volumes"].as_sequence().expect("mart has volumes").iter().map(str_of).collect();
    assert!(
        volumes.iter().any(|v| v.ends_with(&format!(":{state_dir}")) && !v.starts_with('.') && !v.starts_with('/')),
        "the state dir {state_dir} is a named volume so generated secrets persist: {volumes:?}"
    );
    // Host variables the host would refuse (figment denies unknown MART_* keys) must not appear.
    let known = ["MART_DATABASE__ADMIN_URL", "MART_LISTEN", "MART_LOG_FORMAT", "MART_STATE_DIR", "MART_MANIFEST", "MART_WATCH", "MART_JWT_ISSUER"];
    for k in env.keys().filter(|k| k.starts_with("MART_")) {
        assert!(known.contains(&k.as_str()) || k.starts_with("MART_DATABASE__") || k.starts_with("MART_ENGINE__"), "unexpected host variable {k}");
    }

    for (name, svc) in svcs {
        let name = str_of(name);
        let ports = svc["ports"].as_sequence().map(|p| p.iter().map(str_of).collect::<Vec<_>>()).unwrap_or_default();
        if name == "kong" {
            assert!(ports.iter().any(|p| p.ends_with("8000:8000")), "Kong publishes its proxy on 8000: {ports:?}");
            assert!(!ports.iter().any(|p| p.contains("8001") || p.contains("8444")), "Kong's admin API is not published");
        } else {
            assert!(ports.is_empty(), "service {name} publishes {ports:?}; only Kong's proxy is public");
        }
    }
    let kong_env: std::collections::BTreeMap<_, _> = environment(svcs.get("kong").unwrap()).into_iter().collect();
    assert_eq!(kong_env.get("KONG_DATABASE").map(String::as_str), Some("off"));
    assert!(kong_env.get("KONG_ADMIN_LISTEN").is_some_and(|l| l.starts_with("127.0.0.1:")), "admin API on loopback only");
}

// ------------------------------------------------------------------ kong

fn kong_routes(kong: &Yaml) -> Vec<(String, Yaml)> {
    let mut out = Vec::new();
    for svc in kong["services"].as_sequence().expect("kong.yml has services") {
        for route in svc["routes"].as_sequence().into_iter().flatten() {
            for path in route["paths"].as_sequence().expect("every route has paths") {
                out.push((str_of(path), route.clone()));
            }
        }
    }
    for route in kong["routes"].as_sequence().into_iter().flatten() {
        for path in route["paths"].as_sequence().into_iter().flatten() {
            out.push((str_of(path), route.clone()));
        }
    }
    out
}

#[test]
fn kong_routes_every_public_route_and_no_internal_one() {
    let kong = yaml("kong/kong.yml");
    assert_eq!(str_of(&kong["_format_version"]), "3.0");
    let services = kong["services"].as_sequence().unwrap();
    assert!(services.iter().all(|s| s["url"].as_str() == Some("http://mart:3000")), "Kong fronts the mart host");

    let routes = kong_routes(&kong);
    let paths: BTreeSet<String> = routes.iter().map(|(p, _)| p.clone()).collect();
    for prefix in spin_route_prefixes() {
        let (_, route) = routes
            .iter()
            .find(|(p, _)| *p == prefix)
            .unwrap_or_else(|| panic!("kong.yml has no route for spin.toml's {prefix} (has {paths:?})"));
        assert_eq!(route["strip_path"].as_bool(), Some(false), "route {prefix} must keep its path (strip_path: false)");
    }
    for path in &paths {
        let p = path.trim_start_matches('~');
        assert!(
            !(p == "/" || p == "/-" || p.starts_with("/-/") || p.starts_with("/healthz") || p.starts_with("/readyz") || p.starts_with("/metrics")),
            "kong.yml must not route the host's internal path {path}"
        );
    }
}

#[test]
fn kong_plugins_match_the_host() {
    let kong = yaml("kong/kong.yml");
    let plugins = kong["plugins"].as_sequence().expect("kong.yml has global plugins");
    let find = |name: &str| plugins.iter().find(|p| p["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("plugin {name} missing"));

    let cid = find("correlation-id");
    let header = cid["config"]["header_name"].as_str().expect("correlation-id header_name");
    assert_eq!(header, "X-Correlation-ID");
    assert!(header.eq_ignore_ascii_case(mart_host::server::CORRELATION_HEADER), "Kong sets the header the host reads");
    assert_eq!(cid["config"]["echo_downstream"].as_bool(), Some(true));

    let rl = find("rate-limiting");
    assert!(rl["config"]["minute"].as_u64().is_some_and(|m| m > 0));
    find("cors");
    let size = find("request-size-limiting");
    assert!(size["config"]["allowed_payload_size"].as_u64().is_some_and(|s| s > 0));

    // The host verifies JWTs; Kong must not hold a signing secret.
    assert!(plugins.iter().all(|p| p["name"].as_str() != Some("jwt")), "no jwt plugin with a committed secret");
    for key in ["consumers", "jwt_secrets", "keyauth_credentials", "basicauth_credentials"] {
        assert!(kong[key].is_null(), "kong.yml must not commit {key}");
    }
}

// ------------------------------------------------------------------ Dockerfile

/// The Dockerfile split into stages, each starting with its FROM line.
fn docker_stages() -> Vec<String> {
    let text = read("Dockerfile");
    let mut stages: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.to_ascii_uppercase().starts_with("FROM ") {
            stages.push(String::new());
        }
        if let Some(s) = stages.last_mut() {
            if !t.starts_with('#') {
                s.push_str(line);
                s.push('\n');
            }
        }
    }
    stages
}

#[test]
fn dockerfile_builds_everything_and_ships_the_manifest_and_migrations() {
    let stages = docker_stages();
    assert!(stages.len() >= 2, "multi-stage Dockerfile");
    for s in &stages {
        let image = s.split_whitespace().nth(1).unwrap();
        assert_pinned(image, "Dockerfile FROM");
    }
    let builder = stages[..stages.len() - 1].join("\n");
    let runtime = stages.last().unwrap();
    assert!(stages[0].starts_with("FROM rust:1.95"), "builder uses the workspace's Rust 1.95");
    assert!(builder.contains("rustup target add wasm32-wasip2"));
    assert!(builder.contains("-p mart-host"), "builder builds the host");

    // Every function spin.toml knows how to build is built, and its output is shipped.
    let spin = spin();
    for (id, comp) in spin["component"].as_table().unwrap() {
        if let Some(cmd) = comp.get("build").and_then(|b| b.get("command")).and_then(|c| c.as_str()) {
            let pkg = cmd.split_whitespace().skip_while(|w| *w != "-p").nth(1).expect("build command names -p <package>");
            assert!(builder.contains(&format!("-p {pkg}")), "Dockerfile does not build component {id} ({pkg})");
        }
        let source = comp["source"].as_str().unwrap_or("");
        assert!(source.starts_with("target/wasm32-wasip2/release/"), "component {id}: source {source} is not where the image puts builds");
    }

    assert!(runtime.starts_with("FROM debian:bookworm-slim"));
    let copies: Vec<&str> = runtime.lines().filter(|l| l.trim_start().starts_with("COPY")).collect();
    let copies_of = |what: &str| copies.iter().any(|l| l.contains(what));
    assert!(copies_of("spin.toml"), "runtime copies spin.toml: {copies:?}");
    assert!(copies_of("migrations") && copies_of("/app/functions/"), "runtime copies functions/*/migrations: {copies:?}");
    assert!(copies_of("/app/target/"), "runtime copies the built components: {copies:?}");
    assert!(copies_of("release/mart"), "runtime copies the mart binary: {copies:?}");
    assert!(builder.contains("functions/*/migrations"), "builder stages every service's migrations");
    assert!(runtime.contains("ca-certificates"));
    assert!(runtime.contains("WORKDIR /app"));
    assert!(runtime.lines().any(|l| l.starts_with("USER ") && !l.contains("root")), "runtime runs as a non-root user");
    assert!(runtime.contains(r#"ENTRYPOINT ["mart"]"#));
    assert!(runtime.contains(r#"CMD ["up", "--no-build"]"#));
    assert!(runtime.contains("MART_LISTEN=0.0.0.0:3000"));
    assert!(runtime.contains("EXPOSE 3000"));

    let ignore = read(".dockerignore");
    for entry in ["target/", ".git/", ".mart/"] {
        assert!(ignore.lines().any(|l| l.trim() == entry), ".dockerignore lacks {entry}");
    }
}

// ------------------------------------------------------------------ CI and devcontainer

#[test]
fn workflow_runs_the_ci_script() {
    let wf = yaml(".github/workflows/ci.yml");
    let on = &wf["on"];
    let on = on.as_mapping().expect("`on` lists events");
    assert!(on.contains_key("push"), "workflow runs on push");
    assert!(on.contains_key("pull_request"), "workflow runs on pull_request");
    let jobs = wf["jobs"].as_mapping().expect("workflow has jobs");
    let mut runs_ci = false;
    for (_, job) in jobs {
        let steps = job["steps"].as_sequence().expect("job has steps");
        if steps.iter().any(|s| s["run"].as_str().is_some_and(|r| r.contains("bash .ci/run"))) {
            runs_ci = true;
            assert_eq!(job["runs-on"].as_str(), Some("ubuntu-24.04"));
            assert!(job["timeout-minutes"].as_u64().is_some_and(|t| t <= 90), "CI is given at most 90 minutes");
            let pg = &job["services"]["postgres"];
            assert!(pg["image"].as_str().is_some_and(|i| i.starts_with("postgres:15")), "postgres:15 service container");
            assert!(steps.iter().any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout@v"))));
            let step = steps.iter().find(|s| s["run"].as_str().is_some_and(|r| r.contains(".ci/run"))).unwrap();
            assert_eq!(str_of(&step["env"]["CI"]), "true");
        }
    }
    assert!(runs_ci, "no job runs `bash .ci/run`");
}

#[test]
fn devcontainer_is_valid_and_installs_the_wasm_target() {
    let text = read(".devcontainer/devcontainer.json");
    let dc: serde_json::Value = serde_json::from_str(&text).expect("devcontainer.json is plain JSON");
    assert!(dc["postCreateCommand"].as_str().is_some_and(|c| c.contains("rustup target add wasm32-wasip2")));
    assert!(dc["forwardPorts"].as_array().is_some_and(|p| p.iter().any(|p| p == 3000)));
    let file = match &dc["dockerComposeFile"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a[0].as_str().unwrap().to_string(),
        other => panic!("dockerComposeFile {other:?}"),
    };
    let compose = yaml(&format!(".devcontainer/{file}"));
    let service = dc["service"].as_str().expect("devcontainer names its service");
    let svcs = services(&compose);
    let ws = svcs.get(service).unwrap_or_else(|| panic!("{file} has no service {service}"));
    assert!(ws["image"].as_str().is_some_and(|i| i.starts_with("mcr.microsoft.com/devcontainers/rust:")));
    assert!(svcs.values().any(|s| s["image"].as_str().is_some_and(|i| i.starts_with("postgres:15"))), "dev compose has postgres");
    let folder = dc["workspaceFolder"].as_str().expect("workspaceFolder");
    let mounts: Vec<String> = ws["volumes"].as_sequence().into_iter().flatten().map(str_of).collect();
    assert!(mounts.iter().any(|m| m.starts_with("..:") && m.contains(folder)), "the repository is mounted at {folder}: {mounts:?}");
}
