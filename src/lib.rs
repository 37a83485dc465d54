//! groupd: a self-hosted group service that speaks several wire dialects over one
//! domain model and one store.
//!
//! How the parts fit, from the inside out:
//!
//! - [`domain`]: groups, users, memberships, categories, custom fields, group
//!   policies (permissions and limits), workspaces and API keys as plain
//!   Rust values, with every validation rule (lengths, slugs, yes/no flags, custom field
//!   types). No I/O, no HTTP types.
//! - [`store`]: the [`store::Store`] trait, the one way data is read and written, and
//!   its engines (`store::sqlite`, `store::postgres`). `store::conformance` is the behaviour suite
//!   every engine must pass. Every row belongs to a workspace (tenant).
//!   `store::token_cache` keeps checked keys (and, on SQLite, groups) only while
//!   the engine's change token says nothing was revoked (written) since.
//! - [`service`]: the one place a domain command is carried out against the store:
//!   API key checks, argon2id password hashing off the async threads, icon fetching
//!   with its private-network guard, and the order of checks and writes. Every
//!   dialect and the command line call it; nothing else writes.
//! - [`dialects`]: one module per wire protocol: `grupo` (`POST /api_request/`),
//!   `activecampaign` (`/admin/api.php?api_action=group_*`) and `rest` (`/api/v1`,
//!   with its OpenAPI document). A dialect decodes a request into a domain command,
//!   calls the service, and encodes the answer or error in its own format.
//! - [`console`]: the admin console at `/console/`, a door like the dialects:
//!   server-rendered pages and forms over the same service calls, signed in with
//!   a key or an Admin-group admin's password, sessions kept in the store.
//! - [`scim`]: the SCIM 2.0 door at `/scim/v2`, where identity providers
//!   (Okta, Entra ID) provision users and groups: discovery, Users, Groups,
//!   lists with filters, PATCH; filters and PATCH themselves are pure
//!   `domain::scim`.
//! - [`wire`]: codecs shared by dialects: form bodies (urlencoded, multipart), PHP
//!   bracket names, PHP serialize, XML.
//! - [`server`]: the axum router that mounts the dialects, plus the icon, health
//!   and `/metrics` routes, and the accept loop with the HTTP limits (timeouts,
//!   connection cap, body memory budget). `server::observe` gives each request its
//!   id, span, log line and metrics; `server::guard` applies the per-address rate
//!   limit and the request deadline.
//! - [`logging`]: the log subscriber (text or JSON lines), with the rule that no
//!   level prints SQL statement parameters.
//! - [`config`]: settings layered from defaults, an optional TOML file, `GROUPD_*`
//!   environment variables and command-line flags.
//!
//! `main.rs` only parses the command line and calls into these.

pub mod cli;
pub mod config;
pub mod console;
pub mod dialects;
pub mod domain;
pub mod logging;
pub mod scim;
pub mod server;
pub mod service;
pub mod store;
pub mod wire;
