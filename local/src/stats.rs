//! What the local stack has served, for people: requests by status class,
//! latency percentiles, the authorizer's decisions by outcome and the
//! authorizer cache's hit ratio. Served at `GET /_dev/metrics` and printed
//! at shutdown. (The functions' own EMF lines are what CloudWatch would
//! read; `--print-emf` shows them on stderr.)

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How the gateway settled the authorization of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorized {
    /// A policy from the cache.
    CacheHit,
    /// The authorizer allowed at least one route.
    Allow,
    /// The authorizer answered with a Deny-all policy.
    Deny,
    /// The authorizer answered `Unauthorized`.
    Unauthorized,
    /// The authorizer failed otherwise.
    Error,
    /// The identity source was missing or failed the validation expression:
    /// no authorizer call.
    RefusedAtTheGate,
}

/// Sub-buckets per power of two: latencies are kept to within 1/8 (12.5 %).
const SUB: usize = 8;
/// Powers of two of microseconds covered (up to about 2^40 µs).
const POWERS: usize = 41;

/// Counters and a latency histogram, updated without locks.
#[derive(Debug)]
pub struct Stats {
    requests: AtomicU64,
    by_class: [AtomicU64; 5],
    authorized: [AtomicU64; 6],
    latency: Vec<AtomicU64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: AtomicU64::new(0),
            by_class: Default::default(),
            authorized: Default::default(),
            latency: (0..POWERS * SUB).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The histogram bucket of `us` microseconds: the power of two, then the
/// next three bits.
fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return usize::try_from(us).unwrap_or(0);
    }
    let power = 63 - us.leading_zeros() as usize; // ≥ 3
    let sub = usize::try_from((us >> (power - 3)) & 7).unwrap_or(0);
    (power - 2) * SUB + sub
}

/// The smallest latency (µs) that falls in bucket `b`.
fn bucket_floor(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let power = b / SUB + 2;
    let sub = (b % SUB) as u64;
    (8 + sub) << (power - 3)
}

impl Stats {
    /// Records a request answered with `status` after `latency`.
    pub fn request(&self, status: u16, latency: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let b = bucket(us).min(self.latency.len() - 1);
        self.latency[b].fetch_add(1, Ordering::Relaxed);
    }

    /// Records how a request's authorization was settled.
    pub fn authorized(&self, how: Authorized) {
        self.authorized[how as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency (µs, to within 12.5 %) under which `q` of the requests
    /// were answered.
    pub fn percentile(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        // The rank of the q-th request, 1-based, rounded up.
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_floor(b));
            }
        }
        None
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let a = |how: Authorized| n(&self.authorized[how as usize]);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "requests: {} (1xx {}, 2xx {}, 3xx {}, 4xx {}, 5xx {})",
            n(&self.requests),
            n(&self.by_class[0]),
            n(&self.by_class[1]),
            n(&self.by_class[2]),
            n(&self.by_class[3]),
            n(&self.by_class[4]),
        );
        let pct = |q| self.percentile(q).map_or("-".to_owned(), human);
        let _ = writeln!(out, "latency: p50 {}, p99 {}", pct(0.50), pct(0.99));
        let calls = a(Authorized::Allow)
            + a(Authorized::Deny)
            + a(Authorized::Unauthorized)
            + a(Authorized::Error);
        let _ = writeln!(
            out,
            "authorizer decisions: {calls} (allow {}, deny {}, unauthorized {}, error {})",
            a(Authorized::Allow),
            a(Authorized::Deny),
            a(Authorized::Unauthorized),
            a(Authorized::Error),
        );
        let hits = a(Authorized::CacheHit);
        let lookups = hits + calls;
        let ratio = if lookups == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} %", 100.0 * hits as f64 / lookups as f64)
        };
        let _ = writeln!(
            out,
            "authorizer cache: {hits} hits of {lookups} lookups ({ratio})"
        );
        let _ = writeln!(
            out,
            "refused at the identity source (no authorizer call): {}",
            a(Authorized::RefusedAtTheGate)
        );
        out
    }
}

fn human(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else {
        format!("{:.1} ms", us as f64 / 1000.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_latency_in_order_and_within_an_eighth() {
        let mut last = 0;
        for us in [
            0,
            1,
            7,
            8,
            9,
            15,
            16,
            100,
            1000,
            12_345,
            1_000_000,
            u64::MAX >> 30,
        ] {
            let b = bucket(us);
            assert!(b >= last, "{us}");
            last = b;
            let floor = bucket_floor(b);
            assert!(
                floor <= us && us - floor <= us / 8 + 1,
                "{us} in {b} from {floor}"
            );
        }
    }

    #[test]
    fn percentiles_and_the_summary() {
        let s = Stats::default();
        for i in 1..=100u64 {
            s.request(
                if i == 100 { 503 } else { 200 },
                Duration::from_micros(i * 10),
            );
        }
        for _ in 0..9 {
            s.authorized(Authorized::CacheHit);
        }
        s.authorized(Authorized::Allow);
        s.authorized(Authorized::RefusedAtTheGate);
        let p50 = s.percentile(0.5).unwrap();
        assert!((440..=500).contains(&p50), "{p50}");
        let p99 = s.percentile(0.99).unwrap();
        assert!((870..=990).contains(&p99), "{p99}");
        let text = s.summary();
        assert!(
            text.contains("requests: 100 (1xx 0, 2xx 99, 3xx 0, 4xx 0, 5xx 1)"),
            "{text}"
        );
        assert!(text.contains("authorizer decisions: 1 (allow 1,"), "{text}");
        assert!(text.contains("9 hits of 10 lookups (90.0 %)"), "{text}");
        assert!(text.contains("no authorizer call): 1"), "{text}");
        assert!(Stats::default().summary().contains("p50 -, p99 -"));
    }
}
