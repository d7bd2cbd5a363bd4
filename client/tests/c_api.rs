//! The C API: the committed header is what cbindgen makes, and a C program
//! compiled with warnings as errors fetches, caches and parses a directory
//! from real mirror processes.

mod common;

use common::{dead_mirror, Mirror, Network};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::UNIX_EPOCH;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate_header() -> String {
    let config =
        cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("client/cbindgen.toml");
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
    let path = root().join("include/mixmailer_client.h");
    if std::env::var_os("MIXMAILER_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let fresh = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mixmailer_client.h");
        std::fs::write(&fresh, &generated).unwrap();
        panic!(
            "client/include/mixmailer_client.h is stale.\n\
             See the difference with: diff -u client/include/mixmailer_client.h {}\n\
             Regenerate it with: MIXMAILER_BLESS=1 cargo test -p mixmailer-client --test c_api",
            fresh.display()
        );
    }
}

const WARNINGS: &[&str] = &[
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
];
/// What Rust's standard library needs from the system in a static link.
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// libmixmailer_client.a built from this source: `cargo test` builds every
/// crate type next to the test executable; else build it into our own target dir.
fn static_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let lib = deps.join("libmixmailer_client.a");
    if lib.exists() {
        return lib;
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-c-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "mixmailer-client", "--lib", "--target-dir"])
        .arg(&target)
        .current_dir(root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build failed");
    target.join("debug/libmixmailer_client.a")
}

fn check(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn compile(dir: &Path) -> PathBuf {
    let program = dir.join("fetch");
    let output = Command::new("cc")
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("../include"))
        .arg(root().join("tests/c/fetch.c"))
        .arg(static_library())
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(&program)
        .output()
        .expect("run cc");
    check("compiling tests/c/fetch.c", &output);
    program
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_c_program_fetches_from_the_second_mirror_then_uses_its_cache() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let program = compile(dir.path());
    let mirror = Mirror::start(&dir.path().join("mirror"));
    let document = net.document(std::time::Duration::from_secs(3600));
    mirror.serve(&document);
    let cache = dir.path().join("directory");
    let now = net.now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let key = hex(&net.trusted()[0]);
    let run = |source: u32, mirrors: &[&str]| {
        Command::new(&program)
            .arg(&cache)
            .arg(now.to_string())
            .arg(&key)
            .arg(source.to_string())
            .args(mirrors)
            .output()
            .expect("run the C program")
    };

    let dead = dead_mirror();
    let fetched = run(1, &[&dead, &mirror.url]);
    check("fetch through the second mirror", &fetched);
    assert!(String::from_utf8_lossy(&fetched.stdout).contains("3 nodes"));
    assert_eq!(std::fs::read(&cache).unwrap(), document);

    drop(mirror);
    let cached = run(0, &[&dead]);
    check("second call, not yet due", &cached);
}
