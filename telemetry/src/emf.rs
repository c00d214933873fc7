//! The metrics both functions emit, and the CloudWatch Embedded Metric Format
//! (EMF) line that carries them.
//!
//! The names and dimensions here are the one list the code emits and the
//! template's alarms and dashboard watch (`tests/tests/template.rs` holds
//! the template to it, and each function's tests show every name of its
//! list in a line it really wrote). Dimensions are bounded by construction: a service
//! name, an outcome, a reason code, a route of the table, a status class;
//! never a principal, a fingerprint or an id.
//!
//! [`EmfLine`] writes one JSON object per line into a reused buffer, as
//! CloudWatch Logs extracts it
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//! `_aws.Timestamp`, `_aws.CloudWatchMetrics[]` (each a namespace, dimension
//! sets and metric definitions), and at the root every dimension's value,
//! every metric's number and any other property (request ids). Pure: the
//! caller passes the clock and writes the line.
//!
//! ```
//! use telemetry::emf::{EmfLine, MetricSet, Unit};
//!
//! const SET: MetricSet = MetricSet {
//!     dimensions: &[&["service", "outcome"]],
//!     metrics: &[("Decisions", Unit::Count)],
//! };
//! let mut out = String::new();
//! let mut line = EmfLine::start(&mut out, "SecuredApi", 1_800_000_000_000, &[&SET]);
//! line.text("service", "authorizer");
//! line.text("outcome", "allow");
//! line.number("Decisions", 1);
//! line.finish();
//! let v: serde_json::Value = serde_json::from_str(&out)?;
//! assert_eq!(v["Decisions"], 1);
//! assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "SecuredApi");
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::fmt::Write as _;

use serde_json::Value;

/// The default namespace (`POWERTOOLS_METRICS_NAMESPACE` overrides it).
pub const DEFAULT_NAMESPACE: &str = "SecuredApi";

/// The longest line either function writes, its newline included, whatever
/// a caller sends: text an attacker chooses (a token's `kid`, a claim)
/// must not inflate the logs, which are billed and searched by the byte.
pub const MAX_LINE: usize = 2048;

/// The most of one string value a line keeps, in bytes of its JSON form
/// without the quotes: a longer value keeps its first bytes and its length
/// (`aaaa…(4000 bytes)`). Every dimension value is shorter by construction.
pub const MAX_VALUE: usize = 256;

/// Dimension names.
pub mod dimension {
    /// `authorizer` or `api` (`POWERTOOLS_SERVICE_NAME` overrides it).
    pub const SERVICE: &str = "service";
    /// The authorizer's decision: `allow`, `deny`, `unauthorized`, `error`.
    pub const OUTCOME: &str = "outcome";
    /// The decision's reason code (`ok`, `expired`, `unknown_api_key`, …).
    pub const REASON: &str = "reason";
    /// A route of the table, `GET /items/{id}`, or `unmatched`.
    pub const ROUTE: &str = "route";
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub const STATUS_CLASS: &str = "statusClass";
}

/// CloudWatch units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
}

impl Unit {
    /// CloudWatch's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Microseconds => "Microseconds",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One `CloudWatchMetrics` directive: dimension sets and the metrics they
/// apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSet {
    /// Each inner list is one dimension set (a metric series per set).
    pub dimensions: &'static [&'static [&'static str]],
    /// Metric names and units.
    pub metrics: &'static [(&'static str, Unit)],
}

/// The authorizer's metrics.
pub mod authorizer {
    use super::dimension::{OUTCOME, REASON, SERVICE};
    use super::{MetricSet, Unit};

    /// One per decision.
    pub const DECISIONS: &str = "Decisions";
    /// Microseconds from event to answer.
    pub const DECISION_LATENCY: &str = "DecisionLatency";
    /// JWKS fetches (cold start and refreshes).
    pub const JWKS_FETCHES: &str = "JwksFetches";
    /// JWKS fetches that failed (keys kept).
    pub const JWKS_FETCH_FAILURES: &str = "JwksFetchFailures";
    /// Reads of the partner key registry.
    pub const REGISTRY_READS: &str = "RegistryReads";
    /// Registry reads that failed.
    pub const REGISTRY_READ_FAILURES: &str = "RegistryReadFailures";
    /// 1 on every decision while the registry cannot be read (keys refused).
    pub const REGISTRY_UNREADABLE: &str = "RegistryUnreadable";
    /// Cognito `GetUser` calls (cache misses of the revocation cache).
    pub const REVOCATION_CHECKS: &str = "RevocationChecks";
    /// Revocation checks that could not be made (token refused).
    pub const REVOCATION_CHECK_FAILURES: &str = "RevocationCheckFailures";
    /// 1 on the first invocation of a process.
    pub const COLD_START: &str = "ColdStart";

    /// Decisions by outcome, and by outcome and reason.
    pub const BY_OUTCOME: MetricSet = MetricSet {
        dimensions: &[&[SERVICE, OUTCOME], &[SERVICE, OUTCOME, REASON]],
        metrics: &[(DECISIONS, Unit::Count)],
    };
    /// Everything counted per service.
    pub const BY_SERVICE: MetricSet = MetricSet {
        dimensions: &[&[SERVICE]],
        metrics: &[
            (DECISION_LATENCY, Unit::Microseconds),
            (JWKS_FETCHES, Unit::Count),
            (JWKS_FETCH_FAILURES, Unit::Count),
            (REGISTRY_READS, Unit::Count),
            (REGISTRY_READ_FAILURES, Unit::Count),
            (REGISTRY_UNREADABLE, Unit::Count),
            (REVOCATION_CHECKS, Unit::Count),
            (REVOCATION_CHECK_FAILURES, Unit::Count),
            (COLD_START, Unit::Count),
        ],
    };
    /// Every directive of an authorizer line.
    pub const SETS: [&MetricSet; 2] = [&BY_OUTCOME, &BY_SERVICE];
}

/// The api's metrics.
pub mod api {
    use super::dimension::{ROUTE, SERVICE, STATUS_CLASS};
    use super::{MetricSet, Unit};

    /// One per request.
    pub const REQUESTS: &str = "Requests";
    /// Microseconds from event to response.
    pub const LATENCY: &str = "Latency";
    /// Writes refused because `If-Match` did not match (412).
    pub const CONDITIONAL_WRITE_CONFLICTS: &str = "ConditionalWriteConflicts";
    /// Creates answered from an earlier request with the same `Idempotency-Key`.
    pub const IDEMPOTENT_REPLAYS: &str = "IdempotentReplays";
    /// DynamoDB throttled the request (503).
    pub const STORE_THROTTLES: &str = "StoreThrottles";
    /// The store failed otherwise (503 unavailable or 500).
    pub const STORE_FAILURES: &str = "StoreFailures";
    /// 1 on the first invocation of a process.
    pub const COLD_START: &str = "ColdStart";

    /// Requests by route and status class, and by status class alone.
    pub const BY_ROUTE: MetricSet = MetricSet {
        dimensions: &[&[SERVICE, ROUTE, STATUS_CLASS], &[SERVICE, STATUS_CLASS]],
        metrics: &[(REQUESTS, Unit::Count), (LATENCY, Unit::Microseconds)],
    };
    /// Everything counted per service.
    pub const BY_SERVICE: MetricSet = MetricSet {
        dimensions: &[&[SERVICE]],
        metrics: &[
            (CONDITIONAL_WRITE_CONFLICTS, Unit::Count),
            (IDEMPOTENT_REPLAYS, Unit::Count),
            (STORE_THROTTLES, Unit::Count),
            (STORE_FAILURES, Unit::Count),
            (COLD_START, Unit::Count),
        ],
    };
    /// Every directive of an api line.
    pub const SETS: [&MetricSet; 2] = [&BY_ROUTE, &BY_SERVICE];
}

/// `2xx` … `5xx` for an HTTP status.
pub const fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The part of a line that only depends on the namespace and the metric
/// sets: built once, so a line costs its values only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfHeader {
    /// `,"CloudWatchMetrics":[...]}`: what follows the timestamp.
    after_timestamp: String,
}

impl EmfHeader {
    /// The header of lines for `sets` in `namespace`.
    pub fn new(namespace: &str, sets: &[&MetricSet]) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str(r#","CloudWatchMetrics":["#);
        for (i, set) in sets.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"Namespace":"#);
            push_json_str(&mut out, namespace);
            out.push_str(r#","Dimensions":["#);
            for (j, dims) in set.dimensions.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push('[');
                for (k, d) in dims.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    push_json_str(&mut out, d);
                }
                out.push(']');
            }
            out.push_str(r#"],"Metrics":["#);
            for (j, (name, unit)) in set.metrics.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"Name":"#);
                push_json_str(&mut out, name);
                out.push_str(r#","Unit":""#);
                out.push_str(unit.as_str());
                out.push_str(r#""}"#);
            }
            out.push_str("]}");
        }
        out.push_str("]}");
        EmfHeader {
            after_timestamp: out,
        }
    }
}

/// One EMF line being written into a buffer: the `_aws` header first, then
/// root members; [`EmfLine::finish`] closes the object.
#[derive(Debug)]
pub struct EmfLine<'a> {
    out: &'a mut String,
}

impl<'a> EmfLine<'a> {
    /// Starts a line in `out` (cleared first) for `sets` in `namespace` at
    /// `timestamp_ms` (Unix milliseconds).
    pub fn start(
        out: &'a mut String,
        namespace: &str,
        timestamp_ms: u64,
        sets: &[&MetricSet],
    ) -> Self {
        Self::with_header(out, &EmfHeader::new(namespace, sets), timestamp_ms)
    }

    /// Starts a line in `out` (cleared first) with a prepared header.
    pub fn with_header(out: &'a mut String, header: &EmfHeader, timestamp_ms: u64) -> Self {
        out.clear();
        out.push_str(r#"{"_aws":{"Timestamp":"#);
        out.push_str(itoa::Buffer::new().format(timestamp_ms));
        out.push_str(&header.after_timestamp);
        EmfLine { out }
    }

    /// Starts a plain JSON object in `out` (cleared first): a log line
    /// without metrics, the same members and no `_aws`.
    pub fn plain(out: &'a mut String) -> Self {
        out.clear();
        out.push('{');
        EmfLine { out }
    }

    /// A string member (a dimension value or a property), bounded to
    /// [`MAX_VALUE`] and to the room left in a line of [`MAX_LINE`] bytes
    /// (its closing brace and newline kept): write the members the code
    /// controls first and text an attacker chooses last, so that only the
    /// latter can be cut.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.key(name);
        let room = line_room(self.out.len());
        push_json_str_bounded(self.out, value, room.min(MAX_VALUE));
        self
    }

    /// A whole-number member (a metric value, or a property).
    pub fn number(&mut self, name: &str, value: u64) -> &mut Self {
        self.key(name);
        // itoa: serde_json's own integer writer, without core::fmt's
        // machinery (a dozen numbers on every line).
        self.out.push_str(itoa::Buffer::new().format(value));
        self
    }

    /// The buffer, for writers of members that start with a comma (the
    /// invocation's ids): write at least one member before.
    pub fn buffer(&mut self) -> &mut String {
        self.out
    }

    /// Closes the object; the buffer holds one line without its newline.
    pub fn finish(self) {
        self.out.push('}');
    }

    fn key(&mut self, name: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        push_json_str(self.out, name);
        self.out.push(':');
    }
}

/// The bytes a value's JSON form may still take (its quotes excluded) in a
/// line of `used` bytes that keeps room for its `}` and newline.
pub fn line_room(used: usize) -> usize {
    MAX_LINE.saturating_sub(used + 2 + 2)
}

/// `s` as a JSON string whose content (quotes excluded) takes at most
/// `max` bytes: all of it when it fits, else its longest prefix that fits
/// with a marker of its length, `…(4000 bytes)` (an empty string if not
/// even the marker fits). The one bounding point of every value the lines
/// write, so a new field or a new error's message is bounded too.
pub fn push_json_str_bounded(out: &mut String, s: &str, max: usize) {
    let escaped: usize = s.chars().map(escaped_len).sum();
    if escaped <= max {
        push_json_str(out, s);
        return;
    }
    let marker = format!("…({} bytes)", s.len());
    let Some(budget) = max.checked_sub(marker.len()) else {
        out.push_str(r#""""#);
        return;
    };
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        used += escaped_len(c);
        if used > budget {
            break;
        }
        end = i + c.len_utf8();
    }
    let mut cut = String::with_capacity(end + marker.len());
    cut.push_str(&s[..end]);
    cut.push_str(&marker);
    push_json_str(out, &cut);
}

/// The bytes `c` takes in a JSON string as [`push_json_str`] writes it.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' => 2,
        c if c.is_control() => 6,
        c => c.len_utf8(),
    }
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    // Runs that need no escape (nearly all of every line) are copied whole;
    // only the character that stops a run is looked at on its own. A byte
    // from 0x80 up starts a character (the run before it is ASCII), so the
    // C1 controls are escaped as before.
    while let Some(i) = rest
        .bytes()
        .position(|b| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f)
    {
        out.push_str(&rest[..i]);
        let Some(c) = rest[i..].chars().next() else {
            break;
        };
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Checks a line against the structure the EMF specification requires of a line: `_aws` with
/// a number `Timestamp` and `CloudWatchMetrics` directives, each with a
/// `Namespace` string, `Dimensions` (arrays of at most 30 strings, each a
/// root member holding a string) and `Metrics` (`Name`, optional `Unit`),
/// each a root member holding a number.
pub fn validate(line: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let aws = v.get("_aws").ok_or("no _aws")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("no numeric Timestamp")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no CloudWatchMetrics array")?;
    for d in directives {
        d.get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.len() <= 256)
            .ok_or("bad Namespace")?;
        for set in d["Dimensions"].as_array().ok_or("no Dimensions")? {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("more than 30 dimensions".into());
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                v.get(name)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension {name} has no string value"))?;
            }
        }
        for m in d["Metrics"].as_array().ok_or("no Metrics")? {
            let name = m["Name"].as_str().ok_or("a metric without Name")?;
            if let Some(unit) = m.get("Unit") {
                unit.as_str().ok_or("Unit is not a string")?;
            }
            v.get(name)
                .filter(|x| x.is_number())
                .ok_or(format!("metric {name} has no number"))?;
        }
    }
    Ok(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_wants_and_read_back_unchanged() {
        let tricky = "plain \"quoted\" back\\slash\nline\ttab\r\u{1}\u{7f}\u{85} é ✓ 😀 end";
        let mut out = String::new();
        push_json_str(&mut out, tricky);
        assert_eq!(
            out,
            "\"plain \\\"quoted\\\" back\\\\slash\\nline\\ttab\\r\\u0001\\u007f\\u0085 é ✓ 😀 end\""
        );
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), tricky);
        for s in ["", "a", "\"", "é", "\u{9f}x", "x\u{0}"] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s, "{s:?}");
        }
    }

    fn bounded(s: &str, max: usize) -> String {
        let mut out = String::new();
        push_json_str_bounded(&mut out, s, max);
        out
    }

    #[test]
    fn a_value_that_fits_is_written_whole_and_a_longer_one_keeps_its_start_and_length() {
        assert_eq!(bounded("kid-1", 64), r#""kid-1""#);
        assert_eq!(
            bounded(&"a".repeat(64), 64),
            format!(r#""{}""#, "a".repeat(64))
        );
        let long = "k".repeat(4000);
        let out = bounded(&long, 64);
        let back: String = serde_json::from_str(&out).unwrap();
        let marker = "…(4000 bytes)";
        assert_eq!(back, format!("{}{marker}", "k".repeat(64 - marker.len())));
        assert_eq!(out.len() - 2, 64);
        // Escapes count as what they take in the line.
        let out = bounded(&"\"\n".repeat(100), 64);
        assert!(out.len() - 2 <= 64, "{out}");
        let back: String = serde_json::from_str(&out).unwrap();
        assert!(back.starts_with("\"\n\"\n") && back.ends_with("…(200 bytes)"));
        // Not even the marker fits: an empty string, still JSON.
        assert_eq!(bounded(&long, 5), r#""""#);
    }

    proptest::proptest! {
        #[test]
        fn any_value_is_bounded_json_that_reads_back_as_itself_or_its_start(
            s in "(\\PC|[\"\\\\\n\u{1}\u{85}])*",
            max in 0usize..300,
        ) {
            let out = bounded(&s, max);
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert!(out.len() - 2 <= max || back.is_empty());
            if back != s {
                let marker = format!("…({} bytes)", s.len());
                let start = back.strip_suffix(&marker).unwrap_or("");
                proptest::prop_assert!(back.is_empty() || s.starts_with(start), "{back:?}");
            }
        }
    }

    #[test]
    fn a_line_has_the_structure_the_specification_requires() {
        let mut out = String::new();
        let mut line = EmfLine::start(&mut out, "SecuredApi", 1_800_000_000_123, &authorizer::SETS);
        line.text("service", "authorizer")
            .text("outcome", "unauthorized")
            .text("reason", "expired")
            .text("requestId", "8f5b-\"quoted\"\n");
        for set in authorizer::SETS {
            for (name, _) in set.metrics {
                line.number(name, 1);
            }
        }
        line.finish();
        let v = validate(&out).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_800_000_000_123u64);
        assert_eq!(v["requestId"], "8f5b-\"quoted\"\n");
        assert!(!out.contains('\n'), "one line");
    }

    #[test]
    fn a_metric_without_its_number_or_a_dimension_without_its_value_is_caught() {
        let mut out = String::new();
        let line = EmfLine::start(&mut out, "N", 1, &api::SETS);
        line.finish();
        assert!(validate(&out).is_err());
    }

    #[test]
    fn dimensions_are_bounded_names() {
        for set in authorizer::SETS.iter().chain(api::SETS.iter()) {
            for dims in set.dimensions {
                for d in *dims {
                    assert!(
                        [
                            dimension::SERVICE,
                            dimension::OUTCOME,
                            dimension::REASON,
                            dimension::ROUTE,
                            dimension::STATUS_CLASS
                        ]
                        .contains(d),
                        "{d}"
                    );
                }
            }
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(412), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
