//! The `mixmailer-node` command line.

use clap::{Args, Parser, Subcommand};
use mixmailer::descriptor::Role;
use mixmailer::keys::{AuthoritySigningKey, NodeIdentityKey};
use mixmailer::Directory;
use mixmailer_node::config::Config;
use mixmailer_node::directory_file::{summary, DirectorySource};
use mixmailer_node::keyfile::{decode_public, encode_public, read_secret, write_secret};
use mixmailer_node::receive::{deliver_to_daemon, read_bounded, ReceiveResult, EX_TEMPFAIL};
use mixmailer_node::submit::Sendmail;
use mixmailer_node::{atomic_file, daemon, descriptor, send, status};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// A MixMailer mix node behind a real MTA (Postfix).
#[derive(Parser)]
#[command(name = "mixmailer-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a key file (mode 0600, never overwriting) and print its public key.
    Keygen {
        #[command(subcommand)]
        kind: KeyKind,
    },
    /// Sign or verify a directory.
    Directory {
        #[command(subcommand)]
        action: DirectoryAction,
    },
    /// Run the node daemon (until SIGTERM; SIGHUP re-reads the directory).
    Run {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Hand one carrier email (stdin) to the daemon; for the MTA's pipe transport.
    /// Exits 0 once the result is stored, 75 (EX_TEMPFAIL) when the MTA must retry.
    Receive {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Show the spool: packets waiting, next release, held fragments, replay tags.
    Status {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write this node's signed descriptor (SPEC 7) for the directory
    /// authorities: identity, address, role and the public keys of its key
    /// periods (from the key directory; keys still missing are made now).
    Descriptor(DescriptorArgs),
    /// Wrap a message (file or stdin) as a pEp client would and submit its
    /// carriers to the first hop through the local MTA (for testing a network).
    Send(SendArgs),
}

#[derive(Subcommand)]
enum KeyKind {
    /// A mix node's Ed25519 identity key (its period keys are made by the
    /// daemon and by `descriptor`).
    Node {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// A directory authority's Ed25519 signing key.
    Authority {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct TrustArgs {
    /// A trusted authority public key (base64); repeat for several.
    #[arg(long = "trusted", required = true)]
    trusted: Vec<String>,
    /// How many trusted authorities must have signed.
    #[arg(long, default_value_t = 1)]
    threshold: usize,
}

#[derive(Subcommand)]
enum DirectoryAction {
    /// Sign a directory described in TOML (see docs/operating.md).
    Sign {
        /// The TOML description: network values and [[node]] entries.
        #[arg(long)]
        source: PathBuf,
        /// An authority key file; repeat for several signatures.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// Write the directory here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a directory and print a summary, or the exact error.
    Verify {
        /// The directory document.
        file: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Check validity at this time (YYYY-MM-DDTHH:MM:SSZ) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    /// Forwards packets (layers 1 .. h-1).
    Mix,
    /// Delivers messages (layer h).
    Exit,
}

#[derive(Args)]
struct DescriptorArgs {
    /// The node's TOML configuration (address, identity key, key directory).
    #[arg(long)]
    config: PathBuf,
    /// The node's nickname in the directory.
    #[arg(long)]
    nickname: String,
    /// Whether the node forwards or delivers.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The network name (default: the one of the node's directory file).
    #[arg(long)]
    network: Option<String>,
    /// The key period T in seconds (default: the node's directory file's).
    #[arg(long)]
    key_period: Option<u64>,
    /// Write the descriptor here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SendArgs {
    /// The signed directory.
    #[arg(long)]
    directory: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// The sender's mailbox: From and envelope sender of the carriers.
    #[arg(long)]
    from: String,
    /// Nicknames of the route, comma-separated, one per layer (default: random).
    #[arg(long, value_delimiter = ',')]
    route: Option<Vec<String>>,
    /// Also save each carrier email into this directory.
    #[arg(long)]
    save_dir: Option<PathBuf>,
    /// The MTA's sendmail program.
    #[arg(long, default_value = mixmailer_node::config::DEFAULT_SENDMAIL)]
    sendmail: PathBuf,
    /// The RFC 5322 message; stdin when absent.
    message: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { kind } => keygen(kind),
        Command::Directory { action } => directory(action),
        Command::Run { config } => run(config),
        Command::Receive { config } => return receive(config),
        Command::Status { config, json } => show_status(config, json),
        Command::Descriptor(args) => descriptor(args),
        Command::Send(args) => send_message(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mixmailer-node: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn rng() -> Result<ChaCha20Rng, String> {
    ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| format!("the operating system's random number generator failed: {e}"))
}

fn keygen(kind: KeyKind) -> Result<(), String> {
    let mut rng = rng()?;
    let (out, public) = match kind {
        KeyKind::Node { out } => {
            let key = NodeIdentityKey::generate(&mut rng);
            write_secret(&out, &key.to_bytes()).map_err(|e| e.to_string())?;
            (out, key.public_key())
        }
        KeyKind::Authority { out } => {
            let key = AuthoritySigningKey::generate(&mut rng);
            write_secret(&out, &key.to_bytes()).map_err(|e| e.to_string())?;
            (out, key.public_key())
        }
    };
    eprintln!(
        "wrote secret key to {} (mode 0600); public key:",
        out.display()
    );
    println!("{}", encode_public(&public));
    Ok(())
}

fn descriptor(args: DescriptorArgs) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    let now = config.clock(SystemTime::now());
    // Network and key period: given, or from the directory the node uses.
    let from_directory = || -> Result<(String, Duration), String> {
        let directory = daemon::load_directory(&config, now).map_err(|e| {
            format!("{e} (or give --network and --key-period for a node not yet in a directory)")
        })?;
        let p = directory.params();
        Ok((p.network.clone(), p.key_period))
    };
    let (network, key_period) = match (args.network, args.key_period) {
        (Some(n), Some(t)) => (n, Duration::from_secs(t)),
        (n, t) => {
            let (dn, dt) = from_directory()?;
            (n.unwrap_or(dn), t.map(Duration::from_secs).unwrap_or(dt))
        }
    };
    if key_period.is_zero() {
        return Err("--key-period must be a positive number of seconds".into());
    }
    let terms = descriptor::Terms {
        nickname: args.nickname,
        role: match args.role {
            RoleArg::Mix => Role::Mix,
            RoleArg::Exit => Role::Exit,
        },
        network,
        key_period,
    };
    let signed = descriptor::sign(&config, &terms, now).map_err(|e| e.to_string())?;
    match args.out {
        Some(path) => atomic_file::write(&path, &signed, 0o644)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&signed)
                .map_err(|e| e.to_string())?
        }
    }
    Ok(())
}

fn trusted(trust: &TrustArgs) -> Result<Vec<[u8; 32]>, String> {
    trust
        .trusted
        .iter()
        .map(|k| {
            decode_public(k).map_err(|f| format!("--trusted {k:?}: not base64 of 32 bytes ({f})"))
        })
        .collect()
}

fn directory(action: DirectoryAction) -> Result<(), String> {
    match action {
        DirectoryAction::Sign { source, keys, out } => {
            let text = std::fs::read_to_string(&source)
                .map_err(|e| format!("{}: {e}", source.display()))?;
            let src =
                DirectorySource::parse(&text).map_err(|e| format!("{}: {e}", source.display()))?;
            let base = source.parent().unwrap_or(std::path::Path::new("."));
            let (params, nodes) = src
                .to_parts(SystemTime::now(), base)
                .map_err(|e| format!("{}: {e}", source.display()))?;
            let keys = keys
                .iter()
                .map(|p| {
                    read_secret(p)
                        .map(|seed| AuthoritySigningKey::from_bytes(*seed))
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&AuthoritySigningKey> = keys.iter().collect();
            let signed = Directory::sign(&params, &nodes, &refs).map_err(|e| e.to_string())?;
            match out {
                Some(path) => std::fs::write(&path, &signed)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                None => {
                    use std::io::Write;
                    std::io::stdout()
                        .write_all(&signed)
                        .map_err(|e| e.to_string())?
                }
            }
            Ok(())
        }
        DirectoryAction::Verify { file, trust, at } => {
            let now = match at {
                Some(t) => mixmailer::time::parse_directory_time(&t)
                    .ok_or_else(|| format!("--at {t:?} is not YYYY-MM-DDTHH:MM:SSZ"))?,
                None => SystemTime::now(),
            };
            let text = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let keys = trusted(&trust)?;
            let dir = Directory::parse(&text, &keys, trust.threshold, now)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            print!("{}", summary(&dir));
            println!("signature:    verified (threshold {})", trust.threshold);
            Ok(())
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
}

fn run(config: PathBuf) -> Result<(), String> {
    let config = Config::load(&config).map_err(|e| e.to_string())?;
    init_logging(&config.log_level);
    daemon::run(config).map_err(|e| {
        tracing::error!("{e}");
        e.to_string()
    })
}

fn receive(config: PathBuf) -> ExitCode {
    let result = match Config::load(&config) {
        Err(e) => ReceiveResult::TempFail(e.to_string()),
        Ok(config) => match read_bounded(&mut std::io::stdin().lock(), config.max_email_bytes()) {
            Err(e) => ReceiveResult::TempFail(format!("reading the email from stdin: {e}")),
            Ok((None, len)) => ReceiveResult::Dropped(format!(
                "email of {len} bytes is larger than incoming.max_email_bytes ({})",
                config.max_email_bytes()
            )),
            Ok((Some(email), _)) => deliver_to_daemon(&config, email),
        },
    };
    // The MTA logs this text with the delivery status.
    match &result {
        ReceiveResult::Accepted => {}
        ReceiveResult::Dropped(why) => eprintln!("mixmailer-node: dropped: {why}"),
        ReceiveResult::TempFail(why) => eprintln!("mixmailer-node: temporary failure: {why}"),
    }
    debug_assert!(result.exit_code() == 0 || result.exit_code() == EX_TEMPFAIL);
    ExitCode::from(result.exit_code())
}

fn show_status(config: PathBuf, json: bool) -> Result<(), String> {
    let config = Config::load(&config).map_err(|e| e.to_string())?;
    let stats = match status::stats(&config) {
        Ok(found) => Some(found),
        // A joining daemon opens its store and socket once it is listed;
        // what it did so far is still worth showing.
        Err(e) if config.join.is_some() && !json => {
            println!("status:              daemon not answering and no spool yet ({e}); a joining daemon answers once it is listed");
            None
        }
        Err(e) => return Err(e),
    };
    if json {
        let (stats, _) = stats.ok_or("no status")?;
        println!(
            "{}",
            serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    if let Some((stats, source)) = stats {
        print!("{}", status::report(&stats, source, SystemTime::now()));
    }
    print!(
        "{}",
        status::keys_report(&config, config.clock(SystemTime::now()))
    );
    if config.join.is_some() {
        print!(
            "{}",
            status::join_report(&config, config.clock(SystemTime::now()))
        );
    }
    Ok(())
}

fn send_message(args: SendArgs) -> Result<(), String> {
    let message = match &args.message {
        Some(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => {
            use std::io::Read;
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("stdin: {e}"))?;
            buf
        }
    };
    let text =
        std::fs::read(&args.directory).map_err(|e| format!("{}: {e}", args.directory.display()))?;
    let dir = Directory::parse(
        &text,
        &trusted(&args.trust)?,
        args.trust.threshold,
        SystemTime::now(),
    )
    .map_err(|e| format!("{}: {e}", args.directory.display()))?;
    let names: Option<Vec<&str>> = args
        .route
        .as_ref()
        .map(|r| r.iter().map(String::as_str).collect());
    let sendmail = Sendmail::new(args.sendmail.clone(), Duration::from_secs(120));
    let n = send::send(
        &dir,
        names.as_deref(),
        &message,
        &args.from,
        &sendmail,
        args.save_dir.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    eprintln!("submitted {n} carrier emails");
    Ok(())
}
