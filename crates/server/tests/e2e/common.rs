//! Test harness: runs the real `symbiont` binary on a random port with a throw-away data directory
//! and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_symbiont");

pub struct Server {
    child: Child,
    pub base: String,
    /// `http://127.0.0.1:<port>` of the gRPC listener (its own free port).
    pub grpc: String,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts `symbiont serve` on 127.0.0.1:0 over `data_dir` and waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// Starts the server and signs in as the harness's platform admin (created on first use), so
    /// `client` sends its access token with every request. Rate limits are off unless `env` turns
    /// them on.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut server = Self::start_anonymous(data_dir, extra, env);
        ensure_user(data_dir, env, HARNESS_EMAIL, HARNESS_PASSWORD, true);
        let token = server.login(HARNESS_EMAIL, HARNESS_PASSWORD);
        server.client = client_with_token(Some(&token));
        server
    }

    /// Starts the server with a client that sends no credentials.
    pub fn start_anonymous(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("SYMBIONT_LOG_LEVEL", "warn")
            .env("SYMBIONT_RATE_LIMIT_ENABLED", "false")
            // Servers of parallel tests each take a free port for gRPC too.
            .env("SYMBIONT_GRPC_BIND", "127.0.0.1:0")
            .env_remove("SYMBIONT_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the symbiont binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = tx.send((false, address.to_string()));
                }
                if let Some(address) = line.strip_prefix("grpc listening on ") {
                    let _ = tx.send((true, address.to_string()));
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((false, base)) => base,
            _ => {
                let _ = child.kill();
                panic!("server did not start within 60 s");
            }
        };
        // The gRPC line follows the HTTP one at once (none when the environment turns gRPC off).
        let grpc = match rx.recv_timeout(Duration::from_secs(2)) {
            Ok((true, address)) => address,
            _ => String::new(),
        };
        Server {
            child,
            base,
            grpc,
            client: client_with_token(None),
        }
    }

    /// Signs in and returns the access token (blocking: usable outside the test's runtime).
    pub fn login(&self, email: &str, password: &str) -> String {
        let url = self.url("/api/v1/auth/login");
        let body = json!({ "email": email, "password": password });
        let answer: Value = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("login answered");
                read(response).await.1
            })
        })
        .join()
        .expect("login thread");
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {answer}"))
            .to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("GET answered");
        read(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST answered");
        read(response).await
    }

    pub async fn patch(&self, path: &str, body: &Value, if_match: Option<&str>) -> (u16, Value) {
        let mut request = self.client.patch(self.url(path)).json(body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        read(request.send().await.expect("PATCH answered")).await
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE answered")
            .status()
            .as_u16()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The platform admin every harness server signs in as.
pub const HARNESS_EMAIL: &str = "harness-admin@symbiont.test";
pub const HARNESS_PASSWORD: &str = "harness-password";

/// A client that sends `token` (an access token or API key) with every request.
pub fn client_with_token(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header value"),
        );
    }
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Creates a user with `symbiont admin create-user` over the same store as the server (the
/// environment may name PostgreSQL); an existing user is fine.
pub fn ensure_user(
    data_dir: &Path,
    env: &[(&str, &str)],
    email: &str,
    password: &str,
    admin: bool,
) {
    let mut command = Command::new(BIN);
    command
        .args([
            "admin",
            "create-user",
            "--email",
            email,
            "--password",
            password,
            "--data-dir",
        ])
        .arg(data_dir)
        .env("SYMBIONT_LOG_LEVEL", "warn")
        .env_remove("SYMBIONT_CONFIG");
    if admin {
        command.arg("--admin");
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("admin create-user runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("exists already"),
        "admin create-user failed: {stderr}"
    );
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn data_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data")
}

/// The fields named in a problem document's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn business_body(name: &str) -> Value {
    json!({ "name": name, "industry": "C11.05", "description": "brewery", "contact": { "email": "info@example.com" } })
}

pub fn site_body(lat: f64, lon: f64) -> Value {
    json!({ "name": "Main works", "address": "Hafenstraße 1", "location": { "lat": lat, "lon": lon } })
}

/// Creates a business with one site; returns (business id, site id).
pub async fn business_with_site(
    server: &Server,
    name: &str,
    lat: f64,
    lon: f64,
) -> (String, String) {
    let (status, business) = server
        .post("/api/v1/businesses", &business_body(name))
        .await;
    assert_eq!(status, 201, "{business}");
    let id = business["id"].as_str().expect("id").to_string();
    let (status, site) = server
        .post(
            &format!("/api/v1/businesses/{id}/sites"),
            &site_body(lat, lon),
        )
        .await;
    assert_eq!(status, 201, "{site}");
    (id, site["id"].as_str().expect("id").to_string())
}

pub fn heat_flow(site_id: &str, direction: &str, temperature_c: f64, kw: f64) -> Value {
    json!({
        "site_id": site_id,
        "direction": direction,
        "category": "heat.low_temp",
        "quality": { "temperature_c": temperature_c },
        "quantity": { "value": kw, "unit": "kW" },
        "profile": "Mon-Fri 06:00-22:00",
    })
}

/// A throw-away PostgreSQL database on `SYMBIONT_TEST_POSTGRES_URL` (default: the loopback
/// server), dropped when this value goes. `None` when the server is unreachable, which fails the
/// test under `CI=true`.
/// The signing secret every PostgreSQL-backed test server gets (`serve` requires one with
/// PostgreSQL); instances over one database share it, as a real deployment's would.
pub const POSTGRES_SIGNING_SECRET: &str = "e2e-signing-secret-of-at-least-32-characters";

pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    pub fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("SYMBIONT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("symbiont_test_{}", uuid::Uuid::now_v7().simple());
        let created = Command::new("psql")
            .arg(&admin_url)
            .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
            .output();
        match created {
            Ok(output) if output.status.success() => {}
            other => {
                let why = match other {
                    Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("PostgreSQL is required under CI=true: {why}");
                }
                eprintln!("skipping: PostgreSQL unavailable ({why})");
                return None;
            }
        }
        let server = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(server, _)| server);
        Some(TestDatabase {
            url: format!("{server}/{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A free TCP port on loopback for a private test server.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a private server process and waits until it accepts connections on `port`.
pub fn start_listening(command: &mut Command, port: u16) -> Option<Child> {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Stops a private server process.
pub fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A service a test needs is missing: a failure under `CI=true`, otherwise a skip (the caller returns).
pub fn service_missing(what: &str, error: impl std::fmt::Display) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required under CI=true but unavailable: {error}");
    }
    eprintln!("skipping: {what} unavailable ({error})");
}
