//! Configuration: every setting, its flag, its `TOKENGATE_*` variable and its default
//! in one place, turned into one typed [`Config`] that is validated at start.
//!
//! A bad setting fails at start with a message that names the variable and the flag.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use http::HeaderName;
use http::Uri;
use ipnet::IpNet;

use crate::audit_sink::SinkAddress;
use crate::lifetime::Lifetime;
use crate::store::{AuditSync, Location};
use crate::webhooks::Webhook;

pub mod file;

/// The environment variables, one per setting.
pub mod env {
    /// Listen address.
    pub const LISTEN: &str = "TOKENGATE_LISTEN";
    /// Upstream base URL.
    pub const UPSTREAM: &str = "TOKENGATE_UPSTREAM";
    /// Public base URL that restriction lines match.
    pub const PUBLIC_BASE: &str = "TOKENGATE_PUBLIC_BASE";
    /// Data directory (SQLite file and server key).
    pub const DATA_DIR: &str = "TOKENGATE_DATA_DIR";
    /// `--store`.
    pub const STORE: &str = "TOKENGATE_STORE";
    /// `basic`, `bearer` or `both`.
    pub const AUTH_MODE: &str = "TOKENGATE_AUTH_MODE";
    /// `rest` or `extender`.
    pub const SCOPE: &str = "TOKENGATE_SCOPE";
    /// Administrator user names, comma-separated.
    pub const ADMINS: &str = "TOKENGATE_ADMINS";
    /// Trusted proxies (CIDRs or addresses), comma-separated.
    pub const TRUSTED_PROXIES: &str = "TOKENGATE_TRUSTED_PROXIES";
    /// Header that tells the upstream who the user is.
    pub const IDENTITY_HEADER: &str = "TOKENGATE_IDENTITY_HEADER";
    /// The upstream `Authorization` value itself (environment only: never a flag,
    /// so it never shows in the process list).
    pub const UPSTREAM_AUTHORIZATION: &str = "TOKENGATE_UPSTREAM_AUTHORIZATION";
    /// A file holding the upstream `Authorization` value.
    pub const UPSTREAM_AUTHORIZATION_FILE: &str = "TOKENGATE_UPSTREAM_AUTHORIZATION_FILE";
    /// Forward requests without token credentials untouched.
    pub const PASSTHROUGH: &str = "TOKENGATE_PASSTHROUGH";
    /// Default per-token rate limit, requests per minute (0 = off).
    pub const RATE_LIMIT: &str = "TOKENGATE_RATE_LIMIT";
    /// Listener certificate chain (PEM).
    pub const TLS_CERT: &str = "TOKENGATE_TLS_CERT";
    /// Listener private key (PEM).
    pub const TLS_KEY: &str = "TOKENGATE_TLS_KEY";
    /// CA certificates (PEM) trusted for an https upstream instead of the built-in roots.
    pub const UPSTREAM_CA: &str = "TOKENGATE_UPSTREAM_CA";
    /// Largest body buffered for JSON conditions, bytes.
    pub const BODY_LIMIT: &str = "TOKENGATE_BODY_LIMIT";
    /// Upstream response-header timeout, seconds.
    pub const UPSTREAM_TIMEOUT: &str = "TOKENGATE_UPSTREAM_TIMEOUT";
    /// Time a client has to complete the TLS handshake and send a request's headers, seconds.
    pub const HEADER_TIMEOUT: &str = "TOKENGATE_HEADER_TIMEOUT";
    /// Largest request body forwarded upstream, bytes.
    pub const FORWARD_BODY_LIMIT: &str = "TOKENGATE_FORWARD_BODY_LIMIT";
    /// Client connections served at once; beyond it new ones wait to be accepted.
    pub const MAX_CONNECTIONS: &str = "TOKENGATE_MAX_CONNECTIONS";
    /// Failed authentications per minute per client address (0 = off).
    pub const AUTH_FAILURE_LIMIT: &str = "TOKENGATE_AUTH_FAILURE_LIMIT";
    /// Memory of one policy instance, MiB.
    pub const POLICY_MEMORY: &str = "TOKENGATE_POLICY_MEMORY";
    /// `--audit-sync`.
    pub const AUDIT_SYNC: &str = "TOKENGATE_AUDIT_SYNC";
    /// `--audit-retention-days`.
    pub const AUDIT_RETENTION_DAYS: &str = "TOKENGATE_AUDIT_RETENTION_DAYS";
    /// Time a client has to send a whole body that the policy reads, seconds.
    pub const BODY_TIMEOUT: &str = "TOKENGATE_BODY_TIMEOUT";
    /// Pass `Cookie`/`Set-Cookie` of token requests.
    pub const PASS_COOKIES: &str = "TOKENGATE_PASS_COOKIES";
    /// Threads that run the policy.
    pub const POLICY_THREADS: &str = "TOKENGATE_POLICY_THREADS";
    /// Audit records that may wait for the writer.
    pub const AUDIT_QUEUE: &str = "TOKENGATE_AUDIT_QUEUE";
    /// Audit batches committing at once (PostgreSQL).
    pub const AUDIT_COMMITS: &str = "TOKENGATE_AUDIT_COMMITS";
    /// Longest token lifetime, days (0 = no limit).
    pub const MAX_TOKEN_DAYS: &str = "TOKENGATE_MAX_TOKEN_DAYS";
    /// Where token events are POSTed.
    pub const WEBHOOK_URL: &str = "TOKENGATE_WEBHOOK_URL";
    /// The key token events are signed with.
    pub const WEBHOOK_SECRET: &str = "TOKENGATE_WEBHOOK_SECRET";
    /// Days before expiry a token counts as expiring soon.
    pub const EXPIRY_WARNING_DAYS: &str = "TOKENGATE_EXPIRY_WARNING_DAYS";
    /// Where committed audit records are streamed (`jsonl:PATH`, `syslog:udp://…`).
    pub const AUDIT_SINK: &str = "TOKENGATE_AUDIT_SINK";
    /// The configuration file (`--config`).
    pub const CONFIG: &str = "TOKENGATE_CONFIG";
}

/// Defaults, each stated once: clap shows them in `--help` and applies them, and
/// [`Config::new`] takes them from clap.
pub mod default {
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

    use super::{AuditSync, AuthMode, ScopeSetting};

    /// Listen address.
    pub const LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
    /// Data directory.
    pub const DATA_DIR: &str = "./tokengate-data";
    /// The store: SQLite in the data directory.
    pub const STORE: &str = "sqlite";
    /// Token schemes.
    pub const AUTH_MODE: AuthMode = AuthMode::Basic;
    /// Paths tokens may reach.
    pub const SCOPE: ScopeSetting = ScopeSetting::Rest;
    /// Identity header.
    pub const IDENTITY_HEADER: &str = "X-Forwarded-User";
    /// Body limit, bytes (1 MiB).
    pub const BODY_LIMIT: usize = 1 << 20;
    /// Upstream timeout, seconds.
    pub const UPSTREAM_TIMEOUT: f64 = 30.0;
    /// Header timeout, seconds.
    pub const HEADER_TIMEOUT: f64 = 10.0;
    /// Audit retention, days (0: keep every record).
    pub const AUDIT_RETENTION_DAYS: u32 = 0;
    /// Audit durability.
    pub const AUDIT_SYNC: AuditSync = AuditSync::Full;
    /// Rate limit, requests per minute (0: off).
    pub const RATE_LIMIT: u32 = 0;
    /// Forwarded body limit, bytes (100 MiB, Confluence's default attachment limit).
    pub const FORWARD_BODY_LIMIT: u64 = 100 << 20;
    /// Concurrent client connections.
    pub const MAX_CONNECTIONS: usize = 4096;
    /// Failed authentications per minute per client address.
    pub const AUTH_FAILURE_LIMIT: u32 = 30;
    /// Memory of one policy instance, MiB.
    pub const POLICY_MEMORY: usize = 64;
    /// Body deadline, seconds.
    pub const BODY_TIMEOUT: f64 = 10.0;
    /// Audit records that may wait for the writer (the writer's own default).
    pub const AUDIT_QUEUE: usize = crate::audit::DEFAULT_QUEUE;
    /// Audit batches committing at once on PostgreSQL (half the connection pool).
    pub const AUDIT_COMMITS: usize = crate::audit::DEFAULT_COMMITS;
    /// Longest token lifetime, days (0: no limit).
    pub const MAX_TOKEN_DAYS: u32 = 0;
    /// Days before expiry a token counts as expiring soon (GitLab warns a week ahead).
    pub const EXPIRY_WARNING_DAYS: u32 = 7;
}

/// Fixed limits that protect the listener (not settings: no one needs to change them).
pub mod limits {
    use std::time::Duration;
    /// Largest request head (request line + headers) read, bytes; beyond it: 431.
    pub const MAX_HEADER_BYTES: usize = 64 * 1024;
    /// Most header lines in an HTTP/1 request head; beyond it: 431. (HTTP/2 heads are
    /// bounded by `MAX_HEADER_BYTES` through the header list size.)
    pub const MAX_HEADERS: usize = 100;
    /// Client addresses whose failed authentications are remembered; beyond it the
    /// address first seen longest ago is forgotten.
    pub const AUTH_FAILURE_ADDRESSES: usize = 10_000;
    /// Time in-flight requests get to finish at shutdown.
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
    /// How often the gateway looks for tokens created or revoked by the CLI.
    pub const TOKEN_REFRESH: Duration = Duration::from_secs(1);
    /// How often a gateway on PostgreSQL folds appended uses into the token rows.
    pub const USE_FOLD: Duration = Duration::from_secs(2);
    /// How often audit retention runs (when set).
    pub const AUDIT_PRUNE: Duration = Duration::from_secs(3600);
    /// Largest admin request body, bytes.
    pub const ADMIN_BODY_LIMIT: usize = 64 * 1024;
}

pub use tokengate_policy::credentials::AuthMode;

/// `--auth-mode`: the policy's [`AuthMode`], with its names listed in `--help`.
fn auth_mode_parser() -> impl clap::builder::TypedValueParser<Value = AuthMode> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["basic", "bearer", "both"])
        .try_map(|text| text.parse::<AuthMode>())
}

/// `--store`: the parse error names what is accepted; the URL never appears in it.
pub fn store_parser() -> impl clap::builder::TypedValueParser<Value = Location> {
    use clap::builder::TypedValueParser as _;
    clap::builder::StringValueParser::new().try_map(|text| Location::parse(&text))
}

/// Which paths tokens may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeSetting {
    /// `/rest/*`.
    Rest,
    /// `/rest/extender/*` only.
    Extender,
}

impl ScopeSetting {
    /// The policy's form.
    pub fn to_native(self) -> tokengate_policy::Scope {
        match self {
            Self::Rest => tokengate_policy::Scope::Rest,
            Self::Extender => tokengate_policy::Scope::Extender,
        }
    }
}

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The upstream every allowed request goes to (never chosen by the request).
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `http` or `https`.
    pub scheme: http::uri::Scheme,
    /// Host and port.
    pub authority: http::uri::Authority,
    /// A path prefix put before every forwarded path; empty or `/x/y` (no trailing slash).
    pub prefix: String,
}

/// Listener TLS files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// The gateway's validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where allowed requests go.
    pub upstream: Upstream,
    /// What restriction lines see before the path, e.g. `https://wiki.example.com`.
    pub public_base: String,
    /// The server key (and, by default, the SQLite file).
    pub data_dir: PathBuf,
    /// The database: SQLite in the data directory, or shared PostgreSQL.
    pub store: Location,
    /// Token schemes.
    pub auth_mode: AuthMode,
    /// Paths tokens may reach.
    pub scope: ScopeSetting,
    /// Users whose own tokens may use the admin API.
    pub admins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Header naming the user to the upstream.
    pub identity_header: HeaderName,
    /// `Authorization` sent upstream with every forwarded token request.
    pub upstream_authorization: Option<Secret>,
    /// Forward requests without token credentials untouched.
    pub passthrough: bool,
    /// Requests per minute per token; 0 = no limit.
    pub rate_limit_per_minute: u32,
    /// Terminate TLS on the listener.
    pub tls: Option<TlsFiles>,
    /// CA file for an https upstream.
    pub upstream_ca: Option<PathBuf>,
    /// Largest body buffered for JSON conditions.
    pub body_limit: usize,
    /// Time the upstream has to answer with response headers.
    pub upstream_timeout: Duration,
    /// Time a client has, from connecting, to finish the TLS handshake and send a
    /// request's headers (and, between requests, the next one's).
    pub header_timeout: Duration,
    /// Largest request body forwarded upstream (413 beyond).
    pub forward_body_limit: u64,
    /// Client connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Failed authentications per minute per client address before 429; 0 = no limit.
    pub auth_failure_limit_per_minute: u32,
    /// Memory one policy instance may take, bytes.
    pub policy_memory: usize,
    /// How durable an audit record is before its request is forwarded.
    pub audit_sync: AuditSync,
    /// Audit records older than this are deleted (hourly); `None` = kept forever.
    pub audit_retention: Option<Duration>,
    /// Time a client has to send a whole body that the policy reads (408 after).
    pub body_timeout: Duration,
    /// Pass `Cookie` and `Set-Cookie` of token requests (off: stripped).
    pub pass_cookies: bool,
    /// Threads that run the policy.
    pub policy_threads: usize,
    /// Audit records that may wait for the writer (503 `audit-backlog` beyond).
    pub audit_queue: usize,
    /// Audit batches committing at once on PostgreSQL (SQLite commits one at a time).
    pub audit_commits: usize,
    /// Token lifetime rules.
    pub lifetime: Lifetime,
    /// Where token events go, if anywhere.
    pub webhook: Option<Webhook>,
    /// The clock requests are decided at (the system's; tests move theirs).
    pub clock: crate::Clock,
    /// Where committed audit records are streamed, if anywhere.
    pub audit_sink: Option<SinkAddress>,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable} (--{flag}): {message}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// The flag.
    pub flag: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(variable: &'static str, flag: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        flag,
        message: message.into(),
    }
}

/// `tokengate serve` settings as typed on the command line, in the environment or in
/// the configuration file ([`file`]: every argument with an `env` is a key there).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A TOML file of settings: each key is a TOKENGATE_* variable without the prefix,
    /// in lower case (`upstream = "http://confluence:8090"`). Flags and environment
    /// variables override it.
    #[arg(long, env = env::CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, env = env::LISTEN, default_value_t = default::LISTEN.to_string())]
    pub listen: String,
    /// The REST API behind the gateway, e.g. `http://confluence:8090` (an optional
    /// path prefix is put before every forwarded path).
    #[arg(long, env = env::UPSTREAM)]
    pub upstream: String,
    /// The URL clients use to reach the gateway; restriction lines match it plus the
    /// path. Default: `http(s)://` + the listen address.
    #[arg(long, env = env::PUBLIC_BASE)]
    pub public_base: Option<String>,
    /// Directory of the generated server key and (by default) the SQLite file.
    #[arg(long, env = env::DATA_DIR, default_value = default::DATA_DIR)]
    pub data_dir: PathBuf,
    /// The database: `sqlite` (in the data directory) or a PostgreSQL URL
    /// `postgres://user:password@host:port/db` shared by several gateways.
    #[arg(long, env = env::STORE, default_value = default::STORE, value_parser = store_parser())]
    pub store: Location,
    /// Which Authorization schemes carry tokens.
    #[arg(long, env = env::AUTH_MODE, default_value = default::AUTH_MODE.as_str(), value_parser = auth_mode_parser())]
    pub auth_mode: AuthMode,
    /// Paths tokens may reach: `rest` (/rest/*) or `extender` (/rest/extender/*).
    #[arg(long, env = env::SCOPE, value_enum, default_value_t = default::SCOPE)]
    pub scope: ScopeSetting,
    /// Administrator user names (comma-separated): their own tokens may use tokenTools.
    #[arg(long, env = env::ADMINS, value_delimiter = ',')]
    pub admins: Vec<String>,
    /// Proxies whose X-Forwarded-For is believed (CIDRs or addresses, comma-separated).
    #[arg(long, env = env::TRUSTED_PROXIES, value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Header that tells the upstream who the user is.
    #[arg(long, env = env::IDENTITY_HEADER, default_value = default::IDENTITY_HEADER)]
    pub identity_header: String,
    /// File holding the Authorization value sent upstream (or set
    /// TOKENGATE_UPSTREAM_AUTHORIZATION to the value itself).
    #[arg(long, env = env::UPSTREAM_AUTHORIZATION_FILE)]
    pub upstream_authorization_file: Option<PathBuf>,
    /// The Authorization value sent upstream (never logged). Not a flag, since every
    /// user can read the process list: set the variable, or this key in a
    /// configuration file only tokengate can read; or use --upstream-authorization-file.
    #[arg(long, env = env::UPSTREAM_AUTHORIZATION, hide = true, hide_env_values = true,
          value_parser = secret_parser())]
    pub upstream_authorization: Option<Secret>,
    /// Forward requests that carry no token untouched instead of answering 401.
    #[arg(long, env = env::PASSTHROUGH)]
    pub passthrough: bool,
    /// Default per-token rate limit in requests per minute (0 = off).
    #[arg(long, env = env::RATE_LIMIT, default_value_t = default::RATE_LIMIT)]
    pub rate_limit: u32,
    /// Certificate chain (PEM) to terminate TLS on the listener (with --tls-key).
    #[arg(long, env = env::TLS_CERT, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, env = env::TLS_KEY, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) to trust for an https upstream instead of the built-in roots.
    #[arg(long, env = env::UPSTREAM_CA)]
    pub upstream_ca: Option<PathBuf>,
    /// Largest request body buffered for JSON conditions, in bytes (413 beyond).
    #[arg(long, env = env::BODY_LIMIT, default_value_t = default::BODY_LIMIT)]
    pub body_limit: usize,
    /// Seconds the upstream has to start answering (504 after).
    #[arg(long, env = env::UPSTREAM_TIMEOUT, default_value_t = default::UPSTREAM_TIMEOUT)]
    pub upstream_timeout: f64,
    /// Seconds a client has to send a request's headers (and finish the TLS
    /// handshake) before the connection is closed.
    #[arg(long, env = env::HEADER_TIMEOUT, default_value_t = default::HEADER_TIMEOUT)]
    pub header_timeout: f64,
    /// Largest request body forwarded upstream, in bytes (413 beyond).
    #[arg(long, env = env::FORWARD_BODY_LIMIT, default_value_t = default::FORWARD_BODY_LIMIT)]
    pub forward_body_limit: u64,
    /// Client connections served at once; further ones wait to be accepted.
    #[arg(long, env = env::MAX_CONNECTIONS, default_value_t = default::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Failed authentications per minute per client address; beyond it every token
    /// request from that address gets 429 until the allowance refills (0 = off).
    #[arg(long, env = env::AUTH_FAILURE_LIMIT, default_value_t = default::AUTH_FAILURE_LIMIT)]
    pub auth_failure_limit: u32,
    /// Memory one instance of the policy component may take, MiB. Instances run in
    /// parallel (one per request being decided, up to 16 kept idle); a call that needs
    /// more is refused with 503.
    #[arg(long, env = env::POLICY_MEMORY, default_value_t = default::POLICY_MEMORY)]
    pub policy_memory: usize,
    /// When an audit record counts as written: `full` (on disk, survives a power
    /// loss) or `normal` (handed to the OS: survives a crash of tokengate only).
    #[arg(long, env = env::AUDIT_SYNC, value_enum, default_value_t = default::AUDIT_SYNC)]
    pub audit_sync: AuditSync,
    /// Delete audit records older than this many days (checked hourly); 0 = keep all.
    #[arg(long, env = env::AUDIT_RETENTION_DAYS, default_value_t = default::AUDIT_RETENTION_DAYS)]
    pub audit_retention_days: u32,
    /// Seconds a client has to send a whole body that a token's `[JsonData::…]`
    /// conditions read (408 after).
    #[arg(long, env = env::BODY_TIMEOUT, default_value_t = default::BODY_TIMEOUT)]
    pub body_timeout: f64,
    /// Pass `Cookie` and `Set-Cookie` of token requests; by default they are stripped, so
    /// that no upstream session outlives the token's scope or its revocation.
    #[arg(long, env = env::PASS_COOKIES)]
    pub pass_cookies: bool,
    /// Threads that run the policy (default: one per core). A token runs on at most half
    /// of them at once.
    #[arg(long, env = env::POLICY_THREADS)]
    pub policy_threads: Option<usize>,
    /// Audit records that may wait for the writer; beyond it requests get 503
    /// (`audit-backlog`) instead of holding more memory.
    #[arg(long, env = env::AUDIT_QUEUE, default_value_t = default::AUDIT_QUEUE)]
    pub audit_queue: usize,
    /// Audit batches that commit at once on PostgreSQL, each on a connection of the
    /// pool; records that arrive meanwhile form the next batch. SQLite commits one at a
    /// time.
    #[arg(long, env = env::AUDIT_COMMITS, default_value_t = default::AUDIT_COMMITS)]
    pub audit_commits: usize,
    /// Token lifetime rules.
    #[command(flatten)]
    pub lifetime: Lifetime,
    /// URL (http or https) that token events are POSTed to as signed JSON
    /// (token.created, .revoked, .rotated, .expiring, .expired, .new_ip); needs
    /// --webhook-secret.
    #[arg(long, env = env::WEBHOOK_URL)]
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the `X-Tokengate-Signature` header. Set the variable or
    /// the configuration file key: a flag would show it in the process list.
    #[arg(long, env = env::WEBHOOK_SECRET, hide = true, hide_env_values = true,
          value_parser = secret_parser())]
    pub webhook_secret: Option<Secret>,
    /// Stream every committed audit record, in order, to `jsonl:PATH` (one JSON object
    /// per line; reopened on SIGHUP) or to a syslog collector, `syslog:udp://HOST:PORT`
    /// or `syslog:tcp://HOST:PORT` (RFC 5424). Default: none.
    #[arg(long, env = env::AUDIT_SINK, value_name = "SINK")]
    pub audit_sink: Option<String>,
}

impl ServeArgs {
    /// Validates every setting; the first bad one is named in the error.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            invalid(
                env::LISTEN,
                "listen",
                format!("`{}` is not an address:port", self.listen),
            )
        })?;
        let upstream = parse_upstream(&self.upstream)?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    env::TLS_CERT,
                    "tls-cert",
                    "--tls-cert and --tls-key go together",
                ));
            }
        };
        let public_base = match self.public_base {
            Some(base) => parse_public_base(&base)?,
            None => derived_public_base(listen, tls.is_some()),
        };
        let admins = self
            .admins
            .into_iter()
            .map(|admin| admin.trim().to_owned())
            .filter(|admin| !admin.is_empty())
            .collect();
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|text| text.trim())
            .filter(|text| !text.is_empty())
            .map(parse_net)
            .collect::<Result<Vec<_>, _>>()?;
        let identity_header =
            HeaderName::from_bytes(self.identity_header.as_bytes()).map_err(|_| {
                invalid(
                    env::IDENTITY_HEADER,
                    "identity-header",
                    format!("`{}` is not a header name", self.identity_header),
                )
            })?;
        if is_hop_by_hop_or_reserved(&identity_header) {
            return Err(invalid(
                env::IDENTITY_HEADER,
                "identity-header",
                format!("`{identity_header}` is reserved"),
            ));
        }
        let upstream_authorization = upstream_authorization(
            self.upstream_authorization,
            self.upstream_authorization_file.as_deref(),
        )?;
        if self.body_limit == 0 {
            return Err(invalid(env::BODY_LIMIT, "body-limit", "must be above 0"));
        }
        if self.forward_body_limit == 0 {
            return Err(invalid(
                env::FORWARD_BODY_LIMIT,
                "forward-body-limit",
                "must be above 0",
            ));
        }
        if !POLICY_MEMORY_ACCEPTED.contains(&self.policy_memory) {
            return Err(invalid(
                env::POLICY_MEMORY,
                "policy-memory",
                format!(
                    "must be from {} to {} (MiB)",
                    POLICY_MEMORY_ACCEPTED.start(),
                    POLICY_MEMORY_ACCEPTED.end()
                ),
            ));
        }
        if self.body_limit > (self.policy_memory << 20) / 4 {
            return Err(invalid(
                env::BODY_LIMIT,
                "body-limit",
                format!(
                    "must be at most a quarter of the policy memory ({} bytes): the policy \
                     reads the body inside its instance",
                    (self.policy_memory << 20) / 4
                ),
            ));
        }
        if !(1..=MAX_CONNECTIONS_ACCEPTED).contains(&self.max_connections) {
            return Err(invalid(
                env::MAX_CONNECTIONS,
                "max-connections",
                format!("must be from 1 to {MAX_CONNECTIONS_ACCEPTED}"),
            ));
        }
        let upstream_timeout = seconds(
            self.upstream_timeout,
            86_400.0,
            env::UPSTREAM_TIMEOUT,
            "upstream-timeout",
        )?;
        let header_timeout = seconds(
            self.header_timeout,
            3_600.0,
            env::HEADER_TIMEOUT,
            "header-timeout",
        )?;
        let body_timeout = seconds(
            self.body_timeout,
            3_600.0,
            env::BODY_TIMEOUT,
            "body-timeout",
        )?;
        let policy_threads = match self.policy_threads {
            None => std::thread::available_parallelism().map_or(2, usize::from),
            Some(threads @ 1..=256) => threads,
            Some(_) => {
                return Err(invalid(
                    env::POLICY_THREADS,
                    "policy-threads",
                    "must be from 1 to 256",
                ));
            }
        };
        if !(1..=1_000_000).contains(&self.audit_queue) {
            return Err(invalid(
                env::AUDIT_QUEUE,
                "audit-queue",
                "must be from 1 to 1000000",
            ));
        }
        let pool = crate::store::postgres::POOL_SIZE;
        if !(1..=pool).contains(&self.audit_commits) {
            return Err(invalid(
                env::AUDIT_COMMITS,
                "audit-commits",
                format!("must be from 1 to {pool} (the connection pool)"),
            ));
        }
        let audit_sink = self
            .audit_sink
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| {
                text.parse::<SinkAddress>()
                    .map_err(|message| invalid(env::AUDIT_SINK, "audit-sink", message))
            })
            .transpose()?;
        for (path, variable, flag) in [
            (tls.as_ref().map(|t| &t.cert), env::TLS_CERT, "tls-cert"),
            (tls.as_ref().map(|t| &t.key), env::TLS_KEY, "tls-key"),
            (self.upstream_ca.as_ref(), env::UPSTREAM_CA, "upstream-ca"),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                return Err(invalid(
                    variable,
                    flag,
                    format!("{} is not a readable file", path.display()),
                ));
            }
        }
        Ok(Config {
            listen,
            upstream,
            public_base,
            data_dir: self.data_dir,
            store: self.store,
            auth_mode: self.auth_mode,
            scope: self.scope,
            admins,
            trusted_proxies,
            identity_header,
            upstream_authorization,
            passthrough: self.passthrough,
            rate_limit_per_minute: self.rate_limit,
            tls,
            upstream_ca: self.upstream_ca,
            body_limit: self.body_limit,
            upstream_timeout,
            header_timeout,
            forward_body_limit: self.forward_body_limit,
            max_connections: self.max_connections,
            auth_failure_limit_per_minute: self.auth_failure_limit,
            policy_memory: self.policy_memory << 20,
            audit_sync: self.audit_sync,
            audit_retention: (self.audit_retention_days > 0)
                .then(|| Duration::from_secs(u64::from(self.audit_retention_days) * 86_400)),
            body_timeout,
            pass_cookies: self.pass_cookies,
            policy_threads,
            audit_queue: self.audit_queue,
            audit_commits: self.audit_commits,
            lifetime: self.lifetime,
            webhook: webhook(self.webhook_url.as_deref(), self.webhook_secret)?,
            clock: crate::Clock::default(),
            audit_sink,
        })
    }
}

impl ServeArgs {
    /// Refuses the settings that must not be flags: a secret on the command line is
    /// in the process list for every user to read.
    pub fn refuse_secret_flags(matches: &clap::ArgMatches) -> Result<(), ConfigError> {
        if matches.try_get_raw("upstream_authorization").is_ok()
            && matches.value_source("upstream_authorization")
                == Some(clap::parser::ValueSource::CommandLine)
        {
            return Err(invalid(
                env::UPSTREAM_AUTHORIZATION,
                "upstream-authorization",
                "not accepted as a flag (every user can read the process list): set the \
                 variable, the configuration file's `upstream_authorization`, or \
                 --upstream-authorization-file",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// A configuration with every default, for `upstream` (tests and the demo start
    /// here). The defaults are clap's, so they are the ones `serve` applies; the
    /// environment is not read.
    pub fn new(upstream: &str, data_dir: PathBuf) -> Result<Self, ConfigError> {
        use clap::{Args as _, FromArgMatches as _};
        let command =
            ServeArgs::augment_args(clap::Command::new("serve")).mut_args(|arg| arg.env(None));
        let args = [
            "serve".into(),
            "--upstream".into(),
            upstream.into(),
            "--data-dir".into(),
            data_dir.into_os_string(),
        ];
        let parsed = command
            .try_get_matches_from(args)
            .and_then(|matches| ServeArgs::from_arg_matches(&matches))
            .map_err(|err| invalid(env::UPSTREAM, "upstream", err.to_string()))?;
        parsed.into_config()
    }
}

/// The most `--max-connections` accepted (far beyond any file descriptor limit).
const MAX_CONNECTIONS_ACCEPTED: usize = 1 << 24;
/// `--policy-memory` accepted, MiB: the component alone takes 2 MiB; 4 GiB is all that
/// 32-bit wasm can address.
const POLICY_MEMORY_ACCEPTED: std::ops::RangeInclusive<usize> = 4..=4096;

/// Headers the gateway itself sets or strips; the identity header cannot be one.
fn is_hop_by_hop_or_reserved(name: &HeaderName) -> bool {
    crate::proxy::is_hop_by_hop(name)
        || [
            http::header::AUTHORIZATION.as_str(),
            http::header::HOST.as_str(),
            http::header::CONTENT_LENGTH.as_str(),
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
        ]
        .contains(&name.as_str())
}

/// A duration setting in seconds: above 0 and at most `max`.
fn seconds(
    value: f64,
    max: f64,
    variable: &'static str,
    flag: &'static str,
) -> Result<Duration, ConfigError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(invalid(
            variable,
            flag,
            format!("must be a number of seconds above 0 and at most {max}"),
        ))
    }
}

fn parse_upstream(text: &str) -> Result<Upstream, ConfigError> {
    let bad = |message: String| invalid(env::UPSTREAM, "upstream", message);
    let uri: Uri = text
        .parse()
        .map_err(|_| bad(format!("`{text}` is not a URL")))?;
    let scheme = uri
        .scheme()
        .filter(|s| **s == http::uri::Scheme::HTTP || **s == http::uri::Scheme::HTTPS)
        .cloned()
        .ok_or_else(|| bad(format!("`{text}` must start with http:// or https://")))?;
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| bad(format!("`{text}` has no host")))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "user info in the URL is not supported; use TOKENGATE_UPSTREAM_AUTHORIZATION".into(),
        ));
    }
    if uri.query().is_some() {
        return Err(bad(format!("`{text}` must not have a query")));
    }
    let prefix = uri.path().trim_end_matches('/').to_owned();
    Ok(Upstream {
        scheme,
        authority,
        prefix,
    })
}

fn parse_public_base(text: &str) -> Result<String, ConfigError> {
    let bad = |message: String| invalid(env::PUBLIC_BASE, "public-base", message);
    let uri: Uri = text
        .parse()
        .map_err(|_| bad(format!("`{text}` is not a URL")))?;
    if uri.scheme().is_none() || uri.authority().is_none() || uri.query().is_some() {
        return Err(bad(format!(
            "`{text}` must look like https://host[:port][/prefix]"
        )));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// The public base when none is set: `http(s)://` + the listen address (`localhost`
/// for an unspecified address).
pub fn derived_public_base(listen: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => format!("{scheme}://localhost:{}", listen.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => format!("{scheme}://localhost:{}", listen.port()),
        _ => format!("{scheme}://{listen}"),
    }
}

fn parse_net(text: &str) -> Result<IpNet, ConfigError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            invalid(
                env::TRUSTED_PROXIES,
                "trusted-proxies",
                format!("`{text}` is not an address or CIDR range"),
            )
        })
}

/// `--upstream-authorization`: a [`Secret`] from the start, so `Debug` never shows it.
fn secret_parser() -> impl clap::builder::TypedValueParser<Value = Secret> {
    use clap::builder::TypedValueParser as _;
    clap::builder::StringValueParser::new().map(Secret::new)
}

/// The webhook of `--webhook-url` and its secret: both or neither.
fn webhook(url: Option<&str>, secret: Option<Secret>) -> Result<Option<Webhook>, ConfigError> {
    let url = url.map(str::trim).filter(|url| !url.is_empty());
    let secret = secret.filter(|secret| !secret.expose().is_empty());
    let (url, secret) = match (url, secret) {
        (None, None) => return Ok(None),
        (Some(url), Some(secret)) => (url, secret),
        (Some(_), None) => {
            return Err(invalid(
                env::WEBHOOK_SECRET,
                "webhook-secret",
                "a webhook needs a secret to sign its events with",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                env::WEBHOOK_URL,
                "webhook-url",
                "a webhook secret was given without a URL",
            ));
        }
    };
    let parsed: Uri = url.parse().map_err(|_| {
        invalid(
            env::WEBHOOK_URL,
            "webhook-url",
            format!("`{url}` is not a URL"),
        )
    })?;
    let web = matches!(parsed.scheme_str(), Some("http" | "https"));
    if !web || parsed.authority().is_none() {
        return Err(invalid(
            env::WEBHOOK_URL,
            "webhook-url",
            format!("`{url}` is not an http:// or https:// URL"),
        ));
    }
    Ok(Some(Webhook {
        url: parsed,
        secret,
    }))
}

fn upstream_authorization(
    value: Option<Secret>,
    file: Option<&std::path::Path>,
) -> Result<Option<Secret>, ConfigError> {
    let value = match (value.map(|secret| secret.0), file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                env::UPSTREAM_AUTHORIZATION_FILE,
                "upstream-authorization-file",
                format!("set either it or {}, not both", env::UPSTREAM_AUTHORIZATION),
            ));
        }
        (Some(value), None) => value,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|err| {
            invalid(
                env::UPSTREAM_AUTHORIZATION_FILE,
                "upstream-authorization-file",
                format!("reading {}: {err}", path.display()),
            )
        })?,
        (None, None) => return Ok(None),
    };
    let value = value.trim().to_owned();
    if value.is_empty() || http::HeaderValue::from_str(&value).is_err() {
        return Err(invalid(
            env::UPSTREAM_AUTHORIZATION_FILE,
            "upstream-authorization-file",
            "the upstream Authorization value must be one non-empty line of visible ASCII",
        ));
    }
    Ok(Some(Secret::new(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_setting() {
        let err = Config::new("ftp://x", PathBuf::from("d")).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with("TOKENGATE_UPSTREAM (--upstream)"),
            "{text}"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("Basic abc".into())),
            "<redacted>"
        );
    }
}
