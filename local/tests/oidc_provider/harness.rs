//! Starts `tests/oidc/provider.mjs` on a free loopback port, reads its ready
//! line, asks it for tokens, and stops it when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

/// What the provider prints, followed by [`Ready`] as JSON, once it serves.
const READY: &str = "oidc-provider ready ";
/// Node starts it in well under a second here; the rest is a loaded CI.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The provider's ready line: its issuer, audiences and clients.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    pub issuer: String,
    /// The items API: resource indicator and `aud` of its RS256 tokens.
    pub api: String,
    /// A resource indicator whose tokens have the API's `aud`, signed ES256
    /// (about half of them in high-S form: the provider does not normalise).
    pub api_es256: String,
    /// A resource indicator whose tokens have the API's `aud` and the
    /// provider's own scope names: `Items.Read`, `Items.Write`, `Items.Delete`.
    pub api_own_scopes: String,
    /// Another API's resource indicator and audience.
    pub other_audience: String,
    /// The confidential client of the client_credentials grant.
    pub machine: Client,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
}

/// A running provider; killed when dropped.
pub struct Provider {
    child: Child,
    /// Held open: the provider exits when it closes (`--exit-with-stdin`),
    /// so a test binary that dies without dropping this leaves no provider.
    _stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    pub ready: Ready,
    http: reqwest::Client,
}

impl Provider {
    /// Starts a provider and waits for its ready line.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a provider with these flags of `provider.mjs` (e.g.
    /// `--rsa-kid`) and waits for its ready line.
    pub fn start_with(flags: &[&str]) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "the OpenID Provider's packages are not installed in {}: run scripts/oidc-provider.sh",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg("--exit-with-stdin")
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (Node.js 20 or later): {e}"));
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            // Read to the end: a full pipe would block the provider.
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(json) = line.strip_prefix(READY) {
                    let _ = tx.send(json.to_owned());
                }
            }
        });
        let Ok(json) = rx.recv_timeout(START_TIMEOUT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the provider printed no ready line; its stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        Self {
            child,
            _stdin: stdin,
            stderr,
            ready: serde_json::from_str(&json).unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// What the provider wrote on stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `GET` a JSON document of the provider (discovery, JWKS).
    pub async fn get_json(&self, url: &str) -> Value {
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {url}: {}", self.stderr());
        response.json().await.unwrap()
    }

    /// The discovery document, where a relying party starts.
    pub async fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.ready.issuer);
        self.get_json(&url).await
    }

    /// The client_credentials grant for `resource` (RFC 8707) and `scope`,
    /// with HTTP Basic client authentication, at the token endpoint that
    /// discovery names: the status and the JSON answer.
    pub async fn client_credentials(&self, resource: &str, scope: &str) -> (StatusCode, Value) {
        let discovery = self.discovery().await;
        let endpoint = discovery["token_endpoint"].as_str().unwrap();
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("resource", resource)
            .append_pair("scope", scope)
            .finish();
        let machine = &self.ready.machine;
        let response = self
            .http
            .post(endpoint)
            .basic_auth(&machine.client_id, Some(&machine.client_secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// An access token for `resource` and `scope`; any other answer fails
    /// the test.
    pub async fn access_token(&self, resource: &str, scope: &str) -> String {
        let (status, body) = self.client_credentials(resource, scope).await;
        assert_eq!(status, 200, "{body}\n{}", self.stderr());
        body["access_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
