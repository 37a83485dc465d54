//! Test helpers: start the real `groupd` binary on port 0 in a fresh data directory
//! and talk HTTP to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_groupd");
/// The configuration file a test data directory may hold (naming its PostgreSQL
/// database when the suite runs on PostgreSQL).
pub const CONFIG: &str = "groupd-test.toml";

/// Whether the integration tests run on PostgreSQL (GROUPD_TEST_ENGINE=postgres)
/// rather than SQLite.
pub fn on_postgres() -> bool {
    std::env::var("GROUPD_TEST_ENGINE").is_ok_and(|e| e == "postgres")
}

/// `--config FILE` for a data directory that has one.
pub fn config_args(dir: &Path) -> Vec<std::ffi::OsString> {
    let file = dir.join(CONFIG);
    if file.exists() {
        vec!["--config".into(), file.into_os_string()]
    } else {
        Vec::new()
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The default workspace's first key (printed by the first start).
    pub key: String,
    pub dir: PathBuf,
    pub client: reqwest::Client,
    child: Child,
    _tmp: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestApp {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `kB` line of the server's /proc status: `VmRSS` (now) or `VmHWM` (peak).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

/// Starts groupd on a fresh database, with icons from loopback allowed.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&["--allow-private-targets"]).await
}

/// Starts groupd on a fresh database with extra `serve` flags.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().to_path_buf();
    if on_postgres() {
        let url = fresh_pg_database().await;
        std::fs::write(dir.join(CONFIG), format!("database_url = \"{url}\"\n")).expect("config");
    }
    let mut app = start(&dir, extra, None);
    app._tmp = Some(tmp);
    app
}

/// Starts groupd on an existing data directory (a restart). `key` is the key to use,
/// since only the first start prints one.
pub fn start(dir: &Path, extra: &[&str], key: Option<String>) -> TestApp {
    start_command(Command::new(BIN), dir, extra, key, Stdio::inherit())
}

/// Starts groupd on a fresh database logging at `level` (`GROUPD_LOG`) into `log`.
pub async fn spawn_app_logged(level: &str, log: &Path) -> TestApp {
    spawn_app_logged_with(level, log, &[]).await
}

/// [`spawn_app_logged`] with more environment variables (`GROUPD_LOG_FORMAT`, ...).
pub async fn spawn_app_logged_with(level: &str, log: &Path, env: &[(&str, &str)]) -> TestApp {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().to_path_buf();
    if on_postgres() {
        let url = fresh_pg_database().await;
        std::fs::write(dir.join(CONFIG), format!("database_url = \"{url}\"\n")).expect("config");
    }
    let file = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(BIN);
    cmd.env("GROUPD_LOG", level);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut app = start_command(cmd, &dir, &["--icon-allow-private"], None, file.into());
    app._tmp = Some(tmp);
    app
}

fn start_command(
    mut cmd: Command,
    dir: &Path,
    extra: &[&str],
    key: Option<String>,
    stderr: Stdio,
) -> TestApp {
    if !cmd.get_envs().any(|(k, _)| k == "GROUPD_LOG") {
        cmd.env("GROUPD_LOG", "warn");
    }
    let mut child = cmd
        .arg("--data-dir")
        .arg(dir)
        .args(config_args(dir))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("GROUPD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start groupd");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut key = key;
    let mut address = None;
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("Created workspace") {
            if let Some(Ok(k)) = lines.next() {
                key = Some(k.trim().to_string());
            }
        } else if let Some(rest) = line.strip_prefix("groupd listening on ") {
            address = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let address = address.expect("groupd did not print its address");
    TestApp {
        address,
        key: key.expect("no API key printed"),
        dir: dir.to_path_buf(),
        client: reqwest::Client::new(),
        child,
        _tmp: None,
    }
}

/// Starts groupd on a data directory with its file descriptor limit (soft and hard)
/// set to `limit`.
pub fn start_with_fd_limit(dir: &Path, limit: u64) -> TestApp {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(BIN);
    // SAFETY: setrlimit is async-signal-safe; it only sets the child's own limit.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    start_command(cmd, dir, &[], None, Stdio::inherit())
}

/// Raises this test process's own file descriptor limit to its hard limit, for
/// tests that open hundreds of connections.
pub fn raise_own_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Runs a groupd administration command on a data directory.
pub fn groupd(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(config_args(dir))
        .args(args)
        .env("GROUPD_LOG", "warn")
        .env_remove("GROUPD_CONFIG")
        .output()
        .expect("run groupd")
}

/// Like [`groupd`], but the command must succeed; returns its stdout.
pub fn groupd_ok(dir: &Path, args: &[&str]) -> String {
    let out = groupd(dir, args);
    assert!(
        out.status.success(),
        "groupd {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Defines custom field `id` (`groupd field add`) in the default workspace.
pub fn add_field(dir: &Path, id: &str, name: &str, kind: &str) {
    groupd_ok(
        dir,
        &["field", "add", "--id", id, "--name", name, "--type", kind],
    );
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Everything the store holds, as bytes: the SQLite files, or a pg_dump of the
    /// PostgreSQL database. For checks that secrets are never stored in clear.
    pub fn stored_bytes(&self) -> Vec<u8> {
        let config = self.dir.join(CONFIG);
        if let Ok(text) = std::fs::read_to_string(&config) {
            let url = text
                .split('"')
                .nth(1)
                .expect("database_url in the test config")
                .to_string();
            let bin = std::env::var("GROUPD_TEST_PG_BIN").expect("GROUPD_TEST_PG_BIN");
            let out = Command::new(format!("{bin}/pg_dump"))
                .args(["--data-only", &url])
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return out.stdout;
        }
        let mut bytes = std::fs::read(self.dir.join("groupd.db")).expect("database file");
        bytes.extend(std::fs::read(self.dir.join("groupd.db-wal")).unwrap_or_default());
        bytes
    }

    /// Kills the server with SIGKILL, leaving the data directory in place.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server (SIGKILL) and returns its data directory's owner.
    pub fn stop(mut self) -> Option<tempfile::TempDir> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self._tmp.take()
    }

    /// POSTs urlencoded fields to /api_request/; returns status and raw body.
    pub async fn post_form(&self, fields: &[(&str, &str)]) -> (u16, String) {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.post_raw("application/x-www-form-urlencoded", body.into_bytes())
            .await
    }

    pub async fn post_raw(&self, content_type: &str, body: Vec<u8>) -> (u16, String) {
        let r = self
            .client
            .post(self.url("/api_request/"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// POSTs multipart/form-data fields to /api_request/.
    pub async fn post_multipart(&self, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let r = self
            .client
            .post(self.url("/api_request/"))
            .multipart(form)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// A Grupo call with this app's key added; the parsed JSON answer.
    pub async fn grupo(&self, fields: &[(&str, &str)]) -> serde_json::Value {
        let mut all = vec![("api_secret_key", self.key.as_str())];
        all.extend_from_slice(fields);
        let (status, body) = self.post_form(&all).await;
        assert_eq!(status, 200, "unexpected status for {fields:?}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, fields: &[(&str, &str)]) -> i64 {
        let mut all = vec![("add", "groups")];
        all.extend_from_slice(fields);
        let v = self.grupo(&all).await;
        assert_eq!(v["success"], true, "create failed: {v}");
        v["group_id"].as_i64().expect("group_id")
    }

    /// The stored group, as `groupd group show` prints it.
    pub fn show_group(&self, reference: &str) -> serde_json::Value {
        self.show_group_in(reference, "default")
    }

    pub fn show_group_in(&self, reference: &str, workspace: &str) -> serde_json::Value {
        let out = groupd_ok(&self.dir, &["group", "show", reference, "-w", workspace]);
        serde_json::from_str(&out).expect("group JSON")
    }

    /// Whether `groupd group show` finds the group.
    pub fn group_exists(&self, reference: &str) -> bool {
        groupd(&self.dir, &["group", "show", reference])
            .status
            .success()
    }

    /// Every group in the default workspace but the three built-in ones.
    pub fn all_groups(&self) -> Vec<serde_json::Value> {
        groupd_ok(&self.dir, &["group", "list"])
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("group JSON line"))
            .filter(|g| g["builtin"].is_null())
            .collect()
    }
}

/// Percent-encodes a form component the way PHP's urlencode does.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl TestApp {
    /// A REST call with this app's key; status and parsed JSON (Null for no body).
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.rest_with(method, path, body, &[]).await
    }

    pub async fn rest_with(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let value = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, value)
    }
}

/// The admin URL of the test PostgreSQL server (scripts/test and
/// scripts/with-postgres set it).
pub fn pg_admin_url() -> String {
    std::env::var("GROUPD_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "GROUPD_TEST_PG_URL is not set: run the suite with scripts/test \
             (or scripts/with-postgres cargo test), which starts a PostgreSQL server"
        )
    })
}

/// Creates an empty database on the test server; returns its URL.
pub async fn fresh_pg_database() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let admin = pg_admin_url();
    let name = format!(
        "groupd_t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("GROUPD_TEST_PG_URL has no database part: {admin}"),
    }
}

/// Creates a user and a group with one name at the same moment, `rounds` times
/// (a new name each round), the user through `a` and the group through `b` on
/// even rounds and the other way round on odd ones (`a` and `b` may be one app).
/// Both carry a password, so both spend the same argon2 time before they write
/// and reach the database together. Exactly one must get the name each round.
/// Returns how many rounds the user won.
pub async fn race_username_against_slug(
    a: &std::sync::Arc<TestApp>,
    b: &std::sync::Arc<TestApp>,
    rounds: usize,
) -> usize {
    use serde_json::json;
    let mut users = 0;
    for i in 0..rounds {
        let name = format!("racer{i}");
        let (to_user, to_group) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let user = {
            let app = to_user.clone();
            let body = json!({"full_name": "R", "username": name, "email": format!("{name}@x.org"), "password": "secret-pw"});
            tokio::spawn(async move { app.rest("POST", "/api/v1/users", Some(body)).await })
        };
        let group = {
            let app = to_group.clone();
            let body = json!({"name": "R", "slug": name, "password": "secret-pw"});
            tokio::spawn(async move { app.rest("POST", "/api/v1/groups", Some(body)).await })
        };
        let (user, group) = (
            user.await.expect("user task"),
            group.await.expect("group task"),
        );
        match (user.0, group.0) {
            (201, 409) => {
                assert_eq!(
                    group.1["error"]["key"], "slug_already_exists",
                    "{}",
                    group.1
                );
                users += 1;
            }
            (409, 201) => assert_eq!(user.1["error"]["key"], "username_exists", "{}", user.1),
            _ => panic!(
                "round {i}: user {} {}, group {} {}: exactly one must get the name",
                user.0, user.1, group.0, group.1
            ),
        }
    }
    users
}

static NEXT_CLUSTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A private PostgreSQL cluster a test may stop, start and configure (its own
/// authentication, say), on a free loopback port.
pub struct PgCluster {
    bin: String,
    pub dir: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl PgCluster {
    fn pg(&self, tool: &str) -> Command {
        let path = format!("{}/{tool}", self.bin);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(path)
        }
    }

    /// A cluster that trusts every connection.
    pub fn new() -> PgCluster {
        PgCluster::with_auth(&["-A", "trust"])
    }

    /// A cluster whose superuser `postgres` has the password `password`: TCP
    /// connections need it (scram-sha-256), socket connections use peer
    /// authentication.
    pub fn with_password(password: &str) -> PgCluster {
        let file = std::env::temp_dir().join(format!("groupd-pw-{}", std::process::id()));
        std::fs::write(&file, format!("{password}\n")).unwrap();
        let _ = Command::new("chmod").arg("644").arg(&file).status();
        let pw = format!("--pwfile={}", file.display());
        let c = PgCluster::with_auth(&["--auth-host=scram-sha-256", "--auth-local=peer", &pw]);
        let _ = std::fs::remove_file(&file);
        c
    }

    fn with_auth(auth: &[&str]) -> PgCluster {
        let bin =
            std::env::var("GROUPD_TEST_PG_BIN").expect("GROUPD_TEST_PG_BIN (run scripts/test)");
        let dir = std::env::temp_dir().join(format!(
            "groupd-pg-{}-{}",
            std::process::id(),
            NEXT_CLUSTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if root {
            Command::new("chown")
                .args(["postgres"])
                .arg(&dir)
                .status()
                .unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = PgCluster {
            bin,
            dir,
            port,
            as_postgres: root,
        };
        let st = c
            .pg("initdb")
            .args(auth)
            .args(["-U", "postgres", "--no-sync", "-D"])
            .arg(c.dir.join("data"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        c.start();
        c
    }

    pub fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let st = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-o", &opts, "start"])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    pub fn stop(&self) {
        let st = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A cluster that speaks only TLS over TCP, with a certificate for
    /// `localhost` (not 127.0.0.1) signed by a throwaway CA. Returns the cluster
    /// and the CA certificate's path (PEM).
    pub fn with_tls() -> (PgCluster, PathBuf) {
        let c = PgCluster::new();
        c.stop();
        let data = c.dir.join("data");
        let certs = c.dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&certs)
                .output()
                .expect("openssl (apt-get install openssl)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=groupd test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            certs.join("ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext",
        ]);
        for f in ["server.crt", "server.key"] {
            std::fs::copy(certs.join(f), data.join(f)).unwrap();
        }
        if c.as_postgres {
            Command::new("chown")
                .args(["postgres"])
                .arg(data.join("server.crt"))
                .arg(data.join("server.key"))
                .status()
                .unwrap();
        }
        Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key"))
            .status()
            .unwrap();
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        use std::io::Write as _;
        writeln!(
            conf,
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'"
        )
        .unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        c.start();
        (c, certs.join("ca.crt"))
    }

    /// Whether every TCP connection to the cluster right now is encrypted
    /// (asked over the local socket); `None` when there is none.
    pub fn tcp_connections_encrypted(&self) -> Option<bool> {
        let out = self
            .pg("psql")
            .args(["-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-Atc",
                "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.client_addr IS NOT NULL",
            ])
            .output()
            .unwrap();
        match String::from_utf8_lossy(&out.stdout).trim() {
            "t" => Some(true),
            "f" => Some(false),
            _ => None,
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
pub mod receiver;

/// The app's database, opened directly (for tests that must look at or move
/// stored rows).
enum Db {
    Postgres(tokio_postgres::Client),
    Sqlite(rusqlite::Connection),
}

impl TestApp {
    async fn db(&self) -> Db {
        match std::fs::read_to_string(self.dir.join(CONFIG)) {
            Ok(text) => {
                let url = text.split('"').nth(1).expect("database_url").to_string();
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect to the app's database");
                tokio::spawn(conn);
                Db::Postgres(client)
            }
            Err(_) => {
                let conn = rusqlite::Connection::open(self.dir.join("groupd.db")).expect("open");
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .expect("busy timeout");
                Db::Sqlite(conn)
            }
        }
    }

    /// Runs SQL statements directly on the app's database (SQLite file or
    /// PostgreSQL), for tests that must move stored time (an expired session).
    pub async fn sql(&self, statements: &str) {
        match self.db().await {
            Db::Postgres(c) => c.batch_execute(statements).await.expect("sql"),
            Db::Sqlite(c) => c.execute_batch(statements).expect("sql"),
        }
    }

    /// The number a `SELECT count(*) ...` gives on the app's database.
    pub async fn sql_count(&self, query: &str) -> i64 {
        match self.db().await {
            Db::Postgres(c) => c.query_one(query, &[]).await.expect("count").get(0),
            Db::Sqlite(c) => c.query_row(query, [], |r| r.get(0)).expect("count"),
        }
    }
}

impl TestApp {
    /// The status of `GET /api/v1/groups` with `key` (whether a key works).
    pub async fn status_with_key(&self, key: &str) -> u16 {
        reqwest::Client::new()
            .get(self.url("/api/v1/groups"))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// The id of the default workspace's built-in Admin group.
    pub async fn admin_group_id(&self) -> serde_json::Value {
        let (_, groups) = self.rest("GET", "/api/v1/groups?limit=10", None).await;
        groups["items"]
            .as_array()
            .expect("a page of groups")
            .iter()
            .find(|g| g["builtin"] == "admin")
            .expect("the Admin group")["id"]
            .clone()
    }
}
