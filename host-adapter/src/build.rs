//! `mart build`: runs each component's `[component.<id>.build]` command.
//!
//! A component is stale when its `.wasm` is missing or older than any file its
//! `watch` globs match. Commands run with `CARGO_TARGET_DIR` unset so the
//! artifact lands where the manifest's `source` says.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::Context;
use globset::{Glob, GlobSetBuilder};

use crate::manifest::{ComponentSpec, Manifest};

/// Why a component needs building, or `None` when its build is current.
pub fn staleness(spec: &ComponentSpec) -> anyhow::Result<Option<String>> {
    let Some(build) = &spec.build else { return Ok(None) };
    let built = match std::fs::metadata(&spec.source).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(_) => return Ok(Some("not built yet".into())),
    };
    if build.watch.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pattern in &build.watch {
        set.add(Glob::new(pattern).with_context(|| format!("component `{}`: watch pattern `{pattern}`", spec.id))?);
    }
    let set = set.build()?;
    let newest = newest_match(&build.workdir, &set)?;
    Ok(match newest {
        Some((t, path)) if t > built => Some(format!("{} changed", path)),
        _ => None,
    })
}

fn newest_match(root: &Path, set: &globset::GlobSet) -> anyhow::Result<Option<(SystemTime, String)>> {
    let mut newest: Option<(SystemTime, String)> = None;
    let walker = walkdir::WalkDir::new(root).into_iter().filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        // Build output and VCS data never count as sources.
        !(e.depth() > 0 && (name == "target" || name.starts_with('.')))
    });
    for entry in walker {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if set.is_match(rel) {
            let t = entry.metadata()?.modified()?;
            if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                newest = Some((t, rel.display().to_string()));
            }
        }
    }
    Ok(newest)
}

/// Builds the given components (all with a build command when `only_stale` is false).
pub fn build(manifest: &Manifest, only_stale: bool) -> anyhow::Result<()> {
    let mut todo = Vec::new();
    for spec in manifest.components.values() {
        let Some(b) = &spec.build else { continue };
        let reason = if only_stale { staleness(spec)? } else { Some("requested".into()) };
        if let Some(reason) = reason {
            todo.push((spec, b, reason));
        }
    }
    let total = todo.len();
    for (i, (spec, b, reason)) in todo.into_iter().enumerate() {
        eprintln!("[{}/{total}] building {} ({reason}): {}", i + 1, spec.id, b.command);
        let status = Command::new("sh")
            .arg("-c")
            .arg(&b.command)
            .current_dir(&b.workdir)
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .with_context(|| format!("cannot run the build command of `{}`", spec.id))?;
        anyhow::ensure!(status.success(), "building `{}` failed ({status}): {}", spec.id, b.command);
        anyhow::ensure!(
            spec.source.exists(),
            "building `{}` succeeded but {} does not exist; check `source` in the manifest",
            spec.id,
            spec.source.display()
        );
    }
    if total == 0 {
        eprintln!("all components are up to date");
    }
    Ok(())
}
