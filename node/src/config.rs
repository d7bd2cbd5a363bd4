//! The node's TOML configuration (`run --config FILE`, also read by
//! `receive` and `status` to find the daemon's socket).

use mixmailer::directory::{MAX_KEY_PERIOD_SECS, MIN_KEY_PERIOD_SECS};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Default cap on stored packets, fragments and tags: 1 GiB.
pub const DEFAULT_MAX_STORE_BYTES: u64 = 1 << 30;
/// Where Debian's Postfix (and OpenSMTPD) install the sendmail interface.
pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail";

/// Default for [`Config::unknown_hop_retry_secs`]: a day, long enough for
/// a new directory to reach every node, well inside the MTA's five days.
pub const DEFAULT_UNKNOWN_HOP_RETRY_SECS: u64 = 86_400;

fn default_unknown_hop_retry_secs() -> u64 {
    DEFAULT_UNKNOWN_HOP_RETRY_SECS
}

/// Default for [`Config::key_periods_ahead`].
pub const DEFAULT_KEY_PERIODS_AHEAD: u64 = 8;

fn default_key_periods_ahead() -> u64 {
    DEFAULT_KEY_PERIODS_AHEAD
}

/// A node's configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The node's own mailbox, as listed in the directory; From of forwarded carriers.
    pub address: String,
    /// The node's Ed25519 identity key file (from `keygen node`).
    pub key_file: PathBuf,
    /// Where the daemon keeps its X25519 key of each key period (made ahead
    /// of time, deleted at the start of period P + 2). Default: the
    /// directory `period-keys` next to `key_file`. Created with mode 0700.
    pub key_dir: Option<PathBuf>,
    /// How many key periods after the current one the daemon keeps keys
    /// for, so descriptors can publish them before a directory needs them.
    /// At least 2 (SPEC 2); default 8 (a directory spans at most 8 periods).
    #[serde(default = "default_key_periods_ahead")]
    pub key_periods_ahead: u64,
    /// The signed directory document. Re-read when the file changes.
    pub directory_file: PathBuf,
    /// Base64 Ed25519 public keys of the authorities the node trusts.
    pub trusted_authorities: Vec<String>,
    /// How many trusted authorities must have signed the directory.
    #[serde(default = "default_threshold")]
    pub threshold: usize,
    /// Directory of the spool database and socket (created with mode 0700).
    pub spool_dir: PathBuf,
    /// Cap on bytes of stored packets, fragments and replay tags; above it,
    /// carriers are refused with a temporary failure and stay with the MTA.
    #[serde(default = "default_max_store_bytes")]
    pub max_store_bytes: u64,
    /// How long a carrier whose next hop is not in this node's directory is
    /// refused with a temporary failure (the MTA retries it, in case a newer
    /// directory lists that hop) before it is dropped. Default one day.
    #[serde(default = "default_unknown_hop_retry_secs")]
    pub unknown_hop_retry_secs: u64,
    /// FOR TESTS ONLY: seconds added to the daemon's clock (negative: taken
    /// off), so tests can travel in time across delays, expiry and key
    /// periods. A real node must keep this 0 and its clock right (NTP).
    #[serde(default)]
    pub test_clock_offset_secs: i64,
    /// FOR TESTS ONLY: a file holding the offset in seconds (one integer),
    /// read each time the daemon looks at the clock, so a test can move a
    /// running daemon's clock across key periods. Overrides
    /// `test_clock_offset_secs` while it holds a number.
    pub test_clock_offset_file: Option<PathBuf>,
    /// Log level filter (`error`, `warn`, `info`, `debug`), or a tracing
    /// filter directive. `RUST_LOG` overrides it.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// How mail comes in.
    #[serde(default)]
    pub incoming: Incoming,
    /// How mail goes out.
    #[serde(default)]
    pub outgoing: Outgoing,
    /// Self-registration with the directory authorities (docs/operating.md,
    /// "How nodes join"). Without it the directory file is kept by hand and
    /// must list the node when the daemon starts.
    pub join: Option<Join>,
}

/// `[join]`: the daemon publishes its own descriptor (SPEC 7) to the
/// authorities and keeps `directory_file` current from the mirrors.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// The descriptor's nickname, `[A-Za-z0-9_-]{1,32}`.
    pub nickname: String,
    /// `mix` or `exit` (see [`Join::role`]).
    pub role: String,
    /// The network name the authorities serve, `[a-z0-9-]{1,64}`.
    pub network: String,
    /// The network's key period T in seconds (3600..=604800, SPEC 1).
    pub key_period: u64,
    /// Base URLs of every authority (`http://` or `https://`); the
    /// descriptor is POSTed to each.
    pub authorities: Vec<String>,
    /// Base URLs the directory is fetched from, in this order; default
    /// the authorities.
    pub mirrors: Option<Vec<String>>,
}

impl Join {
    /// The role; [`Config::parse`] already refused anything but `mix` and `exit`.
    pub fn role(&self) -> mixmailer::descriptor::Role {
        if self.role == "exit" {
            mixmailer::descriptor::Role::Exit
        } else {
            mixmailer::descriptor::Role::Mix
        }
    }

    /// T as a duration.
    pub fn key_period(&self) -> Duration {
        Duration::from_secs(self.key_period)
    }

    /// Where the directory is fetched from.
    pub fn mirrors(&self) -> &[String] {
        self.mirrors.as_deref().unwrap_or(&self.authorities)
    }

    /// Checks every field; the error names the field (without `join.`).
    fn check(&self) -> Result<(), (&'static str, String)> {
        let name_ok = |s: &str, max: usize, ok: fn(char) -> bool| {
            !s.is_empty() && s.len() <= max && s.chars().all(ok)
        };
        if !name_ok(&self.nickname, 32, |c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-'
        }) {
            return Err((
                "join.nickname",
                format!("{:?} is not 1 to 32 of A-Z a-z 0-9 _ -", self.nickname),
            ));
        }
        if self.role != "mix" && self.role != "exit" {
            return Err((
                "join.role",
                format!("{:?} is not \"mix\" or \"exit\"", self.role),
            ));
        }
        if !name_ok(&self.network, 64, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        }) {
            return Err((
                "join.network",
                format!("{:?} is not 1 to 64 of a-z 0-9 -", self.network),
            ));
        }
        let periods = MIN_KEY_PERIOD_SECS..=MAX_KEY_PERIOD_SECS;
        if !periods.contains(&self.key_period) {
            return Err((
                "join.key_period",
                format!(
                    "{} is not in {}..={} seconds (SPEC 1); use the authorities' key_period",
                    self.key_period,
                    periods.start(),
                    periods.end()
                ),
            ));
        }
        if self.authorities.is_empty() {
            return Err((
                "join.authorities",
                "list the base URL of at least one authority".to_owned(),
            ));
        }
        for url in &self.authorities {
            check_base_url(url).map_err(|e| ("join.authorities", e))?;
        }
        if let Some(mirrors) = &self.mirrors {
            if mirrors.is_empty() {
                return Err((
                    "join.mirrors",
                    "list at least one mirror, or leave mirrors out to use the authorities"
                        .to_owned(),
                ));
            }
            for url in mirrors {
                check_base_url(url).map_err(|e| ("join.mirrors", e))?;
            }
        }
        Ok(())
    }
}

/// A base URL the HTTP clients can use: `http://` or `https://`, a host,
/// no query or fragment (paths are appended to it).
fn check_base_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} does not start with http:// or https://"))?;
    let host_port = rest.split('/').next().unwrap_or("");
    if host_port.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{url:?} is not a base URL (no spaces, query or fragment)"
        ));
    }
    if let Some((host, port)) = host_port.rsplit_once(':') {
        // A bracketed IPv6 address without a port has its colons inside [].
        if !host_port.ends_with(']') && (host.is_empty() || port.parse::<u16>().is_err()) {
            return Err(format!("{url:?}: {port:?} is not a port number"));
        }
    }
    Ok(())
}

/// Incoming mail. The MTA delivers carriers over LMTP to `lmtp_socket`
/// (Postfix's `lmtp` client, connections cached); `mixmailer-node receive`
/// (for a `pipe(8)` transport, one process per carrier) and `status` use
/// `socket`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incoming {
    /// The socket of `receive` and `status`; default `<spool_dir>/node.sock`.
    pub socket: Option<PathBuf>,
    /// The LMTP socket the MTA delivers to; none when absent. It must be
    /// outside the spool directory (mode 0700, which the MTA cannot
    /// enter): e.g. `/run/mixmailer/lmtp.sock` in a directory of group
    /// `postfix` with the set-group-ID bit, so the socket (mode 0660) gets
    /// that group.
    pub lmtp_socket: Option<PathBuf>,
    /// Largest carrier email accepted, in bytes (default 1 MiB).
    pub max_email_bytes: Option<usize>,
}

/// Outgoing mail: submitted over SMTP to the local MTA (default
/// `127.0.0.1:25`), or, when `sendmail` is set, with the MTA's sendmail
/// program, which puts recipients on a command line every local user can
/// read (see docs/operating.md); set one of the two.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outgoing {
    /// The MTA's SMTP listener as `host:port` (plain SMTP: keep it on
    /// loopback). Default `127.0.0.1:25` when `sendmail` is not set.
    pub smtp: Option<String>,
    /// SMTP sessions kept open to the MTA (default 4).
    #[serde(default = "default_smtp_connections")]
    pub smtp_connections: u32,
    /// Seconds one SMTP command may take before the submission is retried
    /// later (default 120).
    #[serde(default = "default_sendmail_timeout")]
    pub smtp_timeout_secs: u64,
    /// The sendmail program (e.g. `/usr/sbin/sendmail`), instead of SMTP.
    pub sendmail: Option<PathBuf>,
    /// Envelope sender of exit deliveries; default the node's own address,
    /// whose bounces come back to the node and are dropped.
    pub delivery_sender: Option<String>,
    /// Seconds after which a hanging sendmail is killed and retried (default 120).
    #[serde(default = "default_sendmail_timeout")]
    pub sendmail_timeout_secs: u64,
}

impl Default for Outgoing {
    fn default() -> Self {
        Outgoing {
            smtp: None,
            smtp_connections: default_smtp_connections(),
            smtp_timeout_secs: default_sendmail_timeout(),
            sendmail: None,
            delivery_sender: None,
            sendmail_timeout_secs: default_sendmail_timeout(),
        }
    }
}

/// The MTA's SMTP listener used when nothing is configured.
pub const DEFAULT_SMTP: &str = "127.0.0.1:25";

/// How the daemon submits, from `[outgoing]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitMethod {
    /// SMTP to `host:port`.
    Smtp(String),
    /// The sendmail program.
    Sendmail(PathBuf),
}

impl Outgoing {
    /// The configured submission method.
    pub fn method(&self) -> SubmitMethod {
        match (&self.smtp, &self.sendmail) {
            (_, Some(program)) if self.smtp.is_none() => SubmitMethod::Sendmail(program.clone()),
            (Some(server), _) => SubmitMethod::Smtp(server.clone()),
            (None, _) => SubmitMethod::Smtp(DEFAULT_SMTP.to_owned()),
        }
    }
}

fn default_threshold() -> usize {
    1
}
fn default_max_store_bytes() -> u64 {
    DEFAULT_MAX_STORE_BYTES
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_smtp_connections() -> u32 {
    4
}
fn default_sendmail_timeout() -> u64 {
    120
}

/// Largest carrier email accepted unless configured: a carrier of the
/// largest payload (64 KiB) is about 90 KiB, and MTAs add a few headers.
pub const DEFAULT_MAX_EMAIL_BYTES: usize = 1 << 20;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A field has a value that cannot work.
    #[error("config {path}: field `{field}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks `text`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |field, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            reason,
        };
        if let Err(e) = mixmailer::message::Mailbox::parse(&config.address) {
            return Err(invalid(
                "address",
                format!("{:?} is not a mailbox (local@domain): {e}", config.address),
            ));
        }
        if config.trusted_authorities.is_empty() {
            return Err(invalid(
                "trusted_authorities",
                "list at least one authority public key".to_owned(),
            ));
        }
        config
            .trusted_keys()
            .map_err(|e| invalid("trusted_authorities", e))?;
        if config.outgoing.smtp.is_some() && config.outgoing.sendmail.is_some() {
            return Err(invalid(
                "outgoing.smtp",
                "set either `smtp` or `sendmail` in [outgoing], not both".to_owned(),
            ));
        }
        if let SubmitMethod::Smtp(server) = config.outgoing.method() {
            crate::submit::host_port(&server).map_err(|e| invalid("outgoing.smtp", e))?;
        }
        if config.outgoing.smtp_connections == 0 {
            return Err(invalid(
                "outgoing.smtp_connections",
                "must be at least 1".to_owned(),
            ));
        }
        if let Some(lmtp) = &config.incoming.lmtp_socket {
            if lmtp.starts_with(&config.spool_dir) {
                return Err(invalid(
                    "incoming.lmtp_socket",
                    format!(
                        "{} is inside spool_dir, which only the node's user may enter; \
                         put it where the MTA can reach it (see docs/operating.md)",
                        lmtp.display()
                    ),
                ));
            }
        }
        if config.threshold == 0 || config.threshold > config.trusted_authorities.len() {
            return Err(invalid(
                "threshold",
                format!(
                    "must be between 1 and the number of trusted authorities ({})",
                    config.trusted_authorities.len()
                ),
            ));
        }
        if !(2..=62).contains(&config.key_periods_ahead) {
            return Err(invalid(
                "key_periods_ahead",
                format!(
                    "{} is not in 2..=62 (keys for the current period and at least the next two, at most what a descriptor can list)",
                    config.key_periods_ahead
                ),
            ));
        }
        if let Some(join) = &config.join {
            join.check()
                .map_err(|(field, reason)| invalid(field, reason))?;
        }
        Ok(config)
    }

    /// The directory of the period keys.
    pub fn key_dir(&self) -> PathBuf {
        self.key_dir.clone().unwrap_or_else(|| {
            self.key_file
                .parent()
                .unwrap_or(Path::new("."))
                .join("period-keys")
        })
    }

    /// The trusted authority keys, decoded.
    pub fn trusted_keys(&self) -> Result<Vec<[u8; 32]>, String> {
        self.trusted_authorities
            .iter()
            .enumerate()
            .map(|(i, k)| {
                crate::keyfile::decode_public(k).map_err(|found| {
                    format!("entry {} is not base64 of 32 bytes (found {found})", i + 1)
                })
            })
            .collect()
    }

    /// The daemon's idea of the time `t` (the wall clock): `t` moved by
    /// [`Config::test_clock_offset_secs`].
    pub fn clock(&self, t: SystemTime) -> SystemTime {
        let secs = self
            .test_clock_offset_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(self.test_clock_offset_secs);
        let offset = Duration::from_secs(secs.unsigned_abs());
        let moved = if secs >= 0 {
            t.checked_add(offset)
        } else {
            t.checked_sub(offset)
        };
        moved.unwrap_or(t)
    }

    /// The daemon's socket.
    pub fn socket_path(&self) -> PathBuf {
        self.incoming
            .socket
            .clone()
            .unwrap_or_else(|| self.spool_dir.join("node.sock"))
    }

    /// The spool database file.
    pub fn database_path(&self) -> PathBuf {
        self.spool_dir.join("spool.redb")
    }

    /// Largest carrier email accepted.
    pub fn max_email_bytes(&self) -> usize {
        self.incoming
            .max_email_bytes
            .unwrap_or(DEFAULT_MAX_EMAIL_BYTES)
    }

    /// Envelope sender of exit deliveries.
    pub fn delivery_sender(&self) -> &str {
        self.outgoing
            .delivery_sender
            .as_deref()
            .unwrap_or(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn minimal_config_gets_defaults() {
        let text = format!(
            "address = \"mix@node1.test\"\nkey_file = \"/k\"\ndirectory_file = \"/d\"\n\
             trusted_authorities = [\"{KEY}\"]\nspool_dir = \"/var/spool/m\"\n"
        );
        let c = Config::parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(c.threshold, 1);
        assert_eq!(c.socket_path(), Path::new("/var/spool/m/node.sock"));
        assert_eq!(
            c.outgoing.method(),
            SubmitMethod::Smtp("127.0.0.1:25".into())
        );
        assert_eq!(c.incoming.lmtp_socket, None);
        assert_eq!(c.delivery_sender(), "mix@node1.test");
    }

    #[test]
    fn unknown_field_is_an_error_with_its_line() {
        let text = format!(
            "address = \"mix@node1.test\"\nkey_file = \"/k\"\ndirectory_file = \"/d\"\n\
             trusted_authorities = [\"{KEY}\"]\nspool_dir = \"/s\"\nspool_size = 3\n"
        );
        let err = Config::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spool_size") && err.contains("line 6"),
            "{err}"
        );
    }

    #[test]
    fn threshold_above_trusted_count_is_refused() {
        let text = format!(
            "address = \"mix@node1.test\"\nkey_file = \"/k\"\ndirectory_file = \"/d\"\n\
             trusted_authorities = [\"{KEY}\"]\nthreshold = 2\nspool_dir = \"/s\"\n"
        );
        let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                field: "threshold",
                ..
            }
        ));
    }

    fn base() -> String {
        format!(
            "address = \"mix@node1.test\"\nkey_file = \"/k\"\ndirectory_file = \"/d\"\n\
             trusted_authorities = [\"{KEY}\"]\nspool_dir = \"/s\"\n"
        )
    }

    #[test]
    fn sendmail_alone_selects_the_sendmail_program() {
        let text = format!("{}[outgoing]\nsendmail = \"/usr/sbin/sendmail\"\n", base());
        let c = Config::parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(
            c.outgoing.method(),
            SubmitMethod::Sendmail("/usr/sbin/sendmail".into())
        );
        let text = format!("{}[outgoing]\nsmtp = \"127.0.0.1:10025\"\n", base());
        let c = Config::parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(
            c.outgoing.method(),
            SubmitMethod::Smtp("127.0.0.1:10025".into())
        );
    }

    #[test]
    fn smtp_and_sendmail_together_are_refused() {
        let text = format!(
            "{}[outgoing]\nsmtp = \"127.0.0.1:25\"\nsendmail = \"/usr/sbin/sendmail\"\n",
            base()
        );
        let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn smtp_server_with_a_bad_port_is_refused() {
        let text = format!("{}[outgoing]\nsmtp = \"127.0.0.1:smtp\"\n", base());
        let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string().contains("outgoing.smtp") && err.to_string().contains("port"),
            "{err}"
        );
    }

    #[test]
    fn lmtp_socket_inside_the_spool_is_refused() {
        let text = format!("{}[incoming]\nlmtp_socket = \"/s/lmtp.sock\"\n", base());
        let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("incoming.lmtp_socket"), "{err}");
    }

    const JOIN: &str = "[join]\nnickname = \"node1\"\nrole = \"exit\"\nnetwork = \"e2e\"\n\
                        key_period = 3600\n\
                        authorities = [\"http://127.0.0.31:8101\", \"https://dir.example.org/mix/\"]\n";

    #[test]
    fn join_section_is_optional_and_mirrors_default_to_the_authorities() {
        let c = Config::parse(&base(), Path::new("c.toml")).unwrap();
        assert!(c.join.is_none());
        let c = Config::parse(&format!("{}{JOIN}", base()), Path::new("c.toml")).unwrap();
        let join = c.join.unwrap();
        assert_eq!(join.role(), mixmailer::descriptor::Role::Exit);
        assert_eq!(join.key_period(), Duration::from_secs(3600));
        assert_eq!(join.mirrors(), join.authorities.as_slice());
        let text = format!("{}{JOIN}mirrors = [\"http://[::1]:80\"]\n", base());
        let c = Config::parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(c.join.unwrap().mirrors(), ["http://[::1]:80".to_owned()]);
    }

    /// The error of `[join]` with `line` replaced by `with`.
    fn join_error(line: &str, with: &str) -> String {
        let section = JOIN.replace(line, with);
        assert_ne!(section, JOIN, "{line} is in JOIN");
        Config::parse(&format!("{}{section}", base()), Path::new("c.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_join_values_are_refused_naming_the_field() {
        let cases = [
            ("role = \"exit\"", "role = \"relay\"", "`join.role`"),
            ("key_period = 3600", "key_period = 0", "`join.key_period`"),
            ("key_period = 3600", "key_period = 60", "`join.key_period`"),
            (
                "nickname = \"node1\"",
                "nickname = \"no de\"",
                "`join.nickname`",
            ),
            ("network = \"e2e\"", "network = \"E2E\"", "`join.network`"),
            (
                "authorities = [\"http://127.0.0.31:8101\", \"https://dir.example.org/mix/\"]",
                "authorities = []",
                "`join.authorities`",
            ),
            (
                "http://127.0.0.31:8101",
                "ftp://127.0.0.31",
                "`join.authorities`",
            ),
            (
                "http://127.0.0.31:8101",
                "http://127.0.0.31:port",
                "`join.authorities`",
            ),
            ("http://127.0.0.31:8101", "http://", "`join.authorities`"),
            (
                "http://127.0.0.31:8101",
                "127.0.0.31:8101",
                "`join.authorities`",
            ),
        ];
        for (line, with, field) in cases {
            let err = join_error(line, with);
            assert!(err.contains(field), "{with}: {err}");
        }
        let err = Config::parse(
            &format!("{}{JOIN}mirrors = [\"http://a?x=1\"]\n", base()),
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`join.mirrors`"), "{err}");
        let err = join_error("role = \"exit\"\n", "");
        assert!(err.contains("role"), "{err}");
    }
}
