//! The store layer's errors: what an engine could not do, typed for the service.

use crate::domain::category::{DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME};
use crate::domain::field::FieldIdTaken;
use crate::domain::membership::MembershipError;
use crate::domain::references::ReferenceError;
use crate::domain::removal::RemovalError;

/// The store layer's error. Engines map their own errors into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("a group with this slug already exists in the workspace")]
    SlugTaken,
    #[error("{0} not found")]
    NotFound(Entity),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("category {0} does not exist")]
    UnknownCategory(i64),
    #[error("custom field {0} does not exist")]
    UnknownField(i64),
    #[error("{0}")]
    Refused(String),
    #[error("group {0} is built in and cannot be removed")]
    BuiltinGroup(i64),
    #[error("group {0} cannot take over from itself")]
    SuccessorAmongRemoved(i64),
    #[error("category {DEFAULT_CATEGORY_ID} ({DEFAULT_CATEGORY_NAME}) always exists")]
    DefaultCategory,
    #[error(
        "the database schema is at version {found}, newer than this groupd understands \
         ({supported}); run a groupd at least as new as the one that last used this database"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("a user with this username already exists in the workspace")]
    UsernameTaken,
    #[error("a user with this email address already exists in the workspace")]
    EmailTaken,
    #[error("user {0} does not exist")]
    UnknownUser(i64),
    #[error("the group has room for {room} more member(s) (limit_user {limit})")]
    GroupFull { limit: i64, room: i64 },
    #[error("user {0} is already a member")]
    AlreadyMember(i64),
    #[error("user {0} is not a member")]
    NotAMember(i64),
    #[error("database error: {0}")]
    Backend(String),
    #[error("import needs an empty database: this one already has workspaces")]
    ImportNotEmpty,
    /// The first connection to the database failed; says why and what to do.
    #[error("{0}")]
    Connect(ConnectFailure),
}

/// Why groupd could not connect to its database at start, each with its fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectFailure {
    #[error(
        "the server refused the password of user '{user}' (SQLSTATE 28P01).\n\
         Fix the password in --database-url (postgres://{user}:PASSWORD@HOST/DB; \
         percent-encode special characters), or set it on the server: \
         ALTER ROLE \"{user}\" PASSWORD '...';"
    )]
    WrongPassword { user: String },
    #[error(
        "the server asks user '{user}' for a password and the database URL has none \
         ({detail}).\n\
         Put it in --database-url: postgres://{user}:PASSWORD@HOST/DB."
    )]
    PasswordMissing { user: String, detail: String },
    #[error(
        "the database URL requires TLS (sslmode=require, verify-ca or verify-full, or \
         channel_binding=require), and the server at {target} does not offer it.\n\
         Turn on ssl in the server's postgresql.conf, or use sslmode=prefer (or disable)."
    )]
    TlsRequired { target: String },
    #[error(
        "TLS with the server at {target} failed: {reason}.\n\
         Check sslmode and sslrootcert in --database-url: verify-full needs the host \
         name the certificate was made for and the CA that signed it \
         (sslrootcert=/path/to/ca.pem); see docs/operations.md."
    )]
    Tls { target: String, reason: String },
    #[error(
        "the database URL names no host.\n\
         Write it as postgres://USER:PASSWORD@HOST:PORT/DB (or host=/path/to/socket/dir)."
    )]
    NoHost,
    #[error(
        "the server refused user '{user}': {reason} (SQLSTATE 28000).\n\
         Peer and ident authentication only admit the operating-system user of the \
         same name: connect over TCP with a password (postgres://{user}:PASSWORD@127.0.0.1/DB), \
         or add a pg_hba.conf line for this user, database and address and reload \
         PostgreSQL. If the role does not exist, create it: CREATE ROLE \"{user}\" LOGIN PASSWORD '...';"
    )]
    AuthRefused { user: String, reason: String },
    #[error(
        "database '{database}' does not exist on the server (SQLSTATE 3D000).\n\
         Create it (createdb -O {user} {database}, or CREATE DATABASE \"{database}\" OWNER \"{user}\";) \
         or name an existing one at the end of --database-url."
    )]
    NoDatabase { database: String, user: String },
    #[error(
        "nothing answers at {target} ({reason}).\n\
         Is PostgreSQL running and listening there? Check the host and port in \
         --database-url, `pg_isready -h HOST -p PORT`, and listen_addresses in postgresql.conf."
    )]
    ServerDown { target: String, reason: String },
    #[error(
        "no answer from {target} within 5 seconds.\n\
         Check the host and port in --database-url and that no firewall drops the connection."
    )]
    Timeout { target: String },
    #[error(
        "the server at {target} has no connection slot left (SQLSTATE 53300).\n\
         Lower --database-pool-size across instances or raise max_connections."
    )]
    TooManyConnections { target: String },
    #[error(
        "the server at {target} is starting up or shutting down (SQLSTATE 57P03); try again shortly."
    )]
    Starting { target: String },
    #[error("{0}")]
    Other(String),
}

/// A refused membership change, as the store has always answered it.
impl From<MembershipError> for StoreError {
    fn from(e: MembershipError) -> Self {
        match e {
            MembershipError::UnknownUser(u) => StoreError::UnknownUser(u.0),
            MembershipError::GroupFull { limit, room } => StoreError::GroupFull { limit, room },
            MembershipError::AlreadyMember(u) => StoreError::AlreadyMember(u.0),
            MembershipError::NotAMember(u) => StoreError::NotAMember(u.0),
        }
    }
}

impl From<RemovalError> for StoreError {
    fn from(e: RemovalError) -> Self {
        match e {
            RemovalError::UnknownGroup(_) | RemovalError::UnknownSuccessor(_) => {
                StoreError::NotFound(Entity::Group)
            }
            RemovalError::BuiltinGroup(id) => StoreError::BuiltinGroup(id.0),
            RemovalError::SuccessorAmongRemoved(id) => StoreError::SuccessorAmongRemoved(id.0),
            RemovalError::DefaultCategory => StoreError::DefaultCategory,
            RemovalError::UnknownCategory(id) => StoreError::UnknownCategory(id),
        }
    }
}

impl From<ReferenceError> for StoreError {
    fn from(e: ReferenceError) -> Self {
        match e {
            ReferenceError::UnknownCategory(id) => StoreError::UnknownCategory(id),
            ReferenceError::UnknownField(id) => StoreError::UnknownField(id),
        }
    }
}

impl From<FieldIdTaken> for StoreError {
    fn from(e: FieldIdTaken) -> Self {
        StoreError::AlreadyExists(format!("custom field {}", e.0))
    }
}

/// What a [`StoreError::NotFound`] did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Workspace,
    Key,
    Group,
    User,
    Webhook,
    Delivery,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Workspace => "workspace",
            Entity::Key => "key",
            Entity::Group => "group",
            Entity::User => "user",
            Entity::Webhook => "webhook",
            Entity::Delivery => "delivery",
        })
    }
}
