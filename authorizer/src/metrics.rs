//! What the authorizer counts, and the one line it writes per decision.
//!
//! The decision line is both the decision's log line and its metrics: an
//! Embedded Metric Format object (`telemetry::emf`) whose root members are
//! the decision's fields (`outcome`, `reason`, `route`, `principal`, `fp`,
//! …), the invocation's ids, and the metric values of
//! `telemetry::emf::authorizer`: the decision itself, its latency, and what
//! the caches did since the previous line (JWKS fetches, registry reads,
//! revocation checks, each with its failures), whether the registry is
//! unreadable, and the cold start. One line, one `write`, per decision,
//! of at most `telemetry::emf::MAX_LINE` bytes whatever the credential
//! held: the text a caller chose (the principal's claims, the detail's
//! `kid` or `alg`) is written last and bounded where the line is written,
//! so a new rejection's message is bounded without a thought.
//!
//! With `POWERTOOLS_METRICS_DISABLED=true` the line carries no `_aws` and is
//! written only when `decision` logs are on (`RUST_LOG`); when neither is
//! wanted, nothing is built, not even the credential's fingerprint.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use telemetry::emf::{EmfHeader, EmfLine, authorizer as m, dimension};
use telemetry::{Invocation, MetricsConfig, Sink};

/// Events counted by the caches between two decision lines.
#[derive(Debug, Default)]
pub struct Counters {
    /// JWKS fetches started.
    pub jwks_fetches: AtomicU64,
    /// JWKS fetches that failed or brought no usable key.
    pub jwks_fetch_failures: AtomicU64,
    /// Registry reads started.
    pub registry_reads: AtomicU64,
    /// Registry reads that failed.
    pub registry_read_failures: AtomicU64,
    /// `GetUser` calls made.
    pub revocation_checks: AtomicU64,
    /// `GetUser` calls that could not answer.
    pub revocation_check_failures: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The fields of one decision, as the line reports them.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// `allow`, `deny`, `unauthorized` or `error`.
    pub outcome: &'static str,
    /// A stable reason code.
    pub reason: &'static str,
    /// The route of the method ARN, `GET /items/{id}` (or `unmatched`).
    pub route: &'static str,
    /// The owner, for allowed and denied principals.
    pub principal: Option<&'a str>,
    /// `jwt` or `apiKey`, when known.
    pub auth_type: Option<&'static str>,
    /// The permissions granted.
    pub permissions: Option<&'a str>,
    /// The reason in words, for refusals.
    pub detail: Option<&'a str>,
    /// How long the decision took.
    pub latency: Duration,
}

impl<'a> Decision<'a> {
    /// The line's level: `ERROR` for a fault (`outcome` `error`: API
    /// Gateway answers 500), `INFO` for every decision, refusals included
    /// (a 401 is the authorizer working).
    pub fn level(&self) -> &'static str {
        if self.outcome == "error" {
            "ERROR"
        } else {
            "INFO"
        }
    }

    /// A decision without a principal: `outcome` `unauthorized` or `error`.
    pub fn refused(
        outcome: &'static str,
        reason: &'static str,
        route: &'static str,
        detail: &'a str,
        latency: Duration,
    ) -> Self {
        Decision {
            outcome,
            reason,
            route,
            principal: None,
            auth_type: None,
            permissions: None,
            detail: Some(detail),
            latency,
        }
    }
}

/// Writes decision lines.
#[derive(Debug)]
pub struct DecisionLines {
    config: MetricsConfig,
    header: EmfHeader,
    sink: Sink,
    cold: AtomicBool,
}

impl DecisionLines {
    /// Lines for `config`, written to `sink`.
    pub fn new(config: MetricsConfig, sink: Sink) -> Self {
        DecisionLines {
            header: EmfHeader::new(&config.namespace, &m::SETS),
            config,
            sink,
            cold: AtomicBool::new(true),
        }
    }

    /// Whether a line will be written for the next decision: metrics are on,
    /// or the `decision` log is.
    pub fn wanted(&self) -> bool {
        self.config.enabled || tracing::enabled!(target: "decision", tracing::Level::INFO)
    }

    /// Writes the line of `decision` at `now_ms` (Unix milliseconds), taking
    /// the counters' values since the previous line. `fingerprint` is called
    /// only if a line is written; `registry_unreadable` is `None` when API
    /// keys are off.
    pub fn write(
        &self,
        decision: &Decision<'_>,
        fingerprint: impl FnOnce() -> String,
        counters: &Counters,
        registry_unreadable: Option<bool>,
        now_ms: u64,
    ) {
        if !self.wanted() {
            return;
        }
        let cold = self.cold.swap(false, Ordering::Relaxed);
        let take = |c: &AtomicU64| c.swap(0, Ordering::Relaxed);
        // A decision line is ~1.1 KiB: room for all of it, so it is never
        // copied to grow.
        let mut out = String::with_capacity(2048);
        let mut line = if self.config.enabled {
            EmfLine::with_header(&mut out, &self.header, now_ms)
        } else {
            EmfLine::plain(&mut out)
        };
        line.text("level", decision.level())
            .text("target", "decision")
            .text("message", "decision")
            .text(dimension::SERVICE, &self.config.service)
            .text(dimension::OUTCOME, decision.outcome)
            .text(dimension::REASON, decision.reason)
            .text("route", decision.route);
        if let Some(a) = decision.auth_type {
            line.text("authType", a);
        }
        if let Some(p) = decision.permissions {
            line.text("permissions", p);
        }
        let fp = fingerprint();
        if !fp.is_empty() {
            line.text("fp", &fp);
        }
        let latency_us = u64::try_from(decision.latency.as_micros()).unwrap_or(u64::MAX);
        line.number(m::DECISIONS, 1)
            .number(m::DECISION_LATENCY, latency_us)
            .number(m::JWKS_FETCHES, take(&counters.jwks_fetches))
            .number(m::JWKS_FETCH_FAILURES, take(&counters.jwks_fetch_failures))
            .number(m::REGISTRY_READS, take(&counters.registry_reads))
            .number(
                m::REGISTRY_READ_FAILURES,
                take(&counters.registry_read_failures),
            )
            .number(
                m::REGISTRY_UNREADABLE,
                u64::from(registry_unreadable.unwrap_or(false)),
            )
            .number(m::REVOCATION_CHECKS, take(&counters.revocation_checks))
            .number(
                m::REVOCATION_CHECK_FAILURES,
                take(&counters.revocation_check_failures),
            )
            .number(m::COLD_START, u64::from(cold));
        Invocation::write_current(line.buffer());
        // Text a caller chose comes last (a claim in the principal, a kid
        // or an alg in the detail): each value is bounded, and only these
        // can be cut to keep the line within telemetry::emf::MAX_LINE.
        if let Some(p) = decision.principal {
            line.text("principal", p);
        }
        if let Some(d) = decision.detail {
            line.text("detail", d);
        }
        line.finish();
        out.push('\n');
        self.sink.write_terminated(&out);
    }
}
