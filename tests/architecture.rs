//! The layering the README draws ("Which module may import which"), checked on the source.
//!
//! Every file under `src/` is parsed (syn), placed in the module tree by the `mod`
//! declarations that reach it from `lib.rs` or `main.rs` (`mod.rs`, nested and inline
//! modules, `#[path]`), and every path in it that names something of the crate is collected:
//! `use` trees (groups, nested groups, renames, globs, also inside functions), and paths in
//! expressions, types, patterns, macro invocations and attributes written from `crate::`,
//! `self::`, `super::` or a child module. `super` and `self` are resolved from the module
//! they are written in. String literals and comments are not code, so they are never seen;
//! paths to other crates are not imports. Each path is cut to the module it reaches.
//!
//! Then: each top-level module imports only the layers below its own (so no domain module
//! imports `admin`, `backoffice`, `web` or the application frame, and `db` nothing above
//! it), no two top-level modules reach each other, and no two files do. The `self_test`
//! module feeds known-bad and known-good sources to the same analysis.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// The top-level modules, from the top layer down. A module may import the modules of the
/// layers below its own, never those of its own layer or above (the README's order).
const LAYERS: &[&[&str]] = &[
    // The command line, and the library root that builds the application.
    &["main"],
    &["lib"],
    // Routes and handlers.
    &["web"],
    // One model admin per model.
    &["backoffice"],
    // The generic admin, knowing no model.
    &["admin"],
    // The application frame: settings read once at start, the HTTP error, the CPU pool.
    &["config"],
    &["cpu"],
    &["error"],
    // The domain, top to bottom.
    &["badging"],
    &["badges"],
    &["learners"],
    &["auth"],
    &["courses"],
    &["images"],
    // Storage.
    &["db"],
    // Below everything: no module of the crate.
    &["validation", "display", "digest", "urls"],
];

/// The domain: the rules and the storage. None imports the layers above it.
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

/// The name `main.rs` reaches the library by.
const LIBRARY: &str = "accolade";

/// One path from a file to a module of the crate.
#[derive(Clone, Debug)]
struct Import {
    /// The file it is written in (`src/badges/images.rs`) and the line.
    file: String,
    line: usize,
    /// The module of that file (`badges::images`; `lib` and `main` for the roots).
    from: String,
    /// The path as written, made whole (`crate::web::AppState` for a group's member).
    path: String,
    /// The module of a file it reaches (`web`).
    to: String,
}

impl std::fmt::Display for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} imports {} (`{}`)",
            self.file, self.line, self.from, self.to, self.path
        )
    }
}

/// What the analysis finds in a crate's sources.
#[derive(Debug, Default)]
struct Analysis {
    /// Every module of a file, as its path (`badging::badgr`).
    modules: BTreeSet<String>,
    imports: Vec<Import>,
    /// Files that do not parse, `mod` declarations without a file, files outside the tree,
    /// paths that climb above the crate.
    problems: Vec<String>,
}

/// A path collected in a file, before the module tree is complete.
struct Found {
    line: usize,
    written: String,
    /// The absolute path (`["web", "AppState"]`), or `None` for one that leaves the crate.
    absolute: Option<Vec<String>>,
    /// Written from a plain name (`child::x`): an import only if that name is a module.
    plain: bool,
}

/// Parses `sources` (file name under the crate's folder → text) from `src/lib.rs` and
/// `src/main.rs` down, and collects every path that reaches a module of the crate.
fn analyse(sources: &BTreeMap<String, String>) -> Analysis {
    let mut analysis = Analysis::default();
    // Module path → (file, module of that file) for file and inline modules alike.
    let mut owner: BTreeMap<Vec<String>, (String, Vec<String>)> = BTreeMap::new();
    let mut found: Vec<(String, Vec<String>, Vec<String>, Found)> = Vec::new();
    let mut reached = BTreeSet::new();
    // (file, module, crate root, the folder its child modules' files are in)
    let mut pending: Vec<(String, Vec<String>, Vec<String>, PathBuf)> = Vec::new();
    for (root, module) in [
        ("src/lib.rs", vec![]),
        ("src/main.rs", vec!["main".to_string()]),
    ] {
        if sources.contains_key(root) {
            pending.push((root.into(), module.clone(), module, PathBuf::from("src")));
        }
    }
    while let Some((file, module, crate_root, dir)) = pending.pop() {
        reached.insert(file.clone());
        let syntax = match syn::parse_file(&sources[&file]) {
            Ok(syntax) => syntax,
            Err(error) => {
                analysis
                    .problems
                    .push(format!("{file}: does not parse: {error}"));
                continue;
            }
        };
        let mut collector = Collector {
            crate_root: crate_root.clone(),
            in_main: crate_root.first().is_some_and(|r| r == "main"),
            file_dir: Path::new(&file).parent().unwrap().to_path_buf(),
            current: module.clone(),
            dir,
            found: Vec::new(),
            inline: Vec::new(),
            inline_depth: 0,
            children: Vec::new(),
        };
        collector.visit_file(&syntax);
        owner.insert(module.clone(), (file.clone(), module.clone()));
        for inline in collector.inline {
            owner.insert(inline, (file.clone(), module.clone()));
        }
        for (current, item) in collector.found {
            found.push((file.clone(), module.clone(), current, item));
        }
        for (child, candidates, named) in collector.children {
            let candidates: Vec<String> = candidates
                .iter()
                .map(|c| normalise(c))
                .filter(|c| sources.contains_key(c))
                .collect();
            match candidates.as_slice() {
                [child_file] => {
                    // A file named by `#[path]` holds its children as a `mod.rs` does.
                    let child_dir = if named || is_mod_rs(child_file) {
                        Path::new(child_file).parent().unwrap().to_path_buf()
                    } else {
                        Path::new(child_file).with_extension("")
                    };
                    pending.push((child_file.clone(), child, crate_root.clone(), child_dir));
                }
                [] => analysis.problems.push(format!(
                    "{file}: no file for `mod {}`",
                    child.last().unwrap()
                )),
                _ => analysis.problems.push(format!(
                    "{file}: `mod {}` has two files: {candidates:?}",
                    child.last().unwrap()
                )),
            }
        }
    }
    for file in sources.keys() {
        if file.ends_with(".rs") && !reached.contains(file) {
            analysis
                .problems
                .push(format!("{file}: no `mod` reaches it, so it is not checked"));
        }
    }
    analysis.modules = owner.values().map(|(_, m)| name_of(m)).collect();
    for (file, module, current, item) in found {
        let Some(absolute) = item.absolute else {
            analysis.problems.push(format!(
                "{file}:{}: `{}` climbs above the crate",
                item.line, item.written
            ));
            continue;
        };
        if item.plain && !owner.contains_key(&absolute[..current.len() + 1]) {
            // A local item, a name brought in by a `use`, or another crate.
            continue;
        }
        let Some(target) = (0..=absolute.len())
            .rev()
            .find_map(|len| owner.get(&absolute[..len]))
        else {
            continue;
        };
        let to = name_of(&target.1);
        let from = name_of(&module);
        if to != from {
            analysis.imports.push(Import {
                file: file.clone(),
                line: item.line,
                from,
                path: item.written,
                to,
            });
        }
    }
    analysis
}

fn is_mod_rs(file: &str) -> bool {
    ["mod.rs", "lib.rs", "main.rs"]
        .iter()
        .any(|name| file.ends_with(&format!("/{name}")))
}

/// `src/a/../b.rs` → `src/b.rs`, with `/` between parts.
fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

/// A module's name in reports: `badging::badgr`, or `lib` for the library's root.
fn name_of(module: &[String]) -> String {
    if module.is_empty() {
        "lib".into()
    } else {
        module.join("::")
    }
}

/// The top-level module a module belongs to: `badging` for `badging::badgr`.
fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

/// Collects the paths of one file.
struct Collector {
    crate_root: Vec<String>,
    in_main: bool,
    file_dir: PathBuf,
    /// The module being read, inline modules included.
    current: Vec<String>,
    /// Where the files of `current`'s child modules are.
    dir: PathBuf,
    found: Vec<(Vec<String>, Found)>,
    inline: Vec<Vec<String>>,
    /// How many inline modules `current` is in.
    inline_depth: usize,
    /// Child modules declared with `mod x;`, with the files that may hold them and whether
    /// a `#[path]` named it.
    children: Vec<(Vec<String>, Vec<PathBuf>, bool)>,
}

impl Collector {
    fn record(&mut self, segments: Vec<String>, line: usize) {
        let Some(first) = segments.first() else {
            return;
        };
        let written = segments.join("::");
        let (absolute, plain) = match first.as_str() {
            "crate" => (Some(join(&self.crate_root, &segments[1..])), false),
            "self" | "super" => {
                let mut base = self.current.clone();
                let mut rest = &segments[1..];
                let mut climbs = usize::from(first == "super");
                while rest.first().is_some_and(|s| s == "super") {
                    climbs += 1;
                    rest = &rest[1..];
                }
                let floor = self.crate_root.len();
                if base.len() < floor + climbs {
                    (None, false)
                } else {
                    base.truncate(base.len() - climbs);
                    (Some(join(&base, rest)), false)
                }
            }
            // `main.rs` reaches the library by its crate name.
            name if self.in_main && name == LIBRARY => (Some(segments[1..].to_vec()), false),
            // `Self::X`, generics and primitive names are no modules.
            "Self" => return,
            _ => (Some(join(&self.current, &segments)), true),
        };
        self.found.push((
            self.current.clone(),
            Found {
                line,
                written,
                absolute,
                plain,
            },
        ));
    }

    fn use_tree(&mut self, prefix: &[String], tree: &syn::UseTree) {
        let with = |name: &syn::Ident| {
            let mut path = prefix.to_vec();
            path.push(name.to_string());
            path
        };
        match tree {
            syn::UseTree::Path(p) => self.use_tree(&with(&p.ident), &p.tree),
            syn::UseTree::Name(n) if n.ident == "self" => {
                self.record(prefix.to_vec(), line_of(&n.ident))
            }
            syn::UseTree::Name(n) => self.record(with(&n.ident), line_of(&n.ident)),
            syn::UseTree::Rename(r) if r.ident == "self" => {
                self.record(prefix.to_vec(), line_of(&r.ident))
            }
            syn::UseTree::Rename(r) => self.record(with(&r.ident), line_of(&r.ident)),
            syn::UseTree::Glob(g) => {
                self.record(prefix.to_vec(), g.star_token.spans[0].start().line)
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    /// Paths inside a macro's or an attribute's tokens, which syn leaves unparsed:
    /// every `crate::…`, `$crate::…`, `self::…` and `super::…` (groups included).
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < tokens.len() {
            if let TokenTree::Group(group) = &tokens[at] {
                self.tokens(group.stream());
                at += 1;
                continue;
            }
            let dollar = matches!(&tokens[at], TokenTree::Punct(p) if p.as_char() == '$');
            let start = at + usize::from(dollar);
            let is_root = matches!(tokens.get(start), Some(TokenTree::Ident(i))
                if i == "crate" || (!dollar && (i == "self" || i == "super")));
            if !is_root || !is_path_separator(&tokens, start + 1) {
                at += 1;
                continue;
            }
            // The longest `a::b::…` (or `a::{…}`) from here, read as a use tree.
            let mut end = start + 1;
            while is_path_separator(&tokens, end) {
                match tokens.get(end + 2) {
                    Some(TokenTree::Ident(_)) => end += 3,
                    Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                        end += 3;
                        break;
                    }
                    Some(TokenTree::Punct(p)) if p.as_char() == '*' => {
                        end += 3;
                        break;
                    }
                    _ => break,
                }
            }
            let stream: TokenStream = tokens[start..end].iter().cloned().collect();
            // `$crate::…` is read as `crate::…`.
            if let Ok(tree) = syn::parse2::<syn::UseTree>(stream) {
                self.use_tree(&[], &tree);
            }
            at = end;
        }
    }
}

fn is_path_separator(tokens: &[TokenTree], at: usize) -> bool {
    matches!(
        (tokens.get(at), tokens.get(at + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
    )
}

fn join(base: &[String], rest: &[String]) -> Vec<String> {
    base.iter().chain(rest).cloned().collect()
}

fn line_of(ident: &syn::Ident) -> usize {
    ident.span().start().line
}

/// `#[path = "…"]` on a `mod` item.
fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        for attr in &item.attrs {
            self.visit_attribute(attr);
        }
        let name = item.ident.to_string();
        let mut module = self.current.clone();
        module.push(name.clone());
        match &item.content {
            None => {
                let attribute = path_attribute(&item.attrs);
                let candidates = match &attribute {
                    // Outside inline modules, relative to the file's folder.
                    Some(path) if self.inline_depth == 0 => vec![self.file_dir.join(path)],
                    Some(path) => vec![self.dir.join(path)],
                    None => vec![
                        self.dir.join(format!("{name}.rs")),
                        self.dir.join(&name).join("mod.rs"),
                    ],
                };
                self.children
                    .push((module, candidates, attribute.is_some()));
            }
            Some((_, items)) => {
                self.inline.push(module.clone());
                let saved = (self.current.clone(), self.dir.clone());
                self.current = module;
                self.dir = self.dir.join(&name);
                self.inline_depth += 1;
                for item in items {
                    self.visit_item(item);
                }
                self.inline_depth -= 1;
                (self.current, self.dir) = saved;
            }
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        for attr in &item.attrs {
            self.visit_attribute(attr);
        }
        // `use ::name` is always another crate.
        if item.leading_colon.is_none() {
            self.use_tree(&[], &item.tree);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = path.segments.first().map_or(0, |s| line_of(&s.ident));
            self.record(segments, line);
        }
        visit::visit_path(self, path);
    }

    /// `pub(crate)`, `pub(super)`, `pub(in crate::x)`: a visibility, not an import.
    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {}

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    fn visit_meta_list(&mut self, list: &'ast syn::MetaList) {
        self.tokens(list.tokens.clone());
        visit::visit_meta_list(self, list);
    }
}

/// The layer of a top-level module: 0 for `main`, larger further down.
fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&top(module)))
}

/// Imports that go up, or sideways within a layer: each with its file and path.
fn layering_violations(analysis: &Analysis) -> Vec<String> {
    let mut broken = Vec::new();
    for import in &analysis.imports {
        let (from, to) = (top(&import.from), top(&import.to));
        if from == to {
            continue;
        }
        match (layer(from), layer(to)) {
            (Some(a), Some(b)) if a < b => {}
            (Some(_), Some(_)) => broken.push(format!("{import}: not a layer below")),
            _ => broken.push(format!("{import}: a module without a layer")),
        }
    }
    broken
}

/// Imports from the domain into the admin, the back office, the web or the frame.
fn domain_violations(analysis: &Analysis) -> Vec<&Import> {
    analysis
        .imports
        .iter()
        .filter(|i| DOMAIN.contains(&top(&i.from)) && !DOMAIN.contains(&top(&i.to)))
        .collect()
}

/// Imports from `db` into anything but itself and the modules below everything.
fn storage_violations(analysis: &Analysis) -> Vec<&Import> {
    let below = LAYERS.last().unwrap();
    analysis
        .imports
        .iter()
        .filter(|i| top(&i.from) == "db" && top(&i.to) != "db" && !below.contains(&top(&i.to)))
        .collect()
}

/// The circles of a graph whose nodes are named by `node`: each group of nodes that reach
/// one another, with the imports between them.
fn circles(analysis: &Analysis, node: impl Fn(&str) -> String) -> Vec<String> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for import in &analysis.imports {
        let (from, to) = (node(&import.from), node(&import.to));
        if from != to {
            edges.entry(from).or_default().insert(to);
        }
    }
    let reach = |start: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(at) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<String, BTreeSet<String>> =
        edges.keys().map(|n| (n.clone(), reach(n))).collect();
    let mut groups: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for (start, seen) in &reaches {
        let group: BTreeSet<String> = seen
            .iter()
            .filter(|other| reaches.get(*other).is_some_and(|r| r.contains(start)))
            .cloned()
            .chain([start.clone()])
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups
        .into_iter()
        .map(|group| {
            // The shortest way from the group's first member back to it, breadth first.
            let start = group.first().unwrap().clone();
            let mut came_from: BTreeMap<String, String> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start.clone()]);
            'search: while let Some(at) = queue.pop_front() {
                for next in edges.get(&at).into_iter().flatten() {
                    if !group.contains(next) || came_from.contains_key(next) {
                        continue;
                    }
                    came_from.insert(next.clone(), at.clone());
                    if *next == start {
                        break 'search;
                    }
                    queue.push_back(next.clone());
                }
            }
            let mut cycle = vec![start.clone()];
            let mut at = came_from[&start].clone();
            while at != start {
                cycle.push(at.clone());
                at = came_from[&at].clone();
            }
            cycle.push(start.clone());
            cycle.reverse();
            // One import for each step.
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|step| {
                    let import = analysis
                        .imports
                        .iter()
                        .find(|i| node(&i.from) == step[0] && node(&i.to) == step[1])
                        .unwrap();
                    format!("    {import}")
                })
                .collect();
            format!(
                "{} (the circle of {}):\n{}",
                cycle.join(" -> "),
                group.into_iter().collect::<Vec<_>>().join(", "),
                steps.join("\n")
            )
        })
        .collect()
}

fn module_circles(analysis: &Analysis) -> Vec<String> {
    circles(analysis, |m| top(m).to_string())
}

/// Between files; a module and the modules inside it are one (a `mod.rs` that re-exports
/// its children, children that use their parent's items).
fn file_circles(analysis: &Analysis) -> Vec<String> {
    let outside = Analysis {
        imports: analysis
            .imports
            .iter()
            .filter(|i| !within(&i.from, &i.to) && !within(&i.to, &i.from))
            .cloned()
            .collect(),
        ..Analysis::default()
    };
    circles(&outside, str::to_string)
}

/// Whether `inner` is `outer` or inside it.
fn within(inner: &str, outer: &str) -> bool {
    outer == "lib" || inner == outer || inner.starts_with(&format!("{outer}::"))
}

/// The crate's sources: every file under `src/`, by its name from the crate's folder.
fn sources() -> BTreeMap<String, String> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = BTreeMap::new();
    let mut pending = vec![crate_dir.join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.strip_prefix(crate_dir).unwrap();
                let name = name.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>();
                found.insert(name.join("/"), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    found
}

fn crate_analysis() -> Analysis {
    let analysis = analyse(&sources());
    assert!(
        analysis.problems.is_empty(),
        "the sources could not all be read: {:#?}",
        analysis.problems
    );
    analysis
}

fn assert_none(what: &str, found: Vec<impl std::fmt::Display>) {
    let found: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let analysis = crate_analysis();
    let tops: BTreeSet<&str> = analysis.modules.iter().map(|m| top(m)).collect();
    let missing: Vec<&&str> = tops.iter().filter(|m| layer(m).is_none()).collect();
    assert!(missing.is_empty(), "modules without a layer: {missing:?}");
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            tops.contains(module),
            "`{module}` has a layer but no source"
        );
    }
}

#[test]
fn each_module_imports_only_the_layers_below_it() {
    assert_none(
        "imports against the layering",
        layering_violations(&crate_analysis()),
    );
}

#[test]
fn the_domain_imports_neither_the_admin_nor_the_back_office_nor_the_web() {
    assert_none("upward imports", domain_violations(&crate_analysis()));
}

#[test]
fn storage_imports_nothing_above_it() {
    assert_none("db imports", storage_violations(&crate_analysis()));
}

#[test]
fn no_two_top_level_modules_reach_each_other() {
    assert_none("circles between modules", module_circles(&crate_analysis()));
}

#[test]
fn no_two_files_reach_each_other() {
    assert_none("circles between files", file_circles(&crate_analysis()));
}

/// The analysis on small sources: it must catch what it claims to.
mod self_test {
    use super::*;

    const ROOT: &str = "pub mod admin; pub mod auth; pub mod backoffice; pub mod badges; \
                        pub mod badging; pub mod config; pub mod db; pub mod learners; \
                        pub mod web;";

    /// A crate of `ROOT` and the given files; every module not given is empty.
    fn analysis_of(files: &[(&str, &str)]) -> Analysis {
        let mut sources: BTreeMap<String, String> = [
            ("src/lib.rs", ROOT),
            ("src/admin/mod.rs", "pub struct AdminSite;"),
            ("src/auth.rs", ""),
            ("src/backoffice/mod.rs", "pub fn site() {}"),
            ("src/badges/mod.rs", "pub mod images;"),
            ("src/badges/images.rs", ""),
            ("src/badging/mod.rs", "pub mod badgr;"),
            ("src/badging/badgr/mod.rs", "pub mod v1;"),
            ("src/badging/badgr/v1.rs", ""),
            ("src/config.rs", ""),
            ("src/db/mod.rs", "pub mod schema;"),
            ("src/db/schema.rs", ""),
            ("src/learners/mod.rs", "pub mod enrollments;"),
            ("src/learners/enrollments.rs", ""),
            ("src/web/mod.rs", "pub struct AppState;"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (file, text) in files {
            sources.insert(file.to_string(), text.to_string());
        }
        let analysis = analyse(&sources);
        assert!(analysis.problems.is_empty(), "{:#?}", analysis.problems);
        analysis
    }

    /// The domain's imports of the layers above it, as `file:line path`.
    fn upward(files: &[(&str, &str)]) -> Vec<String> {
        let analysis = analysis_of(files);
        let found: Vec<String> = domain_violations(&analysis)
            .iter()
            .map(|i| format!("{}:{} {}", i.file, i.line, i.path))
            .collect();
        // The layering says the same.
        assert_eq!(layering_violations(&analysis).len(), found.len());
        found
    }

    #[test]
    fn a_group_import_is_seen_member_by_member() {
        let found = upward(&[(
            "src/badges/images.rs",
            "use crate::{db::schema, web::AppState};",
        )]);
        assert_eq!(found, ["src/badges/images.rs:1 crate::web::AppState"]);
    }

    #[test]
    fn a_group_over_lines_is_seen_line_by_line() {
        let found = upward(&[(
            "src/learners/enrollments.rs",
            "use crate::{\n    admin::AdminSite,\n    backoffice::site,\n};\n",
        )]);
        assert_eq!(
            found,
            [
                "src/learners/enrollments.rs:2 crate::admin::AdminSite",
                "src/learners/enrollments.rs:3 crate::backoffice::site",
            ]
        );
    }

    #[test]
    fn nested_groups_renames_and_globs_are_seen() {
        let found = upward(&[(
            "src/badges/images.rs",
            "use crate::{db::{self, schema::*}, web::{AppState as S, self as w}, admin::*};",
        )]);
        assert_eq!(
            found,
            [
                "src/badges/images.rs:1 crate::web::AppState",
                "src/badges/images.rs:1 crate::web",
                "src/badges/images.rs:1 crate::admin",
            ]
        );
    }

    #[test]
    fn super_climbs_one_module_each() {
        let found = upward(&[(
            "src/badging/badgr/v1.rs",
            "use super::super::super::web::AppState;\nuse super::super::Something;\n",
        )]);
        assert_eq!(
            found,
            ["src/badging/badgr/v1.rs:1 super::super::super::web::AppState"]
        );
        let analysis = analysis_of(&[("src/badging/badgr/v1.rs", "use super::super::Something;")]);
        assert_eq!(analysis.imports[0].to, "badging");
    }

    #[test]
    fn climbing_above_the_crate_is_reported() {
        let mut sources: BTreeMap<String, String> = BTreeMap::new();
        sources.insert("src/lib.rs".into(), "pub mod a;".into());
        sources.insert("src/a.rs".into(), "use super::super::x;".into());
        let problems = analyse(&sources).problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn paths_in_function_bodies_types_and_macros_are_seen() {
        let found = upward(&[(
            "src/badges/images.rs",
            "fn f() {\n    use crate::admin::AdminSite;\n    let _ = crate::backoffice::site();\n}\n\
             fn g(_: &crate::web::AppState) {}\n\
             fn h() { println!(\"{:?}\", self::super::super::config::X); }\n",
        )]);
        assert_eq!(
            found,
            [
                "src/badges/images.rs:2 crate::admin::AdminSite",
                "src/badges/images.rs:3 crate::backoffice::site",
                "src/badges/images.rs:5 crate::web::AppState",
                "src/badges/images.rs:6 self::super::super::config::X",
            ]
        );
    }

    #[test]
    fn inline_modules_and_child_modules_resolve_from_where_they_are() {
        let analysis = analysis_of(&[
            (
                "src/badges/mod.rs",
                "pub mod images;\nmod inner {\n    use super::super::web::AppState;\n}\n\
                 #[path = \"elsewhere.rs\"]\nmod moved;\nfn f() { images::g(); }\n",
            ),
            ("src/badges/elsewhere.rs", "use super::super::db::schema;"),
        ]);
        let found: Vec<(String, String)> = analysis
            .imports
            .iter()
            .map(|i| (i.from.clone(), i.to.clone()))
            .collect();
        assert_eq!(
            found,
            [
                ("badges".into(), "web".into()),
                ("badges".into(), "badges::images".into()),
                ("badges::moved".into(), "db::schema".into()),
            ]
        );
    }

    #[test]
    fn storage_that_imports_above_it_fails() {
        let analysis = analysis_of(&[("src/db/mod.rs", "pub mod schema;\nuse crate::auth::x;")]);
        assert_eq!(storage_violations(&analysis).len(), 1);
        assert_eq!(layering_violations(&analysis).len(), 1);
    }

    #[test]
    fn a_circle_of_two_modules_fails() {
        let analysis = analysis_of(&[
            ("src/auth.rs", "use crate::config::ThrottleConfig;"),
            (
                "src/config.rs",
                "pub struct C { s: crate::auth::SessionPolicy }",
            ),
        ]);
        let found = module_circles(&analysis);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("auth -> config -> auth"), "{found:?}");
        assert!(
            found[0].contains("src/auth.rs:1: auth imports config"),
            "{found:?}"
        );
        assert!(
            found[0].contains("src/config.rs:1: config imports auth"),
            "{found:?}"
        );
        assert_eq!(file_circles(&analysis).len(), 1);
        assert_eq!(
            layering_violations(&analysis).len(),
            1,
            "auth is below config"
        );
    }

    #[test]
    fn a_circle_through_a_third_module_fails() {
        let analysis = analysis_of(&[
            ("src/auth.rs", "use crate::config::X;"),
            ("src/config.rs", "use crate::web::Y;"),
            ("src/web/mod.rs", "pub struct AppState; use crate::auth::Z;"),
        ]);
        let found = module_circles(&analysis);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("auth -> config -> web -> auth"),
            "{found:?}"
        );
    }

    #[test]
    fn a_circle_between_files_of_one_module_fails() {
        let analysis = analysis_of(&[
            ("src/badging/mod.rs", "pub mod badgr; pub mod jobs;"),
            ("src/badging/jobs.rs", "use super::badgr::v1::X;"),
            ("src/badging/badgr/v1.rs", "use crate::badging::jobs::Y;"),
        ]);
        assert!(module_circles(&analysis).is_empty());
        let found = file_circles(&analysis);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("badging::badgr::v1 -> badging::jobs -> badging::badgr::v1"),
            "{found:?}"
        );
    }

    #[test]
    fn strings_comments_and_other_crates_are_not_imports() {
        let analysis = analysis_of(&[(
            "src/badges/images.rs",
            "//! Unlike `crate::web::AppState`, this module\n\
             // use crate::web::AppState;\n\
             /* use crate::admin::AdminSite; */\n\
             /// See crate::backoffice::site.\n\
             const HINT: &str = \"use crate::{web::AppState, admin::AdminSite};\";\n\
             use actix_web::web::Data;\n\
             use web::Json;\n\
             fn f() -> String { format!(\"crate::web::{}\", HINT) }\n\
             fn g() { let _ = ::web::x(); }\n",
        )]);
        assert!(analysis.imports.is_empty(), "{:#?}", analysis.imports);
    }

    #[test]
    fn a_file_no_mod_reaches_is_reported() {
        let mut sources: BTreeMap<String, String> = BTreeMap::new();
        sources.insert("src/lib.rs".into(), "pub mod a;".into());
        sources.insert("src/a.rs".into(), String::new());
        sources.insert("src/stray.rs".into(), "use crate::web::X;".into());
        let problems = analyse(&sources).problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("src/stray.rs"), "{problems:?}");
    }
}
