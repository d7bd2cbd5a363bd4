//! The library's modules form layers (README, issue 12): each may use only
//! modules of lower layers, so that, say, the Sphinx code knows nothing of
//! directories or routes and the signed directory holds no sender-side
//! cache. This reads every `crate::<module>` path in the sources (comments
//! excluded) and fails on any that points up or sideways.

use std::path::Path;

/// Bottom first. Modules of one layer may not use each other.
const LAYERS: &[&[&str]] = &[
    &["time", "keys", "period", "delay"],
    &["sphinx", "message"],
    &["carrier"],
    &["directory"],
    &["descriptor"],
    &["route"],
    &["wrap"],
    &["node"],
    &["sample"],
    &["ffi"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            sources(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// The modules a source file names as `crate::<module>`, outside comments.
fn uses(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn no_module_uses_one_of_its_own_or_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for module in LAYERS.iter().flat_map(|layer| layer.iter()) {
        let own = layer_of(module).unwrap();
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        sources(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources for module {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in uses(&text) {
                if used == *module {
                    continue;
                }
                match layer_of(&used) {
                    Some(layer) if layer < own => {}
                    // The crate-wide error wraps every module's error; it
                    // is used by the layers that return it.
                    None if used == "error" || used == "Error" => {}
                    _ => broken.push(format!("{} uses crate::{used}", file.display())),
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_use() {
    assert_eq!(
        uses("use crate::route::Route; // crate::wrap in a comment"),
        ["route"]
    );
}
