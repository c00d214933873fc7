//! What both functions tell operators, in the form CloudWatch reads.
//!
//! - [`emf`]: metrics in the Embedded Metric Format, on the functions' own
//!   log lines (no API call), with the one list of metric names and
//!   dimensions the template's alarms and dashboard watch.
//! - [`log`]: every log line is one JSON object that carries the ids of the
//!   invocation it belongs to ([`invocation`]): the Lambda request id and,
//!   where API Gateway supplies them, its request id and the X-Ray trace id,
//!   so one request can be followed from the gateway to the authorizer to
//!   the api in CloudWatch Logs Insights.
//! - [`runtime`]: the Lambda runtime's layer that makes the invocation's
//!   ids current for the runtime's own lines too.
//! - [`Sink`]: where a function writes its lines (stdout in Lambda, memory in
//!   tests).
//!
//! There is no Powertools for Rust; the shape follows Powertools' Metrics and
//! Logger so their users recognise it: `POWERTOOLS_METRICS_NAMESPACE`,
//! `POWERTOOLS_SERVICE_NAME`, a `ColdStart` metric, `service` as a dimension.

pub mod emf;
pub mod invocation;
pub mod log;
pub mod runtime;
pub mod xray;

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

pub use invocation::Invocation;

/// Where lines go: one `write` per line, so lines of concurrent writers never
/// interleave.
#[derive(Debug, Clone, Default)]
pub enum Sink {
    /// The process's standard output (CloudWatch Logs in Lambda).
    #[default]
    Stdout,
    /// The process's standard error (the local stack, whose stdout is for
    /// people).
    Stderr,
    /// Nowhere (tests and benchmarks that do not read lines).
    Null,
    /// A buffer, for tests and for the local stack's summary.
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    /// A new in-memory sink.
    pub fn memory() -> Self {
        Sink::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Writes `line`, which already ends with its newline, as it is, in one
    /// `write`: a writer that built the line in a buffer of its own saves
    /// the copy [`Self::write_line`] makes to add the newline (a decision
    /// line is over 1 KiB, written once per invocation). Failures are
    /// ignored: a full pipe must not fail a request.
    pub fn write_terminated(&self, line: &str) {
        debug_assert!(line.ends_with('\n'));
        match self {
            Sink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::Null => {}
            Sink::Memory(m) => m
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(line.as_bytes()),
        }
    }

    /// Writes `line` and a newline, in one `write` where the stream allows
    /// it (the newline is added to a copy). Failures are ignored: a full
    /// pipe must not fail a request.
    pub fn write_line(&self, line: &str) {
        let mut whole = String::with_capacity(line.len() + 1);
        whole.push_str(line);
        whole.push('\n');
        self.write_terminated(&whole);
    }

    /// What an in-memory sink holds, as text (empty for stdout).
    pub fn contents(&self) -> String {
        match self {
            Sink::Stdout | Sink::Stderr | Sink::Null => String::new(),
            Sink::Memory(m) => {
                String::from_utf8_lossy(&m.lock().unwrap_or_else(PoisonError::into_inner))
                    .into_owned()
            }
        }
    }
}

/// Metrics settings, read by each function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `POWERTOOLS_METRICS_NAMESPACE`; default [`emf::DEFAULT_NAMESPACE`].
    pub namespace: String,
    /// `POWERTOOLS_SERVICE_NAME`; default the function's own name.
    pub service: String,
    /// `false` when `POWERTOOLS_METRICS_DISABLED=true`.
    pub enabled: bool,
}

/// The variables [`MetricsConfig::from_lookup`] reads.
pub const VARIABLES: [&str; 3] = [
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_DISABLED",
];

/// A metrics setting the function refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct MetricsConfigError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}

impl MetricsConfig {
    /// Reads the settings through `lookup` (empty values count as unset);
    /// `service` is the default service name.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        service: &str,
    ) -> Result<Self, MetricsConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let name_ok = |v: &str| {
            v.len() <= 255
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-/#:".contains(&b))
        };
        let namespace = get(VARIABLES[0]).unwrap_or_else(|| emf::DEFAULT_NAMESPACE.to_owned());
        if !name_ok(&namespace) || namespace.starts_with("AWS/") {
            return Err(MetricsConfigError {
                variable: VARIABLES[0],
                problem: "must be up to 255 of letters, digits and . _ - / # : and not start with AWS/",
            });
        }
        let service = get(VARIABLES[1]).unwrap_or_else(|| service.to_owned());
        if !name_ok(&service) {
            return Err(MetricsConfigError {
                variable: VARIABLES[1],
                problem: "must be up to 255 of letters, digits and . _ - / # :",
            });
        }
        let enabled = match get(VARIABLES[2]).as_deref() {
            None | Some("false") => true,
            Some("true") => false,
            Some(_) => {
                return Err(MetricsConfigError {
                    variable: VARIABLES[2],
                    problem: "must be true or false",
                });
            }
        };
        Ok(MetricsConfig {
            namespace,
            service,
            enabled,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<MetricsConfig, MetricsConfigError> {
        MetricsConfig::from_lookup(
            |k| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            },
            "authorizer",
        )
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(
            config(&[]).unwrap(),
            MetricsConfig {
                namespace: "SecuredApi".into(),
                service: "authorizer".into(),
                enabled: true
            }
        );
        let c = config(&[
            ("POWERTOOLS_METRICS_NAMESPACE", "Team/Items"),
            ("POWERTOOLS_SERVICE_NAME", "items-authorizer"),
            ("POWERTOOLS_METRICS_DISABLED", "true"),
        ])
        .unwrap();
        assert_eq!(c.namespace, "Team/Items");
        assert_eq!(c.service, "items-authorizer");
        assert!(!c.enabled);
    }

    #[test]
    fn bad_values_are_named() {
        for (pairs, var) in [
            (
                vec![("POWERTOOLS_METRICS_NAMESPACE", "AWS/Lambda")],
                VARIABLES[0],
            ),
            (vec![("POWERTOOLS_METRICS_NAMESPACE", "a b")], VARIABLES[0]),
            (vec![("POWERTOOLS_SERVICE_NAME", "x\"y")], VARIABLES[1]),
            (vec![("POWERTOOLS_METRICS_DISABLED", "yes")], VARIABLES[2]),
        ] {
            assert_eq!(config(&pairs).unwrap_err().variable, var);
        }
    }

    #[test]
    fn a_memory_sink_keeps_whole_lines() {
        let sink = Sink::memory();
        sink.write_line("{}");
        sink.write_line("{\"a\":1}");
        // A line that brings its own newline is written as it is.
        sink.write_terminated("{\"b\":2}\n");
        assert_eq!(sink.contents(), "{}\n{\"a\":1}\n{\"b\":2}\n");
    }
}
