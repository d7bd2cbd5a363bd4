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

// ---------------------------------------------------------------------------
// C programs: compiled with warnings as errors and sanitizers, run, and their
// carrier emails delivered by Rust mix nodes.

mod common;

use mixmailer::message::Mailbox;
use mixmailer::node::Outcome;
use mixmailer::sample::SampleNetwork;
use mixmailer::{mix_wrap_with, Directory, MixNode, WrapOptions};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

const WARNINGS: &[&str] = &[
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
];
const SANITIZERS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];
/// What Rust's standard library needs from the system in a static link
/// (`--print native-static-libs`).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];
const FROM: &str = "alice@example.org";

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("c_api")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The directory holding libmixmailer.a and .so built from this very source:
/// `cargo test` builds every crate type of the library next to this test's
/// executable; if they are missing, build them into a target dir of our own
/// (not the one cargo holds locked while tests run).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    if deps.join("libmixmailer.a").exists() && deps.join("libmixmailer.so").exists() {
        return deps;
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-api-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--lib", "--target-dir"])
        .arg(&target)
        .current_dir(root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --lib failed");
    target.join("debug")
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    output
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

/// Fails (never skips) when the sanitizer runtimes are missing.
fn require_sanitizers(dir: &Path) {
    let probe = dir.join("probe.c");
    std::fs::write(&probe, "int main(void) { return 0; }\n").unwrap();
    let output = run(Command::new("cc")
        .args(SANITIZERS)
        .arg(&probe)
        .arg("-o")
        .arg(dir.join("probe")));
    assert!(
        output.status.success(),
        "cc cannot build with AddressSanitizer/UBSan; install them with \
         `apt-get install gcc libasan8 libubsan1`:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Fails (never skips) when valgrind is missing.
fn require_valgrind() {
    let found = Command::new("valgrind").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "valgrind is needed to check the C API for leaks; install it with `apt-get install valgrind`"
    );
}

/// Compiles `source` against the static library, with `extra` flags.
fn compile_static(source: &str, out: &Path, extra: &[&str]) {
    let lib = library_dir().join("libmixmailer.a");
    let output = run(Command::new("cc")
        .args(WARNINGS)
        .args(extra)
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join(source))
        .arg(&lib)
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(out));
    check(&format!("compiling {source}"), &output);
}

fn sanitizer_env(command: &mut Command) -> &mut Command {
    command
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:halt_on_error=1",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
}

/// The sample network and its files, as a C client would have them.
struct Fixture {
    net: SampleNetwork,
    dir: PathBuf,
    now: u64,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let net = common::network(3, 2048);
        let dir = scratch(name);
        std::fs::write(dir.join("directory.txt"), &net.directory_text).unwrap();
        std::fs::write(dir.join("authority.key"), net.authority.public_key()).unwrap();
        std::fs::write(dir.join("nodes.key"), node_key_file(&net)).unwrap();
        std::fs::write(dir.join("message.eml"), message()).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let now = net.now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        Fixture { net, dir, now }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn time(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(self.now)
    }

    fn directory(&self) -> Directory {
        self.net.directory().unwrap()
    }

    /// Arguments of tests/c/c_api_test.c.
    fn c_test_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            self.path("directory.txt").into(),
            self.path("authority.key").into(),
            self.path("nodes.key").into(),
            self.now.to_string().into(),
            self.path("message.eml").into(),
            self.path("out").into(),
        ];
        let directory = self.directory();
        for layer in 1..=directory.params().hops {
            let node = directory
                .nodes()
                .iter()
                .find(|n| n.layer() == layer)
                .unwrap();
            args.push(node.nickname().into());
        }
        args
    }

    /// The carrier-NNN.eml files a C program wrote, in order.
    fn carriers(&self) -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.path("out"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("carrier-")
            })
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Delivers carriers through Rust mix nodes at the network's time.
    /// The message comes without a Date (the exit adds it when it submits).
    fn deliver(&self, carriers: &[Vec<u8>]) -> (Vec<String>, Vec<u8>) {
        let directory = self.directory();
        let mut nodes: Vec<MixNode> = (0..self.net.node_identities.len())
            .map(|i| MixNode::new(self.net.keys_of(i).unwrap(), directory.clone()).unwrap())
            .collect();
        let mut delivered = Vec::new();
        for carrier in carriers {
            let mut to = header_field(carrier, "To").expect("carrier has a To field");
            let mut carrier = carrier.clone();
            loop {
                let node = nodes
                    .iter_mut()
                    .find(|n| n.entry().address() == to)
                    .unwrap_or_else(|| panic!("no node has the address {to}"));
                match node.process(&carrier, self.time()).unwrap() {
                    Outcome::Forward { onion, .. } => {
                        let own = Mailbox::parse(node.entry().address()).unwrap();
                        carrier = onion.to_email(&own);
                        to = onion.first_hop().to_owned();
                    }
                    Outcome::Deliver {
                        recipients,
                        message,
                        ..
                    } => {
                        delivered.push((recipients, message));
                        break;
                    }
                    _ => break,
                }
            }
        }
        assert_eq!(delivered.len(), 1, "exactly one delivery");
        delivered.remove(0)
    }

    /// What the Rust API delivers for the same message through `exit`
    /// (which writes its own address into From), with its Message-ID.
    fn rust_delivery(&self, exit: &str) -> (Vec<String>, Vec<u8>) {
        let directory = self.directory();
        let hops = directory.params().hops;
        let names: Vec<&str> = (1..=hops)
            .map(|layer| {
                let node = directory
                    .nodes()
                    .iter()
                    .find(|n| n.layer() == layer && (layer < hops || n.address() == exit))
                    .unwrap_or_else(|| panic!("no node for layer {layer} with exit {exit}"));
                node.nickname()
            })
            .collect();
        let route = directory.route(&names).unwrap();
        let from = Mailbox::parse(FROM).unwrap();
        let wrapped = mix_wrap_with(
            &message(),
            &route,
            &WrapOptions::default(),
            self.time(),
            &mut rand::rng(),
        )
        .unwrap();
        let carriers: Vec<Vec<u8>> = wrapped
            .onions()
            .iter()
            .map(|onion| onion.to_email(&from))
            .collect();
        let delivered = self.deliver(&carriers);
        assert_eq!(
            header_field(&delivered.1, "Message-ID").as_deref(),
            Some(wrapped.message_id())
        );
        delivered
    }

    /// Asserts that `delivered` is what the Rust API delivers for the same
    /// message, and that its Message-ID is the one the C program was told
    /// (`mixmailer_onion_list_message_id`, saved by tests/c/c_api_test.c
    /// in out/message-id.txt, by examples/c/send.c as its sent copy's
    /// `Message-ID:` in out/sent-copy.txt). Each wrap draws a fresh
    /// Message-ID, so that field alone may differ from the Rust delivery.
    fn assert_like_rust(&self, delivered: (Vec<String>, Vec<u8>)) {
        let told = std::fs::read_to_string(self.path("out/message-id.txt"))
            .or_else(|_| std::fs::read_to_string(self.path("out/sent-copy.txt")))
            .expect("the C program saved the Message-ID");
        let told = told.trim_start_matches("Message-ID: ").trim_end();
        assert_eq!(
            header_field(&delivered.1, "Message-ID").as_deref(),
            Some(told),
            "the delivered Message-ID is the one the sender was told"
        );
        // The exit puts its own address into From (SPEC 6): compare with a
        // Rust delivery through the same exit.
        let from = header_field(&delivered.1, "From").expect("a From field");
        let directory = self.directory();
        let exit = directory
            .nodes()
            .iter()
            .find(|n| from.contains(&format!("<{}>", n.address())))
            .unwrap_or_else(|| panic!("From {from:?} names no exit"));
        let expected = self.rust_delivery(exit.address());
        assert_eq!(
            (delivered.0, without_message_id(&delivered.1)),
            (expected.0, without_message_id(&expected.1))
        );
    }
}

/// The node key file of tests/c/c_api_test.c: per node in directory order,
/// its identity (32 bytes), the number of its period keys (u64, little
/// endian), their periods (u64 each, little endian), then their X25519
/// secret keys (32 bytes each).
fn node_key_file(net: &SampleNetwork) -> Vec<u8> {
    let mut file = Vec::new();
    for (identity, keys) in net.node_identities.iter().zip(&net.node_keys) {
        file.extend_from_slice(&identity.public_key());
        file.extend_from_slice(&(keys.len() as u64).to_le_bytes());
        for (period, _) in keys {
            file.extend_from_slice(&period.to_le_bytes());
        }
        for (_, key) in keys {
            file.extend_from_slice(&*key.to_bytes());
        }
    }
    file
}

/// `message` with its Message-ID field removed.
fn without_message_id(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let (header, body) = text.split_once("\r\n\r\n").expect("header and body");
    let kept: Vec<&str> = header
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("message-id:"))
        .collect();
    format!("{}\r\n\r\n{body}", kept.join("\r\n")).into_bytes()
}

fn message() -> Vec<u8> {
    common::pep_message("Hello Bob,\r\nthis went through C and the mixnet.\r\n")
}

fn header_field(email: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(email);
    text.split("\r\n")
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
}

fn send_args(fixture: &Fixture) -> Vec<std::ffi::OsString> {
    vec![
        fixture.path("directory.txt").into(),
        fixture.path("authority.key").into(),
        fixture.now.to_string().into(),
        fixture.path("message.eml").into(),
        FROM.into(),
        fixture.path("out").into(),
    ]
}

#[test]
fn c_example_sends_what_rust_nodes_deliver_like_the_rust_api() {
    let fixture = Fixture::new("send");
    require_sanitizers(&fixture.dir);
    let program = fixture.path("send");
    compile_static("examples/c/send.c", &program, SANITIZERS);
    let output = run(sanitizer_env(&mut Command::new(&program)).args(send_args(&fixture)));
    check("examples/c/send.c", &output);

    let carriers = fixture.carriers();
    assert!(!carriers.is_empty());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("MAIL FROM:"))
            .count(),
        carriers.len(),
        "one SMTP line per carrier:\n{stdout}"
    );
    for carrier in &carriers {
        assert_eq!(header_field(carrier, "From").as_deref(), Some(FROM));
    }
    fixture.assert_like_rust(fixture.deliver(&carriers));
    assert!(
        stdout.contains("Sent copy stored under Message-ID <"),
        "send.c says where the sent copy goes:\n{stdout}"
    );
}

#[test]
fn c_example_links_against_the_shared_library() {
    let fixture = Fixture::new("send-shared");
    let program = fixture.path("send-shared");
    let libs = library_dir();
    let output = run(Command::new("cc")
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("examples/c/send.c"))
        .arg("-L")
        .arg(&libs)
        .arg("-lmixmailer")
        .arg("-o")
        .arg(&program));
    check("linking examples/c/send.c with -lmixmailer", &output);
    let output = run(Command::new(&program)
        .env("LD_LIBRARY_PATH", &libs)
        .args(send_args(&fixture)));
    check("send linked with libmixmailer.so", &output);
    fixture.assert_like_rust(fixture.deliver(&fixture.carriers()));
}

#[test]
fn c_test_program_passes_under_sanitizers_and_matches_the_rust_api() {
    let fixture = Fixture::new("c-test-asan");
    require_sanitizers(&fixture.dir);
    let program = fixture.path("c_api_test");
    compile_static("tests/c/c_api_test.c", &program, SANITIZERS);
    let output = run(sanitizer_env(&mut Command::new(&program)).args(fixture.c_test_args()));
    check("tests/c/c_api_test.c under ASan/UBSan", &output);

    // The carriers the C program wrapped, delivered by Rust nodes...
    let by_rust = fixture.deliver(&fixture.carriers());
    fixture.assert_like_rust(by_rust.clone());
    // ...and what the C nodes delivered: the same message, Message-ID included.
    let delivered = std::fs::read(fixture.path("out/delivered.eml")).unwrap();
    let recipients = std::fs::read_to_string(fixture.path("out/recipients.txt")).unwrap();
    let recipients: Vec<String> = recipients.lines().map(str::to_owned).collect();
    assert_eq!((recipients, delivered.clone()), by_rust);
    // The exit dates it only when it submits it (mixmailer_add_date).
    assert_eq!(header_field(&delivered, "Date"), None);
    let dated = std::fs::read(fixture.path("out/dated.eml")).unwrap();
    assert_eq!(
        header_field(&dated, "Date").as_deref(),
        Some("Fri, 02 Jan 2026 00:00:00 +0000")
    );
    assert_eq!(&dated[dated.len() - delivered.len()..], &delivered[..]);
}

#[test]
fn c_test_program_is_clean_under_valgrind() {
    require_valgrind();
    let fixture = Fixture::new("c-test-valgrind");
    let program = fixture.path("c_api_test");
    compile_static("tests/c/c_api_test.c", &program, &[]);
    let output = run(Command::new("valgrind")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--quiet",
        ])
        .arg(&program)
        .args(fixture.c_test_args()));
    check("tests/c/c_api_test.c under valgrind", &output);
    fixture.assert_like_rust(fixture.deliver(&fixture.carriers()));
}

/// Installs header, one kind of library and mixmailer.pc (from
/// mixmailer.pc.in, as docs/c-api.md says) under `prefix`.
fn install(prefix: &Path, library: &str) {
    let lib = prefix.join("lib");
    std::fs::create_dir_all(lib.join("pkgconfig")).unwrap();
    std::fs::create_dir_all(prefix.join("include")).unwrap();
    std::fs::copy(
        root().join("include/mixmailer.h"),
        prefix.join("include/mixmailer.h"),
    )
    .unwrap();
    std::fs::copy(library_dir().join(library), lib.join(library)).unwrap();
    let template = std::fs::read_to_string(root().join("mixmailer.pc.in")).unwrap();
    let pc = template
        .replace("@PREFIX@", prefix.to_str().unwrap())
        .replace("@LIBDIR@", lib.to_str().unwrap())
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    let unfilled = pc
        .lines()
        .filter(|line| !line.starts_with('#'))
        .any(|line| line.matches('@').count() >= 2);
    assert!(
        !unfilled,
        "unfilled template value in mixmailer.pc.in:\n{pc}"
    );
    std::fs::write(lib.join("pkgconfig/mixmailer.pc"), pc).unwrap();
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let output = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .args(args)
        .arg("mixmailer")
        .output();
    let output = output.unwrap_or_else(|e| {
        panic!("pkg-config is needed for this test; install it with `apt-get install pkgconf`: {e}")
    });
    check("pkg-config", &output);
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn installed_library_links_through_pkg_config_static_and_shared() {
    let fixture = Fixture::new("pkg-config");
    for (library, flags) in [
        ("libmixmailer.a", &["--static", "--cflags", "--libs"][..]),
        ("libmixmailer.so", &["--cflags", "--libs"][..]),
    ] {
        let prefix = fixture.path(&format!("prefix-{library}"));
        install(&prefix, library);
        assert_eq!(
            pkg_config(&prefix, &["--modversion"]),
            [env!("CARGO_PKG_VERSION")]
        );
        let program = fixture.path(&format!("send-{library}"));
        let output = run(Command::new("cc")
            .args(WARNINGS)
            .arg(root().join("examples/c/send.c"))
            .args(pkg_config(&prefix, flags))
            .arg("-o")
            .arg(&program));
        check(
            &format!("cc send.c $(pkg-config {flags:?} mixmailer)"),
            &output,
        );
        let out = fixture.path("out");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        let output = run(Command::new(&program)
            .env("LD_LIBRARY_PATH", prefix.join("lib"))
            .args(send_args(&fixture)));
        check(&format!("send linked with {library}"), &output);
        fixture.assert_like_rust(fixture.deliver(&fixture.carriers()));
    }
}
