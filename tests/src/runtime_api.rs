//! The Lambda Runtime API on loopback, for tests that run a function's real
//! binary as Lambda runs it.
//!
//! [`Launch`] starts the binary with `AWS_LAMBDA_RUNTIME_API` pointing at an
//! emulation of the API (`/2018-06-01/runtime/invocation/next`,
//! `/invocation/{id}/response`, `/invocation/{id}/error`, `/init/error`)
//! and an environment that cannot reach the cloud: a region, dummy
//! credentials, the instance metadata probe off, and every endpoint on
//! loopback (the caller's `AWS_ENDPOINT_URL*` values must be loopback too).
//! [`Function::invoke`] hands it one event and waits, bounded, for what it
//! posted back; [`Function::finish`] stops it and returns every line it
//! wrote on stdout and stderr. The process is killed on drop. The same
//! address serves the documents a test gives it ([`Launch::document`]: a
//! JWKS, a discovery document), so a function under test needs no second
//! server; anything else there is a 404, which is also where the SDK's
//! calls end unless the test points them at moto.
//!
//! The API is served as Lambda serves it: HTTP/1.1 with keep-alive, `/next`
//! held open until there is an event, answers 202 `{"status":"OK"}`, an
//! unknown request id 400 `InvalidRequestID`, and each answer's head and
//! body in one write. The last matters: hyper (the runtime's client) reuses
//! a connection after a response only when the body it drops unread is
//! already in its buffer, so an answer in two segments would cost a new
//! connection per invocation, which the real service does not
//! (`scripts/invocation-cpu.py` measured it).
//!
//! ```no_run
//! use e2e::runtime_api::{Launch, Outcome};
//!
//! let launch = Launch::new("target/debug/authorizer")?;
//! let jwks_uri = launch.url("/jwks.json");
//! let mut function = launch
//!     .document("/jwks.json", br#"{"keys":[]}"#.to_vec())
//!     .env("JWKS_URI", jwks_uri)
//!     .env("COGNITO_USER_POOL_ID", "us-east-1_Pool1")
//!     .env("COGNITO_CLIENT_IDS", "client1")
//!     .start()?;
//! let outcome = function.invoke(&serde_json::json!({
//!     "type": "TOKEN",
//!     "authorizationToken": "Bearer a.b.c",
//!     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items",
//! }));
//! assert!(matches!(outcome, Outcome::Error(e) if e.error_message == "Unauthorized"));
//! for line in function.finish() {
//!     println!("{}: {}", line.stream, line.text);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How long [`Function::invoke`] waits for an answer unless told otherwise:
/// a debug build's cold start included, with room for a loaded machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The function's name, as `AWS_LAMBDA_FUNCTION_NAME` and in its ARN.
const FUNCTION_NAME: &str = "function";

const PREFIX: &str = "/2018-06-01/runtime";

/// What a function did with an event, or instead of answering it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It posted a response: the body, as JSON (a body that is not JSON is
    /// a JSON string of its text).
    Response(Value),
    /// It posted an error for the invocation.
    Error(FunctionError),
    /// It posted an initialization error (`/init/error`).
    InitError(FunctionError),
    /// The process ended without answering.
    Exited(ExitStatus),
    /// Nothing within the time allowed.
    TimedOut,
}

/// An error a function posted (`/invocation/{id}/error` or `/init/error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// The body's `errorType`.
    pub error_type: String,
    /// The body's `errorMessage`.
    pub error_message: String,
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub error_type_header: Option<String>,
}

/// The stream a line was written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// One line the process wrote, without its newline (invalid UTF-8
/// replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Where it was written.
    pub stream: Stream,
    /// What was written.
    pub text: String,
}

impl Line {
    /// The line as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }
}

/// A run's lines as JSON, split into the cold start's and each
/// invocation's ([`by_invocation`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogLines {
    /// The lines written before any line of an invocation.
    pub cold_start: Vec<Value>,
    /// Each invocation's lines, by request id, in the order written.
    pub invocations: BTreeMap<String, Vec<Value>>,
}

impl LogLines {
    /// The lines of the invocation `request_id` (none if it wrote none).
    pub fn of(&self, request_id: &str) -> &[Value] {
        self.invocations.get(request_id).map_or(&[], Vec::as_slice)
    }
}

/// Reads `lines` as CloudWatch Logs Insights would have to: every line one
/// JSON object, and every line after the cold start's carrying the
/// `requestId` of its invocation. The cold start's lines are those on
/// stdout before the first line with a `requestId` (they belong to no
/// invocation); a line on stderr belongs to an invocation. An error names
/// the first line that breaks the rule.
pub fn by_invocation(lines: &[Line]) -> Result<LogLines, String> {
    let mut out = LogLines::default();
    let mut started = false;
    for line in lines {
        let value = line
            .json()
            .filter(Value::is_object)
            .ok_or_else(|| format!("not a JSON object on {}: {}", line.stream, line.text))?;
        match value.get("requestId").and_then(Value::as_str) {
            Some(id) => {
                started |= line.stream == Stream::Stdout;
                out.invocations
                    .entry(id.to_owned())
                    .or_default()
                    .push(value);
            }
            None if !started && line.stream == Stream::Stdout => out.cold_start.push(value),
            None => {
                return Err(format!(
                    "a line without its invocation's requestId on {}: {}",
                    line.stream, line.text
                ));
            }
        }
    }
    Ok(out)
}

/// An event to hand over, with the headers Lambda sends with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Trace-Id`, when tracing is on.
    pub trace_id: Option<String>,
    /// The payload.
    pub body: Vec<u8>,
}

/// How to start a function (see the module's documentation). The API's
/// address is taken when the launch is made, so the environment can name it
/// ([`Self::url`]).
#[derive(Debug)]
pub struct Launch {
    binary: PathBuf,
    listener: TcpListener,
    addr: SocketAddr,
    env: Vec<(String, Option<String>)>,
    documents: Vec<(String, Vec<u8>)>,
    timeout: Duration,
}

impl Launch {
    /// A launch of `binary` with the default environment, its API bound to
    /// a free loopback port.
    pub fn new(binary: impl Into<PathBuf>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        Ok(Launch {
            binary: binary.into(),
            addr: listener.local_addr()?,
            listener,
            env: Vec::new(),
            documents: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// `http://<the API's address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `body` (JSON) at `GET path` on the API's address.
    pub fn document(mut self, path: impl Into<String>, body: Vec<u8>) -> Self {
        self.documents.push((path.into(), body));
        self
    }

    /// Sets a variable of the function's environment (after the defaults,
    /// so it may replace one).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), Some(value.into())));
        self
    }

    /// Removes a variable, a default included (never the metadata switch).
    pub fn env_remove(mut self, name: impl Into<String>) -> Self {
        self.env.push((name.into(), None));
        self
    }

    /// How long each wait for the function lasts (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Serves the API and starts the process. Refuses (`InvalidInput`) an
    /// `AWS_ENDPOINT_URL*` that is not plain http on a loopback address.
    pub fn start(self) -> io::Result<Function> {
        let Launch {
            binary,
            listener,
            addr,
            env: requested,
            documents,
            timeout,
        } = self;
        let mut env = default_env(addr);
        for (name, value) in requested {
            env.retain(|(n, _)| *n != name);
            if let Some(value) = value {
                env.push((name, value));
            }
        }
        // Never the instance metadata address, whatever the caller asked.
        env.retain(|(n, _)| n != "AWS_EC2_METADATA_DISABLED");
        env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        if let Some((name, value)) = env
            .iter()
            .find(|(n, v)| n.starts_with("AWS_ENDPOINT_URL") && !is_loopback_http(v))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}={value} is not plain http on a loopback address"),
            ));
        }

        let shared = Arc::new(Shared::default());
        shared.lock().documents = documents;
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept(&listener, &shared))
        };
        let mut child = Command::new(&binary)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(read_lines(out, Stream::Stdout, Arc::clone(&lines)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(read_lines(err, Stream::Stderr, Arc::clone(&lines)));
        }
        Ok(Function {
            child,
            addr,
            shared,
            acceptor: Some(acceptor),
            readers,
            lines,
            timeout,
            next_id: AtomicU64::new(1),
        })
    }
}

/// The environment every function gets before the caller's variables:
/// Lambda's own, and what keeps the SDK on loopback.
fn default_env(addr: SocketAddr) -> Vec<(String, String)> {
    let pairs = [
        ("AWS_LAMBDA_RUNTIME_API", addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{FUNCTION_NAME}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "emulated".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        // Any AWS call the test did not point elsewhere ends here, on a
        // 404, never at a real endpoint.
        ("AWS_ENDPOINT_URL", format!("http://{addr}")),
    ];
    pairs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A running function and the API it talks to.
#[derive(Debug)]
pub struct Function {
    child: Child,
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    lines: Arc<Mutex<Vec<Line>>>,
    timeout: Duration,
    next_id: AtomicU64,
}

impl Function {
    /// The emulated API's address (`AWS_LAMBDA_RUNTIME_API`).
    pub fn runtime_api(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Serves `body` at `GET path` from now on (a JWKS after a rotation).
    pub fn set_document(&self, path: &str, body: Vec<u8>) {
        let mut state = self.shared.lock();
        state.documents.retain(|(p, _)| p != path);
        state.documents.push((path.to_owned(), body));
    }

    /// Waits until the function asks for its first event (its cold start is
    /// over): `None`, or what it did instead.
    pub fn wait_ready(&mut self) -> Option<Outcome> {
        let deadline = Instant::now() + self.timeout;
        self.wait(deadline, |state| {
            if let Some(e) = &state.init_error {
                Some(Some(Outcome::InitError(e.clone())))
            } else if state.waiting_for_event > 0 {
                Some(None)
            } else {
                None
            }
        })
        .unwrap_or_else(Some)
    }

    /// Hands `payload` over as the next event, with a fresh request id
    /// (`req-1`, `req-2`, …), and waits for the function's answer.
    pub fn invoke(&mut self, payload: &Value) -> Outcome {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.invoke_event(Event {
            request_id: format!("req-{n}"),
            trace_id: None,
            body: payload.to_string().into_bytes(),
        })
    }

    /// Hands `event` over and waits for the function's answer to it.
    pub fn invoke_event(&mut self, event: Event) -> Outcome {
        let id = event.request_id.clone();
        {
            let mut state = self.shared.lock();
            state.events.push_back(event);
        }
        self.shared.changed.notify_all();
        let deadline = Instant::now() + self.timeout;
        self.wait(deadline, |state| {
            if let Some(at) = state.outcomes.iter().position(|(i, _)| *i == id) {
                state.outcomes.remove(at).map(|(_, outcome)| outcome)
            } else {
                state.init_error.clone().map(Outcome::InitError)
            }
        })
        .unwrap_or_else(|failure| failure)
    }

    /// The lines written so far (a line may still be on its way from the
    /// pipe: [`Self::finish`] has them all).
    pub fn lines(&self) -> Vec<Line> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (bounded) until the lines written so far satisfy `done`, for a
    /// test that reads an invocation's lines before the process ends; the
    /// lines, whether or not they did.
    pub fn wait_for_lines(&self, done: impl Fn(&[Line]) -> bool) -> Vec<Line> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let lines = self.lines();
            if done(&lines) || Instant::now() >= deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the process and returns every line it wrote.
    pub fn finish(mut self) -> Vec<Line> {
        self.stop();
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits until `check` has an answer, the process ends, or `deadline`.
    fn wait<T>(
        &mut self,
        deadline: Instant,
        mut check: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, Outcome> {
        let mut state = self.shared.lock();
        loop {
            if let Some(answer) = check(&mut state) {
                return Ok(answer);
            }
            // Checked with the lock held: an answer posted just before the
            // process ended is seen above first.
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Outcome::Exited(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Outcome::TimedOut);
            }
            // Short slices: the process's exit does not notify.
            let slice = (deadline - now).min(Duration::from_millis(20));
            state = self
                .shared
                .changed
                .wait_timeout(state, slice)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.shared.closing.store(true, Ordering::Relaxed);
        self.shared.changed.notify_all();
        // Wakes the acceptor so it sees `closing`.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // The pipes are closed: the readers have read everything.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the API's connections and the test share.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    closing: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Events not yet handed over.
    events: VecDeque<Event>,
    /// Events handed over and not yet answered.
    in_flight: HashSet<String>,
    /// Answers not yet taken by the test.
    outcomes: VecDeque<(String, Outcome)>,
    init_error: Option<FunctionError>,
    /// Served at their paths.
    documents: Vec<(String, Vec<u8>)>,
    /// Calls to `/next` waiting for an event.
    waiting_for_event: usize,
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.closing.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(shared);
        std::thread::spawn(move || {
            let _ = serve(stream, &shared);
        });
    }
}

/// One keep-alive connection.
fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        match answer(shared, &request) {
            // Head and body in one write (see the module's documentation).
            Some(bytes) => writer.write_all(&bytes)?,
            None => return Ok(()),
        }
    }
    Ok(())
}

struct Request {
    method: String,
    path: String,
    error_type: Option<String>,
    body: Vec<u8>,
}

/// Reads one request; `None` at the end of the connection.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    let mut error_type = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "lambda-runtime-function-error-type" => error_type = Some(value.to_owned()),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method,
        path,
        error_type,
        body,
    }))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = size.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// The API's answer to `request`; `None` closes the connection (the
/// emulator is shutting down).
fn answer(shared: &Shared, request: &Request) -> Option<Vec<u8>> {
    let route = request.path.strip_prefix(PREFIX).unwrap_or("");
    let accepted = || reply(202, "Accepted", &[], br#"{"status":"OK"}"#);
    match (request.method.as_str(), route) {
        ("GET", "/invocation/next") => next_event(shared),
        ("POST", "/init/error") => {
            shared.lock().init_error = Some(function_error(request));
            shared.changed.notify_all();
            Some(accepted())
        }
        ("POST", route) if route.starts_with("/invocation/") => {
            let rest = &route["/invocation/".len()..];
            let (id, outcome) = match rest.rsplit_once('/') {
                Some((id, "response")) => (id, Outcome::Response(json_or_text(&request.body))),
                Some((id, "error")) => (id, Outcome::Error(function_error(request))),
                _ => return Some(not_found()),
            };
            let mut state = shared.lock();
            if !state.in_flight.remove(id) {
                return Some(reply(
                    400,
                    "Bad Request",
                    &[],
                    br#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
                ));
            }
            state.outcomes.push_back((id.to_owned(), outcome));
            drop(state);
            shared.changed.notify_all();
            Some(accepted())
        }
        ("GET", _) => {
            let state = shared.lock();
            Some(
                match state.documents.iter().find(|(p, _)| *p == request.path) {
                    Some((_, body)) => reply(200, "OK", &[], body),
                    None => not_found(),
                },
            )
        }
        _ => Some(not_found()),
    }
}

/// Holds `/next` until the test hands an event over.
fn next_event(shared: &Shared) -> Option<Vec<u8>> {
    let mut state = shared.lock();
    state.waiting_for_event += 1;
    shared.changed.notify_all();
    let event = loop {
        if shared.closing.load(Ordering::Relaxed) {
            state.waiting_for_event -= 1;
            return None;
        }
        if let Some(event) = state.events.pop_front() {
            break event;
        }
        state = shared
            .changed
            .wait_timeout(state, Duration::from_millis(100))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    };
    state.waiting_for_event -= 1;
    state.in_flight.insert(event.request_id.clone());
    drop(state);
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
        + 30_000;
    let mut headers = vec![
        ("Lambda-Runtime-Aws-Request-Id", event.request_id.clone()),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"),
        ),
    ];
    if let Some(trace) = &event.trace_id {
        headers.push(("Lambda-Runtime-Trace-Id", trace.clone()));
    }
    Some(reply(200, "OK", &headers, &event.body))
}

fn function_error(request: &Request) -> FunctionError {
    let body = json_or_text(&request.body);
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    FunctionError {
        error_type: field("errorType"),
        error_message: field("errorMessage"),
        error_type_header: request.error_type.clone(),
    }
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn not_found() -> Vec<u8> {
    reply(
        404,
        "Not Found",
        &[],
        br#"{"errorMessage":"not an endpoint of the Runtime API emulator","errorType":"NotFound"}"#,
    )
}

/// A whole answer, head and body, as one buffer.
fn reply(status: u16, reason: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn read_lines(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    lines: Arc<Mutex<Vec<Line>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Line { stream, text });
                }
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_on_loopback_counts_as_a_loopback_endpoint() {
        for url in [
            "http://127.0.0.1:5000",
            "http://127.0.0.2",
            "http://localhost:4566/",
            "http://[::1]:80",
        ] {
            assert!(is_loopback_http(url), "{url}");
        }
        for url in [
            "https://127.0.0.1:5000",
            "http://169.254.169.254",
            "http://10.0.0.1:80",
            "http://localhost.example.com",
            "secretsmanager.us-east-1.amazonaws.com",
            "",
        ] {
            assert!(!is_loopback_http(url), "{url}");
        }
    }

    #[test]
    fn lines_are_split_at_the_first_line_of_an_invocation() {
        let line = |stream, text: &str| Line {
            stream,
            text: text.to_owned(),
        };
        let lines = [
            line(Stream::Stdout, r#"{"message":"started"}"#),
            line(Stream::Stdout, r#"{"message":"a","requestId":"r1"}"#),
            line(Stream::Stderr, r#"{"message":"b","requestId":"r2"}"#),
            line(Stream::Stdout, r#"{"message":"c","requestId":"r1"}"#),
        ];
        let split = by_invocation(&lines).unwrap();
        assert_eq!(split.cold_start.len(), 1);
        assert_eq!(split.of("r1").len(), 2);
        assert_eq!(split.of("r2").len(), 1);
        assert!(split.of("r3").is_empty());
        for bad in [
            line(Stream::Stdout, r#"{"message":"late"}"#),
            line(Stream::Stdout, "Error: plain text"),
            line(Stream::Stdout, "[1]"),
        ] {
            let mut with = lines.to_vec();
            with.push(bad);
            assert!(by_invocation(&with).is_err());
        }
        // On stderr, even before any invocation: no order to tell by.
        assert!(by_invocation(&[line(Stream::Stderr, r#"{"message":"x"}"#)]).is_err());
    }

    #[test]
    fn an_endpoint_off_loopback_is_refused_before_anything_starts() {
        let err = Launch::new("/bin/true")
            .unwrap()
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://example.com")
            .start()
            .err()
            .map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::InvalidInput));
    }

    #[test]
    fn a_process_that_ends_at_once_is_reported_with_its_lines() {
        let mut f = Launch::new("/bin/sh")
            .unwrap()
            .timeout(Duration::from_secs(10))
            .start()
            .unwrap();
        // /bin/sh with no arguments and stdin closed exits at once.
        assert!(matches!(f.wait_ready(), Some(Outcome::Exited(_))));
        assert!(f.finish().is_empty());
    }
}
