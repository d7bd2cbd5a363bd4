//! What `cargo cinstall` (cargo-c) needs from the manifest, checked on every
//! test run: building cargo-c itself takes about 14 minutes here, so the
//! install is exercised by hand (docs/c-api.md), and this test keeps the
//! manifest from drifting away from what made it work.

use std::path::Path;
use toml::{Table, Value};

fn manifest() -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    text.parse::<Table>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `manifest[a][b]...`, or a message naming the missing key.
fn at<'a>(table: &'a Table, path: &[&str]) -> &'a Value {
    let (last, parents) = path.split_last().unwrap();
    let mut here = table;
    for (i, key) in parents.iter().enumerate() {
        here = here
            .get(*key)
            .and_then(Value::as_table)
            .unwrap_or_else(|| panic!("Cargo.toml has no [{}]", path[..=i].join(".")));
    }
    here.get(*last)
        .unwrap_or_else(|| panic!("Cargo.toml has no {}", path.join(".")))
}

fn str_at<'a>(table: &'a Table, path: &[&str]) -> &'a str {
    at(table, path)
        .as_str()
        .unwrap_or_else(|| panic!("{} is not a string", path.join(".")))
}

#[test]
fn the_capi_feature_exists_and_adds_nothing() {
    // cargo-c builds with `--features capi` and stops with "the package
    // 'mixmailer' does not contain this feature: capi" without it.
    let manifest = manifest();
    let capi = at(&manifest, &["features", "capi"]).as_array().unwrap();
    assert!(capi.is_empty(), "capi only marks a cargo-c build: {capi:?}");
}

#[test]
fn the_library_is_built_static_and_shared() {
    let manifest = manifest();
    let types: Vec<&str> = at(&manifest, &["lib", "crate-type"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for needed in ["staticlib", "cdylib", "lib"] {
        assert!(
            types.contains(&needed),
            "crate-type lacks {needed}: {types:?}"
        );
    }
}

#[test]
fn the_installed_header_is_the_committed_one() {
    let manifest = manifest();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = str_at(
        &manifest,
        &["package", "metadata", "capi", "header", "name"],
    );
    assert_eq!(name, "mixmailer");
    assert!(
        root.join("include").join(format!("{name}.h")).is_file(),
        "cargo-c installs {name}.h, which must be the committed include/{name}.h"
    );
    // cargo-c generates the header with the crate's cbindgen.toml, the file
    // tests/c_api.rs generates include/mixmailer.h with.
    assert!(root.join("cbindgen.toml").is_file());
    // Installed as <prefix>/include/mixmailer.h, where examples/c includes it from.
    assert_eq!(
        at(
            &manifest,
            &["package", "metadata", "capi", "header", "subdirectory"]
        )
        .as_bool(),
        Some(false)
    );
}

#[test]
fn library_and_pkg_config_names_match_the_c_example() {
    let manifest = manifest();
    assert_eq!(
        str_at(
            &manifest,
            &["package", "metadata", "capi", "library", "name"]
        ),
        "mixmailer"
    );
    assert_eq!(
        str_at(
            &manifest,
            &["package", "metadata", "capi", "pkg_config", "name"]
        ),
        "mixmailer"
    );
    assert_eq!(
        str_at(
            &manifest,
            &["package", "metadata", "capi", "pkg_config", "filename"]
        ),
        "mixmailer"
    );
    // examples/c builds with `pkg-config --cflags --libs mixmailer`.
    let makefile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/c/Makefile"))
            .unwrap();
    assert!(makefile.contains("pkg-config") && makefile.contains("mixmailer"));
}

#[test]
fn the_sample_keys_stay_out_of_the_c_library() {
    // cargo-c builds with `capi` and the default features only: `sample`
    // (keys made from a known seed) must be neither default nor implied.
    let manifest = manifest();
    let features = at(&manifest, &["features"]).as_table().unwrap();
    let default: Vec<&str> = features
        .get("default")
        .and_then(Value::as_array)
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        !default.contains(&"sample"),
        "default features: {default:?}"
    );
}
