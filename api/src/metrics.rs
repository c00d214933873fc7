//! The one line the api writes per request: its log line and its metrics.
//!
//! An Embedded Metric Format object (`telemetry::emf`) whose root members
//! are the request's `route` (the table's label, or `unmatched`), status and
//! status class, the invocation's ids, and the metric values of
//! `telemetry::emf::api`: the request and its latency by route and status
//! class, conditional-write conflicts (412), idempotent replays, store
//! throttling and failures, and the cold start. Dimensions are bounded: the
//! route is one of the table's six labels, never the path with its id.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use telemetry::emf::{EmfHeader, EmfLine, api as m, dimension, status_class};
use telemetry::{Invocation, MetricsConfig, Sink};

/// What happened in the store, for the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Nothing worth counting.
    Fine,
    /// DynamoDB throttled the request.
    Throttled,
    /// The store failed otherwise.
    Failed,
}

/// One request, as the line reports it.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// The route's label, or `unmatched`.
    pub route: &'static str,
    /// The response's status.
    pub status: u16,
    /// A create answered from an earlier request's record.
    pub replayed: bool,
    /// What the store did.
    pub store: StoreOutcome,
    /// From event to response.
    pub latency: Duration,
}

/// Writes request lines.
#[derive(Debug)]
pub struct RequestLines {
    config: MetricsConfig,
    header: EmfHeader,
    sink: Sink,
    cold: AtomicBool,
}

impl RequestLines {
    /// Lines for `config`, written to `sink`.
    pub fn new(config: MetricsConfig, sink: Sink) -> Self {
        RequestLines {
            header: EmfHeader::new(&config.namespace, &m::SETS),
            config,
            sink,
            cold: AtomicBool::new(true),
        }
    }

    /// Lines that go nowhere (tests, and apps built without metrics).
    pub fn off() -> Self {
        Self::new(
            MetricsConfig {
                namespace: telemetry::emf::DEFAULT_NAMESPACE.into(),
                service: "api".into(),
                enabled: false,
            },
            Sink::Null,
        )
    }

    /// Writes the line of `served` at `now_ms` (Unix milliseconds): with
    /// metrics when they are on, else only when `request` logs are on.
    pub fn write(&self, served: &Served, now_ms: u64) {
        let log = tracing::enabled!(target: "request", tracing::Level::INFO);
        if !self.config.enabled && !log {
            return;
        }
        let cold = self.cold.swap(false, Ordering::Relaxed);
        // Room for the whole line (~1.1 KiB), so it is never copied to grow.
        let mut out = String::with_capacity(2048);
        let mut line = if self.config.enabled {
            EmfLine::with_header(&mut out, &self.header, now_ms)
        } else {
            EmfLine::plain(&mut out)
        };
        let count = |b: bool| u64::from(b);
        line.text("level", "INFO")
            .text("target", "request")
            .text("message", "request")
            .text(dimension::SERVICE, &self.config.service)
            .text(dimension::ROUTE, served.route)
            .text(dimension::STATUS_CLASS, status_class(served.status))
            .number("status", u64::from(served.status))
            .number(m::REQUESTS, 1)
            .number(
                m::LATENCY,
                u64::try_from(served.latency.as_micros()).unwrap_or(u64::MAX),
            )
            .number(m::CONDITIONAL_WRITE_CONFLICTS, count(served.status == 412))
            .number(m::IDEMPOTENT_REPLAYS, count(served.replayed))
            .number(
                m::STORE_THROTTLES,
                count(served.store == StoreOutcome::Throttled),
            )
            .number(
                m::STORE_FAILURES,
                count(served.store == StoreOutcome::Failed),
            )
            .number(m::COLD_START, count(cold));
        Invocation::write_current(line.buffer());
        line.finish();
        out.push('\n');
        self.sink.write_terminated(&out);
    }
}
