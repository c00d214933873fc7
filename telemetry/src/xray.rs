//! X-Ray subsegments for the calls a function makes (AWS SDK calls, the
//! JWKS fetch), so they show under the function's segment in the trace.
//!
//! With active tracing, Lambda records a segment per invocation and runs an
//! X-Ray daemon beside the function (`AWS_XRAY_DAEMON_ADDRESS`); the
//! invocation's trace header names the trace and the segment to hang
//! subsegments under. X-Ray SDKs send each subsegment to that daemon as one
//! UDP datagram; this module does the same for the calls it wraps with
//! [`traced`] (the JWKS fetch) and, through [`XrayInterceptor`] on an SDK
//! client's configuration, for every call of that client. Why not a crate: the AWS SDK for Rust has no X-Ray
//! integration, and the OpenTelemetry route needs a collector layer in the
//! function and a heavier dependency tree on the cold-start path, for a
//! protocol that is one JSON document per datagram. A call outside an
//! invocation, in an unsampled trace, or without a daemon costs nothing.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::emf::push_json_str;
use crate::invocation::Invocation;

/// The header every datagram starts with.
const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

static DAEMON: OnceLock<Daemon> = OnceLock::new();

/// The X-Ray daemon's UDP endpoint.
#[derive(Debug)]
pub struct Daemon {
    socket: UdpSocket,
    address: SocketAddr,
    ids: RandomState,
    next: AtomicU64,
}

/// Where `AWS_XRAY_DAEMON_ADDRESS` points: `host:port`, or Lambda's
/// `udp:host:port tcp:host:port` form (the UDP one is used).
pub fn parse_daemon_address(value: &str) -> Option<SocketAddr> {
    let udp = value
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .unwrap_or(value.trim());
    udp.parse().ok()
}

/// Sends subsegments to `address` from now on (call once, at cold start,
/// with `AWS_XRAY_DAEMON_ADDRESS`). Returns whether it took effect.
pub fn init(address: SocketAddr) -> bool {
    let bind = if address.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let Ok(socket) = UdpSocket::bind(bind) else {
        return false;
    };
    // A full socket buffer drops a subsegment rather than delay a request.
    let _ = socket.set_nonblocking(true);
    DAEMON
        .set(Daemon {
            socket,
            address,
            ids: RandomState::new(),
            next: AtomicU64::new(0),
        })
        .is_ok()
}

/// What kind of call a subsegment records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// An AWS service operation: the service's name (`DynamoDB`) and the
    /// operation (`GetItem`).
    Aws {
        /// e.g. `DynamoDB`, `SecretsManager`, `CognitoIdentityProvider`.
        service: &'a str,
        /// e.g. `GetItem`.
        operation: &'a str,
    },
    /// An HTTP call to another service: a name and the URL.
    Remote {
        /// The subsegment's name, e.g. the host.
        name: &'a str,
        /// The URL called.
        url: &'a str,
    },
}

/// How the call ended, for the subsegment's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It answered.
    Ok,
    /// A client-side error (4xx-like: the call was refused).
    Error,
    /// A server-side failure (timeouts, 5xx, unreachable).
    Fault,
}

/// The parts of a trace header `Root=…;Parent=…;Sampled=…` a subsegment
/// needs, if the trace is sampled.
pub fn sampled_parent(header: &str) -> Option<(&str, &str)> {
    let mut root = None;
    let mut parent = None;
    let mut sampled = false;
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("Root", v)) => root = Some(v),
            Some(("Parent", v)) => parent = Some(v),
            Some(("Sampled", v)) => sampled = v == "1",
            _ => {}
        }
    }
    if sampled { root.zip(parent) } else { None }
}

/// Whether a subsegment would be sent now: a daemon is set and the current
/// invocation's trace is sampled.
fn active() -> bool {
    DAEMON.get().is_some()
        && Invocation::current()
            .and_then(|i| i.trace_id)
            .is_some_and(|t| sampled_parent(&t).is_some())
}

/// Sends the subsegment of `call`, run from `start` to `end` (epoch
/// seconds), under the current invocation's segment, if there is one to
/// send it under.
fn send(call: &Call<'_>, start: f64, end: f64, ended: Ended) {
    let Some(daemon) = DAEMON.get() else {
        return;
    };
    let Some(trace) = Invocation::current().and_then(|i| i.trace_id) else {
        return;
    };
    let Some((root, parent)) = sampled_parent(&trace) else {
        return;
    };
    let id = daemon
        .ids
        .hash_one(daemon.next.fetch_add(1, Ordering::Relaxed));
    let doc = subsegment(call, root, parent, id, start, end, ended);
    let datagram = format!("{DAEMON_HEADER}{doc}");
    // Lost subsegments are acceptable; a failed send must not fail a request.
    let _ = daemon.socket.send_to(datagram.as_bytes(), daemon.address);
}

/// Runs `f` and, when the current invocation is traced and sampled and a
/// daemon is set, sends its subsegment; `outcome` classifies the result.
pub async fn traced<F, T>(call: Call<'_>, outcome: impl FnOnce(&T) -> Ended, f: F) -> T
where
    F: Future<Output = T>,
{
    if !active() {
        return f.await;
    }
    let start = epoch_seconds();
    let result = f.await;
    send(&call, start, epoch_seconds(), outcome(&result));
    result
}

/// Reads `AWS_XRAY_DAEMON_ADDRESS`, which Lambda sets when active tracing is
/// on (the runtime's own variable, like the SDK's `AWS_REGION`), and sends
/// subsegments there. Returns whether tracing is on.
pub fn init_from_lambda_env() -> bool {
    std::env::var("AWS_XRAY_DAEMON_ADDRESS")
        .ok()
        .as_deref()
        .and_then(parse_daemon_address)
        .is_some_and(init)
}

/// An interceptor for an AWS SDK client's configuration: every operation
/// the client runs becomes a subsegment named after the service, with the
/// operation's name (`aws.operation`), marked `error` for a service error
/// and `fault` for anything else that failed (timeouts, dispatch).
#[derive(Debug, Clone, Copy, Default)]
pub struct XrayInterceptor;

#[derive(Debug, Clone, Copy)]
struct Started(f64);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if active() {
            cfg.interceptor_state().store_put(Started(epoch_seconds()));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(started), Some(meta)) = (cfg.load::<Started>(), cfg.load::<Metadata>()) else {
            return Ok(());
        };
        let ended = match context.output_or_error() {
            Some(Ok(_)) => Ended::Ok,
            Some(Err(e)) if e.is_operation_error() => Ended::Error,
            _ => Ended::Fault,
        };
        send(
            &Call::Aws {
                service: meta.service(),
                operation: meta.name(),
            },
            started.0,
            epoch_seconds(),
            ended,
        );
        Ok(())
    }
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The subsegment document, as X-Ray's segment document specification
/// wants one sent on its own (`type`, `trace_id`, `parent_id`).
pub fn subsegment(
    call: &Call<'_>,
    trace_id: &str,
    parent_id: &str,
    id: u64,
    start: f64,
    end: f64,
    ended: Ended,
) -> String {
    let mut out = String::with_capacity(320);
    out.push_str("{\"type\":\"subsegment\",\"id\":\"");
    out.push_str(&format!("{id:016x}"));
    out.push_str("\",\"trace_id\":");
    push_json_str(&mut out, trace_id);
    out.push_str(",\"parent_id\":");
    push_json_str(&mut out, parent_id);
    out.push_str(&format!(",\"start_time\":{start:.6},\"end_time\":{end:.6}"));
    match call {
        Call::Aws { service, operation } => {
            out.push_str(",\"name\":");
            push_json_str(&mut out, service);
            out.push_str(",\"namespace\":\"aws\",\"aws\":{\"operation\":");
            push_json_str(&mut out, operation);
            out.push('}');
        }
        Call::Remote { name, url } => {
            out.push_str(",\"name\":");
            push_json_str(&mut out, name);
            out.push_str(
                ",\"namespace\":\"remote\",\"http\":{\"request\":{\"method\":\"GET\",\"url\":",
            );
            push_json_str(&mut out, url);
            out.push_str("}}");
        }
    }
    match ended {
        Ended::Ok => {}
        Ended::Error => out.push_str(",\"error\":true"),
        Ended::Fault => out.push_str(",\"fault\":true"),
    }
    out.push('}');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lambdas_daemon_address_forms_are_read() {
        let want: SocketAddr = "169.254.79.129:2000".parse().unwrap();
        assert_eq!(parse_daemon_address("169.254.79.129:2000"), Some(want));
        assert_eq!(
            parse_daemon_address("tcp:169.254.79.129:2000 udp:169.254.79.129:2000"),
            Some(want)
        );
        assert_eq!(parse_daemon_address("nonsense"), None);
    }

    #[test]
    fn only_sampled_traces_with_a_parent_get_subsegments() {
        assert_eq!(
            sampled_parent(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
            Some(("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"))
        );
        assert_eq!(sampled_parent("Root=1-a-b;Parent=c;Sampled=0"), None);
        assert_eq!(sampled_parent("Root=1-a-b;Sampled=1"), None);
    }

    #[test]
    fn a_subsegment_document_is_json_with_what_x_ray_needs() {
        let doc = subsegment(
            &Call::Aws {
                service: "DynamoDB",
                operation: "GetItem",
            },
            "1-a-b",
            "parent1",
            0xabc,
            1.5,
            1.75,
            Ended::Fault,
        );
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["type"], "subsegment");
        assert_eq!(v["id"], "0000000000000abc");
        assert_eq!(v["trace_id"], "1-a-b");
        assert_eq!(v["parent_id"], "parent1");
        assert_eq!(v["name"], "DynamoDB");
        assert_eq!(v["namespace"], "aws");
        assert_eq!(v["aws"]["operation"], "GetItem");
        assert_eq!(v["fault"], true);
        assert!(v["end_time"].as_f64() > v["start_time"].as_f64());
    }

    #[tokio::test]
    async fn a_traced_call_in_a_sampled_invocation_reaches_the_daemon_and_others_do_not() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        assert!(init(daemon.local_addr().unwrap()));
        let call = Call::Remote {
            name: "cognito-idp.us-east-1.amazonaws.com",
            url: "https://cognito-idp.us-east-1.amazonaws.com/pool/.well-known/jwks.json",
        };
        // Outside an invocation, and in an unsampled one: nothing is sent.
        traced(call, |_: &()| Ended::Ok, async {}).await;
        Invocation {
            request_id: "r".into(),
            api_request_id: None,
            trace_id: Some("Root=1-a-b;Parent=p0;Sampled=0".into()),
        }
        .scope(traced(call, |_: &()| Ended::Ok, async {}))
        .await;
        let answer = Invocation {
            request_id: "r".into(),
            api_request_id: None,
            trace_id: Some(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
            ),
        }
        .scope(traced(
            call,
            |r: &u8| if *r == 7 { Ended::Error } else { Ended::Ok },
            async { 7u8 },
        ))
        .await;
        assert_eq!(answer, 7);
        let mut buf = [0u8; 2048];
        let n = daemon.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, doc) = text.split_once('\n').unwrap();
        assert_eq!(header, "{\"format\": \"json\", \"version\": 1}");
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        assert_eq!(v["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(v["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(v["namespace"], "remote");
        assert_eq!(v["error"], true);
        // Exactly one datagram was sent.
        assert!(daemon.recv(&mut buf).is_err());
    }
}
