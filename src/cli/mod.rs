//! The command line: `groupd serve` and the administration commands. Each command
//! goes through the service, like the dialects do.

use crate::config::{Overrides, Settings};
use crate::domain::field::{FieldKind, NewFieldDef};
use crate::domain::workspace::DEFAULT_WORKSPACE;
use crate::server::{self, StartupError};
use crate::service::Service;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `println!` for command output that ends the command quietly when standard
/// output is closed (`groupd group list | head -1`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err(StartupError::output)?
    }};
}

/// Prints a new secret (shown only once). Unlike [`out!`], a closed output is an
/// error: the secret exists but nobody saw it, so the command must say so, and
/// what to do (`remedy`).
fn show_secret(secret: &str, what: &str, remedy: &str) -> Result<(), StartupError> {
    use std::io::Write as _;
    writeln!(std::io::stdout(), "{secret}").map_err(|e| {
        StartupError::Other(format!(
            "{what} was made but could not be shown ({e}); {remedy}"
        ))
    })
}

/// [`show_secret`] for a new API key.
fn show_key(secret: &str, prefix: &str) -> Result<(), StartupError> {
    show_secret(
        secret,
        &format!("the new key (prefix {prefix})"),
        &format!("revoke it with `groupd key revoke {prefix}` and make another"),
    )
}

mod events;

#[derive(Debug, Parser)]
#[command(name = "groupd", version, about = "A self-hosted group service")]
pub struct Cli {
    /// TOML configuration file (flags and GROUPD_* variables win over it).
    #[arg(long, global = true, env = "GROUPD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the SQLite database (groupd.db). Default: the current directory.
    #[arg(long, global = true, env = "GROUPD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Run on PostgreSQL (postgres://user@host/db) instead of the SQLite file.
    #[arg(long, global = true, env = "GROUPD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Most connections to PostgreSQL (default 16).
    #[arg(long, global = true, env = "GROUPD_DATABASE_POOL_SIZE")]
    pub database_pool_size: Option<usize>,
    /// Log lines as `text` (default; colours only on a terminal) or `json` (one
    /// object a line, for log shippers).
    #[arg(long, global = true, env = "GROUPD_LOG_FORMAT", value_enum, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP APIs.
    Serve(ServeArgs),
    /// Manage API secret keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage workspaces (tenants).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage group categories.
    #[command(subcommand)]
    Category(CategoryCommand),
    /// Manage group custom field definitions.
    #[command(subcommand)]
    Field(FieldCommand),
    /// Look at groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Print the audit log: every change, who made it and through which door.
    Events(events::EventsArgs),
    /// Manage webhook endpoints and their deliveries.
    #[command(subcommand)]
    Webhook(events::WebhookCommand),
    /// Write a workspace (or all) as JSON Lines, to move it to another database.
    Export {
        /// Only this workspace (default: every workspace).
        #[arg(long, short = 'w')]
        workspace: Option<String>,
        /// File to write (default: standard output).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Copy the SQLite database to a new FILE, consistent, while groupd serves.
    Backup {
        /// Where to write the copy (must not exist yet).
        file: PathBuf,
    },
    /// Load an export into an empty database (SQLite or PostgreSQL), keeping ids,
    /// keys, password hashes, icons, custom field values and memberships.
    Import {
        /// The export file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, IP:PORT (port 0 picks a free one). Default 127.0.0.1:8080.
    #[arg(long, env = "GROUPD_LISTEN")]
    pub listen: Option<String>,
    /// Let icon fetches and webhook deliveries reach loopback, private and
    /// link-local addresses (closed networks, tests).
    #[arg(long, env = "GROUPD_ALLOW_PRIVATE_TARGETS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_targets: Option<bool>,
    /// The older name of --allow-private-targets.
    #[arg(long, env = "GROUPD_ICON_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true")]
    pub icon_allow_private: Option<bool>,
    /// Time limit for one webhook delivery attempt, in seconds (default 10).
    #[arg(long, env = "GROUPD_WEBHOOK_TIMEOUT_SECS")]
    pub webhook_timeout_secs: Option<u64>,
    /// Waits between a failed delivery's attempts, in seconds, comma-separated
    /// (default 5,300,1800,7200,18000,36000,36000,36000: about 27 hours).
    #[arg(long, env = "GROUPD_WEBHOOK_RETRY_SCHEDULE", value_delimiter = ',')]
    pub webhook_retry_schedule: Option<Vec<u64>>,
    /// Disable an endpoint after this many hours without a successful delivery (default 120).
    #[arg(long, env = "GROUPD_WEBHOOK_DISABLE_AFTER_HOURS")]
    pub webhook_disable_after_hours: Option<u64>,
    /// Keep events this many days (default 90).
    #[arg(long, env = "GROUPD_EVENT_RETENTION_DAYS")]
    pub event_retention_days: Option<u64>,
    /// Sign console sessions out after this many minutes unused (default 30).
    #[arg(long, env = "GROUPD_CONSOLE_IDLE_MINUTES")]
    pub console_idle_minutes: Option<u64>,
    /// Time limit for one icon fetch, in seconds (default 10).
    #[arg(long, env = "GROUPD_ICON_TIMEOUT_SECS")]
    pub icon_timeout_secs: Option<u64>,
    /// Largest icon download, in bytes (default 5242880).
    #[arg(long, env = "GROUPD_ICON_MAX_BYTES")]
    pub icon_max_bytes: Option<usize>,
    /// A request's head must arrive within this many seconds of its first byte (default 10).
    #[arg(long, env = "GROUPD_HTTP_HEADER_TIMEOUT_SECS")]
    pub http_header_timeout_secs: Option<u64>,
    /// A request's body must arrive within this many seconds (default 30).
    #[arg(long, env = "GROUPD_HTTP_BODY_TIMEOUT_SECS")]
    pub http_body_timeout_secs: Option<u64>,
    /// Close a connection with no request for this many seconds (default 30).
    #[arg(long, env = "GROUPD_HTTP_IDLE_TIMEOUT_SECS")]
    pub http_idle_timeout_secs: Option<u64>,
    /// Most open connections (default: what the file descriptor limit leaves room for).
    #[arg(long, env = "GROUPD_HTTP_MAX_CONNECTIONS")]
    pub http_max_connections: Option<usize>,
    /// Most bytes all request bodies being received may hold together (default 64 MiB).
    #[arg(long, env = "GROUPD_HTTP_BODY_MEMORY_BYTES")]
    pub http_body_memory_bytes: Option<usize>,
    /// Requests a second one API key may make on average, 0 for no limit (default 1000).
    #[arg(long, env = "GROUPD_RATE_LIMIT_KEY_PER_SEC")]
    pub rate_limit_key_per_sec: Option<u32>,
    /// Requests one API key may make at once above its rate (default 2000).
    #[arg(long, env = "GROUPD_RATE_LIMIT_KEY_BURST")]
    pub rate_limit_key_burst: Option<u32>,
    /// Requests a second one client address may make on average, 0 for no limit (default 1000).
    #[arg(long, env = "GROUPD_RATE_LIMIT_ADDRESS_PER_SEC")]
    pub rate_limit_address_per_sec: Option<u32>,
    /// Requests one client address may make at once above its rate (default 2000).
    #[arg(long, env = "GROUPD_RATE_LIMIT_ADDRESS_BURST")]
    pub rate_limit_address_burst: Option<u32>,
    /// Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For
    /// names the client address (default: none, the connection's address counts).
    #[arg(long, env = "GROUPD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Stop a request that runs longer than this many seconds (default 60).
    #[arg(long, env = "GROUPD_REQUEST_DEADLINE_SECS")]
    pub request_deadline_secs: Option<u64>,
    /// How long an Idempotency-Key stays claimed by a request whose server died,
    /// in seconds (default 30).
    #[arg(long, env = "GROUPD_IDEMPOTENCY_CLAIM_SECS")]
    pub idempotency_claim_secs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct WorkspaceArg {
    /// Workspace to act in.
    #[arg(long, short = 'w', default_value = DEFAULT_WORKSPACE)]
    pub workspace: String,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new key; it is printed once.
    Create {
        #[command(flatten)]
        ws: WorkspaceArg,
        /// A note to tell keys apart.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (prefixes only; keys themselves are never stored).
    List {
        /// Only this workspace's keys.
        #[arg(long, short = 'w')]
        workspace: Option<String>,
    },
    /// Revoke a key by its prefix (or the whole key). Takes effect at once.
    Revoke { prefix: String },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Make a workspace and its first key.
    Create {
        name: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    Add {
        name: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    Rename {
        id: i64,
        name: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Remove a category; its groups move to category 1.
    Delete {
        id: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum FieldCommand {
    /// Define a group custom field; clients send values as custom_field_<id>.
    Add {
        #[arg(long)]
        name: String,
        /// short_text, long_text, date, number, dropdown or link.
        #[arg(long = "type")]
        kind: String,
        /// A dropdown option (repeat for each).
        #[arg(long = "option")]
        options: Vec<String>,
        /// The identifier to use (default: the next free one).
        #[arg(long)]
        id: Option<i64>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Remove a definition and every value groups had for it.
    Delete {
        id: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List groups as JSON lines.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Show one group (by id or slug) as JSON.
    Show {
        group: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

impl Cli {
    fn overrides(&self) -> Overrides {
        let mut o = Overrides {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_pool_size: self.database_pool_size,
            ..Default::default()
        };
        if let Command::Serve(s) = &self.command {
            o.listen = s.listen.clone();
            o.allow_private_targets = s.allow_private_targets;
            o.icon_allow_private = s.icon_allow_private;
            o.webhook_timeout_secs = s.webhook_timeout_secs;
            o.webhook_retry_schedule = s.webhook_retry_schedule.clone();
            o.webhook_disable_after_hours = s.webhook_disable_after_hours;
            o.event_retention_days = s.event_retention_days;
            o.console_idle_minutes = s.console_idle_minutes;
            o.icon_timeout_secs = s.icon_timeout_secs;
            o.icon_max_bytes = s.icon_max_bytes;
            o.http_header_timeout_secs = s.http_header_timeout_secs;
            o.http_body_timeout_secs = s.http_body_timeout_secs;
            o.http_idle_timeout_secs = s.http_idle_timeout_secs;
            o.http_max_connections = s.http_max_connections;
            o.http_body_memory_bytes = s.http_body_memory_bytes;
            o.idempotency_claim_secs = s.idempotency_claim_secs;
            o.rate_limit_key_per_sec = s.rate_limit_key_per_sec;
            o.rate_limit_key_burst = s.rate_limit_key_burst;
            o.rate_limit_address_per_sec = s.rate_limit_address_per_sec;
            o.rate_limit_address_burst = s.rate_limit_address_burst;
            o.trusted_proxies = s.trusted_proxies.clone();
            o.request_deadline_secs = s.request_deadline_secs;
        }
        o
    }
}

fn group_json(g: &crate::domain::group::Group) -> serde_json::Value {
    serde_json::json!({
        "id": g.id.0,
        "name": g.name,
        "slug": g.slug,
        "description": g.description,
        "category_id": g.category_id,
        "secret": g.secret,
        "unleavable": g.unleavable,
        "pinned": g.pinned,
        "password_protected": g.password_protected(),
        "has_icon": g.has_icon(),
        "icon_url": g.icon_path(),
        "custom_fields": g.custom_fields.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "builtin": g.builtin.map(|b| b.as_str()),
        "member_count": g.member_count,
        "policy": serde_json::to_value(&g.policy).unwrap_or_default(),
        "created_at": g.created_at,
        "updated_at": g.updated_at,
    })
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), StartupError> {
    let settings = Settings::resolve(cli.overrides())?;
    if let Command::Serve(_) = cli.command {
        return server::serve(settings).await;
    }
    let service = server::build_service(&settings).await?;
    match cli.command {
        Command::Export { workspace, output } => {
            let lines = service
                .export(workspace.as_deref())
                .await
                .map_err(StartupError::Service)?;
            let text = lines.join("\n") + "\n";
            return match output {
                Some(path) => std::fs::write(&path, text).map_err(|e| {
                    StartupError::Other(format!("cannot write {}: {e}", path.display()))
                }),
                None => {
                    use std::io::Write as _;
                    std::io::stdout()
                        .write_all(text.as_bytes())
                        .map_err(StartupError::output)
                }
            };
        }
        Command::Backup { file } => {
            service.backup(&file).await.map_err(StartupError::Service)?;
            out!("backed up to {}", file.display());
            return Ok(());
        }
        Command::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| StartupError::Other(format!("cannot read {}: {e}", file.display())))?;
            let rows = service.import(text).await.map_err(StartupError::Service)?;
            out!("imported {rows} rows");
            return Ok(());
        }
        _ => {}
    }
    // Administration on a new database makes the default workspace first, like serve.
    if let Some(key) = service.bootstrap().await.map_err(StartupError::Service)? {
        out!(
            "Created workspace '{}' with its first API key:",
            key.workspace
        );
        show_key(&format!("  {}", key.secret), &key.prefix)?;
    }
    let cli_audit = crate::domain::event::Audit {
        actor: crate::domain::event::Actor::Cli,
        door: Some(crate::domain::event::Door::Cli),
    };
    crate::store::audit::scope(cli_audit, admin(&service, cli.command)).await
}

async fn admin(service: &Service, command: Command) -> Result<(), StartupError> {
    match command {
        Command::Serve(_)
        | Command::Export { .. }
        | Command::Import { .. }
        | Command::Backup { .. } => {}
        Command::Key(KeyCommand::Create { ws, label }) => {
            let key = service.create_key(&ws.workspace, &label).await?;
            show_key(&key.secret, &key.prefix)?;
            eprintln!(
                "New key for workspace '{}' (prefix {}). It is shown only this once.",
                key.workspace, key.prefix
            );
        }
        Command::Key(KeyCommand::List { workspace }) => {
            out!("prefix\tworkspace\tstatus\tcreated_at\tlabel");
            for k in service.list_keys(workspace.as_deref()).await? {
                let status = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                out!(
                    "{}\t{}\t{}\t{}\t{}",
                    k.prefix,
                    k.workspace,
                    status,
                    k.created_at,
                    k.label
                );
            }
        }
        Command::Key(KeyCommand::Revoke { prefix }) => {
            service.revoke_key(&prefix).await?;
            out!("revoked");
        }
        Command::Workspace(WorkspaceCommand::Create { name }) => {
            let (ws, key) = service.create_workspace(&name).await?;
            show_key(&key.secret, &key.prefix)?;
            eprintln!(
                "Created workspace '{}' (id {}). Its first key is shown only this once.",
                ws.name, ws.id.0
            );
        }
        Command::Workspace(WorkspaceCommand::List) => {
            for ws in service.list_workspaces().await? {
                out!("{}\t{}", ws.id.0, ws.name);
            }
        }
        Command::Category(CategoryCommand::Add { name, ws }) => {
            let c = service
                .create_category(service.admin_caller(&ws.workspace).await?, &name)
                .await?;
            out!("{}\t{}", c.id, c.name);
        }
        Command::Category(CategoryCommand::List { ws }) => {
            for c in service
                .list_categories(service.admin_caller(&ws.workspace).await?)
                .await?
            {
                out!("{}\t{}", c.id, c.name);
            }
        }
        Command::Category(CategoryCommand::Rename { id, name, ws }) => {
            service
                .rename_category(service.admin_caller(&ws.workspace).await?, id, &name)
                .await?;
            out!("renamed");
        }
        Command::Category(CategoryCommand::Delete { id, ws }) => {
            let moved = service
                .delete_category(service.admin_caller(&ws.workspace).await?, id)
                .await?;
            out!("deleted; {moved} group(s) moved to category 1");
        }
        Command::Field(FieldCommand::Add {
            name,
            kind,
            options,
            id,
            ws,
        }) => {
            let kind: FieldKind = kind.parse().map_err(|e: String| {
                crate::service::ServiceError::Invalid(crate::domain::ValidationErrors::single(
                    "type", e,
                ))
            })?;
            let f = service
                .create_field(
                    service.admin_caller(&ws.workspace).await?,
                    NewFieldDef {
                        id,
                        name,
                        kind,
                        options,
                    },
                )
                .await?;
            out!("{}\t{}\t{}\t{}", f.id, f.name, f.kind, f.options.join("|"));
        }
        Command::Field(FieldCommand::List { ws }) => {
            for f in service
                .list_fields(service.admin_caller(&ws.workspace).await?)
                .await?
            {
                out!("{}\t{}\t{}\t{}", f.id, f.name, f.kind, f.options.join("|"));
            }
        }
        Command::Field(FieldCommand::Delete { id, ws }) => {
            service
                .delete_field(service.admin_caller(&ws.workspace).await?, id)
                .await?;
            out!("deleted");
        }
        Command::Group(GroupCommand::List { ws }) => {
            let caller = service.admin_caller(&ws.workspace).await?;
            let mut after = None;
            loop {
                let page = service.list_groups(caller, after, 500).await?;
                for g in &page {
                    out!("{}", group_json(g));
                }
                match page.last() {
                    Some(g) if page.len() == 500 => after = Some(g.id),
                    _ => break,
                }
            }
        }
        Command::Group(GroupCommand::Show { group, ws }) => {
            let caller = service.admin_caller(&ws.workspace).await?;
            let g = service.get_group(caller, &group).await?;
            out!("{}", group_json(&g));
        }
        Command::Events(args) => events::events(service, args).await?,
        Command::Webhook(c) => events::webhook(service, c).await?,
    }
    Ok(())
}
