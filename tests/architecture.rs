//! The layering the README draws, checked on the source: which module may import which.
//! A domain module that imports the admin, the back office or the web layer, storage
//! that imports anything above it, or a circle between modules fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that hold the rules and the storage, top to bottom. None imports the
/// generic admin, the back office or the web layer.
const DOMAIN: &[&str] = &[
    "badging",
    "badges",
    "learners",
    "courses",
    "auth",
    "images",
    "db",
    "validation",
    "display",
    "digest",
    "urls",
];
const ABOVE_DOMAIN: &[&str] = &["admin", "backoffice", "web"];

/// Every `.rs` file under `src`, as its module path (`badging::jobs`).
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                found.insert(module_of(&root, &path), source);
            }
        }
    }
    found
}

fn module_of(root: &Path, file: &Path) -> String {
    let relative: PathBuf = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

/// The source without comments and string literals' contents, so a path in a comment or
/// a message is no import.
fn code_of(source: &str) -> String {
    source
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !line.starts_with("//")
        })
        .map(|line| line.split(" // ").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate modules a file refers to, as full paths of known modules (`crate::x::y`,
/// `super::y`, and `use crate::{x, y::z}` groups), each cut to the longest known module.
fn references(module: &str, source: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_of(source);
    let mut paths = Vec::new();
    let parent: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == ','))
        .collect();
    for word in words {
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
        ] {
            let mut rest = word;
            while let Some(at) = rest.find(prefix) {
                let tail = &rest[at + prefix.len()..];
                let mut path: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                path.extend(
                    tail.split("::")
                        .take_while(|p| !p.is_empty() && !p.contains(['{', ',']))
                        .map(str::to_string),
                );
                paths.push(path);
                // `crate::{a, b::c}`: each member of the group.
                if let Some(group) = tail.strip_prefix('{') {
                    for member in group.split(',') {
                        let mut path: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                        path.extend(
                            member
                                .split("::")
                                .map(|s| s.trim_matches(['{', '}']).to_string()),
                        );
                        paths.push(path);
                    }
                }
                rest = tail;
            }
        }
    }
    let mut found = BTreeSet::new();
    for path in paths {
        for len in (1..=path.len()).rev() {
            let candidate = path[..len].join("::");
            if known.contains(&candidate) {
                if candidate != module {
                    found.insert(candidate);
                }
                break;
            }
        }
    }
    found
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, source)| (module.clone(), references(module, source, &known)))
        .collect()
}

#[test]
fn the_domain_imports_neither_the_admin_nor_the_back_office_nor_the_web() {
    let mut broken = Vec::new();
    for (module, refs) in graph() {
        if !DOMAIN.contains(&top(&module)) {
            continue;
        }
        for target in refs {
            if ABOVE_DOMAIN.contains(&top(&target)) {
                broken.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(broken.is_empty(), "upward imports: {broken:#?}");
}

#[test]
fn storage_imports_nothing_above_it() {
    let mut broken = Vec::new();
    for (module, refs) in graph() {
        if top(&module) != "db" {
            continue;
        }
        for target in refs {
            if top(&target) != "db" {
                broken.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(broken.is_empty(), "db imports: {broken:#?}");
}

/// Modules that reach each other, directly or through others, at file granularity.
#[test]
fn no_two_modules_import_each_other() {
    let graph = graph();
    let mut circles = Vec::new();
    for start in graph.keys() {
        // Depth-first from `start`, looking for a way back.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                // A parent module declares its children: not an import.
                if next.starts_with(&format!("{node}::")) || node.starts_with(&format!("{next}::"))
                {
                    continue;
                }
                if next == start {
                    circles.push(path.join(" -> ") + " -> " + start);
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(circles.is_empty(), "circles: {circles:#?}");
}
