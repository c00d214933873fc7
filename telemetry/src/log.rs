//! JSON log lines that carry the invocation's ids.
//!
//! tracing-subscriber's JSON formatter can add ids only through spans, whose
//! fields it formats when the span is created whether or not a line is ever
//! printed; the Lambda runtime's per-invocation span cost about 3 µs per
//! decision that way. This formatter instead reads the ids of the current
//! [`Invocation`] when, and only when, a line is written: one JSON object
//! per line, `level`, `target`, `message`, the event's fields, and
//! `requestId` (+ `apiRequestId`, `xrayTraceId`).

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::Sink;
use crate::emf::{MAX_VALUE, line_room, push_json_str, push_json_str_bounded};
use crate::invocation::Invocation;

/// The filter when `RUST_LOG` is unset: `info`, and the Lambda runtime's own
/// per-invocation spans and lines off (the ids they carry are on every line
/// already).
pub const DEFAULT_FILTER: &str = "info,lambda_runtime=warn,lambda_runtime_api_client=warn";

/// The formatter (see the module's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str(&line(event))?;
        writer.write_char('\n')
    }
}

/// One event as a JSON object (without the newline), of at most
/// [`MAX_LINE`](crate::emf::MAX_LINE) bytes with its newline: the ids come first, then the
/// event's fields, each value bounded ([`push_json_str_bounded`]) to
/// [`MAX_VALUE`] and to the room left; a field whose name no longer fits is
/// left out.
pub fn line(event: &Event<'_>) -> String {
    let meta = event.metadata();
    let mut out = String::with_capacity(192);
    out.push_str(r#"{"level":"#);
    push_json_str(&mut out, meta.level().as_str());
    out.push_str(r#","target":"#);
    push_json_str(&mut out, meta.target());
    Invocation::write_current(&mut out);
    let mut fields = JsonFields { out: &mut out };
    event.record(&mut fields);
    out.push('}');
    out
}

struct JsonFields<'a> {
    out: &'a mut String,
}

/// Room a field needs beyond its name: a comma, a colon and a number (or a
/// cut string's marker).
const FIELD_OVERHEAD: usize = 24;

impl JsonFields<'_> {
    /// Writes the field's name, if the line has room for it and a value.
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if line_room(self.out.len()) < name.len() + 2 + FIELD_OVERHEAD {
            return false;
        }
        self.out.push(',');
        push_json_str(self.out, name);
        self.out.push(':');
        true
    }

    fn text(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            let room = line_room(self.out.len());
            push_json_str_bounded(self.out, value, room.min(MAX_VALUE));
        }
    }

    fn raw(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            self.out.push_str(value);
        }
    }
}

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, itoa::Buffer::new().format(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { "true" } else { "false" });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, &value.to_string());
    }
}

/// Off whatever `RUST_LOG` says: the Lambda runtime's panic layer, which
/// logs every error a handler returns at ERROR and outside the invocation.
/// For the authorizer each refusal is such an error (API Gateway's 401
/// needs it), so that line would drown the faults and carry no request id.
/// The functions log their faults themselves, and [`install_panic_hook`]
/// the panics.
pub const RUNTIME_ERROR_ECHO_OFF: &str = "lambda_runtime::layers::panic=off";

/// `RUST_LOG` (default [`DEFAULT_FILTER`]) with [`RUNTIME_ERROR_ECHO_OFF`].
pub fn filter() -> EnvFilter {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    match RUNTIME_ERROR_ECHO_OFF.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// Installs the JSON formatter on stdout with [`filter`], and the panic
/// hook. Call once, from `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .event_format(JsonLines)
        .with_env_filter(filter())
        .init();
    install_panic_hook(Sink::Stdout);
}

/// Ends a cold start that cannot go on (a bad configuration, a secret that
/// cannot be read): one line at ERROR with the cause, whose message names
/// the variable, then exit status 1, which Lambda reports as the init
/// phase's failure (`Runtime.ExitError`). Returning the error from `main`
/// instead would print its `Debug` form, not a JSON line.
pub fn fail_cold_start(error: &dyn std::error::Error) -> ! {
    tracing::error!(error = %error, "cold start failed");
    std::process::exit(1)
}

/// Replaces the default panic message (lines of text on stderr) with one
/// JSON line at ERROR on `sink`, target `panic`, with the panic's message
/// and location and the current invocation's ids.
pub fn install_panic_hook(sink: Sink) {
    std::panic::set_hook(Box::new(move |info| sink.write_line(&panic_line(info))));
}

fn panic_line(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic");
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"level":"ERROR","target":"panic""#);
    Invocation::write_current(&mut out);
    if let Some(location) = info.location() {
        out.push_str(r#","location":"#);
        let location = format!("{}:{}", location.file(), location.line());
        push_json_str_bounded(&mut out, &location, MAX_VALUE);
    }
    out.push_str(r#","message":"#);
    let room = line_room(out.len());
    push_json_str_bounded(&mut out, message, room.min(MAX_VALUE));
    out.push('}');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::emf::MAX_LINE;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The formatter's lines, captured while the guard lives.
    fn capture() -> (Buf, tracing::subscriber::DefaultGuard) {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(move || writer.clone())
            .finish();
        (buf, tracing::subscriber::set_default(subscriber))
    }

    #[tokio::test]
    async fn every_line_is_json_with_the_invocations_ids() {
        let (buf, _guard) = capture();
        tracing::warn!(
            code = "ThrottlingException",
            attempts = 3u64,
            "store \"busy\""
        );
        Invocation {
            request_id: "req-1".into(),
            api_request_id: Some("gw-1".into()),
            trace_id: Some("Root=1-abc".into()),
        }
        .scope(async {
            tracing::error!(retry = false, "failed");
        })
        .await;
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["message"], "store \"busy\"");
        assert_eq!(lines[0]["attempts"], 3);
        assert!(lines[0].get("requestId").is_none());
        assert_eq!(lines[1]["requestId"], "req-1");
        assert_eq!(lines[1]["apiRequestId"], "gw-1");
        assert_eq!(lines[1]["xrayTraceId"], "Root=1-abc");
        assert_eq!(lines[1]["retry"], false);
    }

    #[tokio::test]
    async fn no_line_exceeds_the_limit_whatever_its_fields_and_ids_hold() {
        let (buf, _guard) = capture();
        let huge = "k\"\u{1}é".repeat(2000);
        Invocation {
            request_id: "r".repeat(3000),
            api_request_id: Some(huge.clone()),
            trace_id: Some(huge.clone()),
        }
        .scope(async {
            tracing::warn!(
                kid = %huge, alg = huge.as_str(), iss = ?huge, a = %huge, b = %huge,
                c = %huge, d = %huge, e = %huge, attempts = 3u64, "{huge}"
            );
            tracing::info!(key_id = "k1", "short");
        })
        .await;
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].len() < MAX_LINE, "{}", lines[0].len());
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["level"], "WARN");
        // The ids come first, each cut to its start and length.
        assert!(v["requestId"].as_str().unwrap().ends_with("…(3000 bytes)"));
        assert!(v["apiRequestId"].as_str().unwrap().starts_with("k\"\u{1}é"));
        // A short line is written whole.
        let short: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(short["message"], "short");
        assert_eq!(short["key_id"], "k1");
    }
}
