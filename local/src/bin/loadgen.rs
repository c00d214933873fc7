//! Load generator for the local stack: N keep-alive HTTP/1.1 connections
//! send a fixed number of authorized `GET /items/{id}` requests, then it
//! prints throughput, p50/p99 latency and the error count, and exits
//! non-zero if any request failed or did not answer 200.
//!
//! The client is a few lines over `TcpStream` rather than a full HTTP
//! client: it shares the machine's cores with the stack it measures, so it
//! must cost as little as possible.
//!
//! ```sh
//! cargo run --release -p local &                      # the stack
//! cargo run --release -p local --bin loadgen -- --requests 200000 --connections 32
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Drive the local stack with authorized GETs and report throughput and latency.
#[derive(Debug, Parser)]
struct Args {
    /// The stack's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: String,
    /// Total requests (after one warm-up request per connection).
    #[arg(long, default_value_t = 200_000)]
    requests: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Runtime worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The user whose token is minted from the stack's development identity provider.
    #[arg(long, default_value = "loadgen")]
    user: String,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("setup: {0}")]
    Setup(String),
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One request/response exchange on a kept-alive connection; returns the status.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(u16, Vec<u8>), LoadError> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(LoadError::Malformed("connection closed before the headers"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end])
        .map_err(|_| LoadError::Malformed("headers are not UTF-8"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(LoadError::Malformed("no status"))?;
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .ok_or(LoadError::Malformed("no content-length"))?;
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(LoadError::Malformed("connection closed in the body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, buf[header_end..header_end + length].to_vec()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn one(addr: &str, request: String) -> Result<(u16, String), LoadError> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut buf = Vec::new();
    let (status, body) = exchange(&mut stream, request.as_bytes(), &mut buf).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn field(body: &str, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

async fn run(args: Args) -> Result<bool, LoadError> {
    // Setup: a token from the development identity provider, and one item.
    let mint_body = serde_json::json!({"sub": args.user}).to_string();
    let (status, body) = one(
        &args.addr,
        format!(
            "POST /_dev/token HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{mint_body}",
            args.addr,
            mint_body.len()
        ),
    )
    .await?;
    let token = field(&body, "access_token")
        .ok_or_else(|| LoadError::Setup(format!("minting a token: {status} {body}")))?;
    let item = r#"{"name":"load test item"}"#;
    let (status, body) = one(
        &args.addr,
        format!(
            "POST /items HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{item}",
            args.addr,
            item.len()
        ),
    )
    .await?;
    let id = field(&body, "id")
        .ok_or_else(|| LoadError::Setup(format!("creating an item: {status} {body}")))?;
    let request: Arc<[u8]> = format!(
        "GET /items/{id} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        args.addr
    )
    .into_bytes()
    .into();

    let issued = Arc::new(AtomicUsize::new(0));
    let total = args.requests;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections.max(1) {
        let addr = args.addr.clone();
        let request = Arc::clone(&request);
        let issued = Arc::clone(&issued);
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0usize;
            let mut stream = TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let mut buf = Vec::with_capacity(16 * 1024);
            while issued.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                match exchange(&mut stream, &request, &mut buf).await {
                    Ok((200, _)) => {}
                    Ok(_) => errors += 1,
                    Err(e) => {
                        eprintln!("loadgen: {e}");
                        errors += 1;
                        stream = TcpStream::connect(&addr).await?;
                        stream.set_nodelay(true)?;
                    }
                }
                latencies.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            Ok::<_, LoadError>((latencies, errors))
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok(Ok((l, e))) => {
                latencies.extend(l);
                errors += e;
            }
            Ok(Err(e)) => {
                eprintln!("loadgen: a connection failed: {e}");
                errors += 1;
            }
            Err(e) => {
                eprintln!("loadgen: a connection task failed: {e}");
                errors += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        Duration::from_micros(u64::from(latencies[i.min(latencies.len() - 1)]))
    };
    println!(
        "GET /items/{{id}}: {} requests over {} connections in {:.2} s: {:.0} requests/s, p50 {:?}, p99 {:?}, max {:?}, errors {}",
        latencies.len(),
        args.connections.max(1),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
        errors
    );
    Ok(errors == 0 && latencies.len() == total)
}
