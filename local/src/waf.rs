//! The emulation of the web ACL's two rate-based rules, in front of the
//! gateway as AWS WAF sits in front of the stage (off unless configured).
//!
//! 1. **Per client IP** (`AggregateKeyType: IP`): the peer address of the
//!    connection, never a header a client writes (`X-Forwarded-For`).
//! 2. **Per credential** (`AggregateKeyType: CUSTOM_KEYS`, the
//!    `Authorization` header): a request without the header is omitted
//!    from this rule, as WAF omits a request missing an aggregation key, so
//!    callers without a credential are bounded by rule 1 alone.
//!
//! Each rule counts, per aggregation instance, the requests it evaluated in
//! the last evaluation window (60, 120, 300 or 600 s, WAF's choices; 300 by
//! default) and blocks a request that takes the count over its limit (10 at
//! least, WAF's floor). Blocked requests are counted too: a client that
//! keeps flooding stays blocked, one that stops is let through once its
//! window holds no more than the limit. Rules are evaluated in order and a
//! block ends the evaluation, so a request blocked by rule 1 is not counted
//! by rule 2.
//!
//! Where WAF differs: it estimates the rate (weighting recent requests) and
//! checks it about every 10 s, so it blocks near the limit and up to tens
//! of seconds after the burst; this counts exactly, per second, at once.
//! The answer to a blocked request is in one place, [`blocked_response`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

/// The evaluation windows WAF accepts, in seconds.
pub const WINDOWS: [u64; 4] = [60, 120, 300, 600];
/// WAF's default evaluation window.
pub const DEFAULT_WINDOW_SECONDS: u64 = 300;
/// The lowest limit WAF accepts.
pub const MIN_LIMIT: u64 = 10;
/// Aggregation instances one rule keeps; past this, those seen least
/// recently are forgotten (a flood of made-up credentials cannot grow the
/// process without bound).
pub const MAX_INSTANCES: usize = 100_000;

/// The two rules' settings (`None`: that rule is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WafConfig {
    /// Requests per window per client IP.
    pub ip_limit: Option<u64>,
    /// Requests per window per `Authorization` value.
    pub credential_limit: Option<u64>,
    /// The evaluation window, seconds (one of [`WINDOWS`]).
    pub window_seconds: u64,
}

impl Default for WafConfig {
    /// Both rules off, WAF's default window.
    fn default() -> Self {
        WafConfig {
            ip_limit: None,
            credential_limit: None,
            window_seconds: DEFAULT_WINDOW_SECONDS,
        }
    }
}

/// What a rate-based rule aggregates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateKey {
    /// The client's IP address.
    Ip,
    /// The `Authorization` header's value.
    Authorization,
}

/// Which rule blocked a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// The rule's aggregation key.
    pub rule: AggregateKey,
}

/// One rate-based rule.
#[derive(Debug)]
pub struct RateRule {
    key: AggregateKey,
    limit: u64,
    window_seconds: u64,
    started: Instant,
    instances: Mutex<HashMap<String, Instance>>,
}

/// One aggregation instance's requests: (second since start, count), oldest
/// first, none older than the window.
#[derive(Debug, Default)]
struct Instance {
    seconds: VecDeque<(u64, u64)>,
    last_seen: u64,
}

impl Instance {
    /// Counts one request at `second` and returns the count in the window.
    fn count(&mut self, second: u64, window: u64) -> u64 {
        while self
            .seconds
            .front()
            .is_some_and(|(s, _)| *s + window <= second)
        {
            self.seconds.pop_front();
        }
        match self.seconds.back_mut() {
            Some((s, n)) if *s == second => *n += 1,
            _ => self.seconds.push_back((second, 1)),
        }
        self.last_seen = second;
        self.seconds.iter().map(|(_, n)| n).sum()
    }
}

impl RateRule {
    /// A rule on `key` allowing `limit` requests per `window_seconds`,
    /// counting from `started`.
    pub fn new(key: AggregateKey, limit: u64, window_seconds: u64, started: Instant) -> Self {
        RateRule {
            key,
            limit,
            window_seconds,
            started,
            instances: Mutex::new(HashMap::new()),
        }
    }

    /// Counts the request with aggregation value `value` at `now`; whether
    /// the rule blocks it.
    fn blocks(&self, value: &str, now: Instant) -> bool {
        let second = now.saturating_duration_since(self.started).as_secs();
        let mut instances = self
            .instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if instances.len() >= MAX_INSTANCES && !instances.contains_key(value) {
            forget_least_recent(&mut instances, self.window_seconds, second);
        }
        let count = instances
            .entry(value.to_owned())
            .or_default()
            .count(second, self.window_seconds);
        count > self.limit
    }
}

/// Drops the instances whose window is empty, and if none is, the tenth
/// seen least recently.
fn forget_least_recent(instances: &mut HashMap<String, Instance>, window: u64, now: u64) {
    let before = instances.len();
    instances.retain(|_, i| i.last_seen + window > now);
    if instances.len() < before {
        return;
    }
    let mut seen: Vec<u64> = instances.values().map(|i| i.last_seen).collect();
    let cut = seen.len() / 10;
    seen.select_nth_unstable(cut);
    let threshold = seen[cut];
    instances.retain(|_, i| i.last_seen > threshold);
}

/// The web ACL: its rules in order.
#[derive(Debug)]
pub struct WebAcl {
    rules: Vec<RateRule>,
}

impl WebAcl {
    /// The rules `config` turns on (per IP first, then per credential, as
    /// the template orders them), counting from `now`.
    pub fn new(config: &WafConfig, now: Instant) -> Self {
        let mut rules = Vec::new();
        if let Some(limit) = config.ip_limit {
            rules.push(RateRule::new(
                AggregateKey::Ip,
                limit,
                config.window_seconds,
                now,
            ));
        }
        if let Some(limit) = config.credential_limit {
            rules.push(RateRule::new(
                AggregateKey::Authorization,
                limit,
                config.window_seconds,
                now,
            ));
        }
        WebAcl { rules }
    }

    /// Whether any rule is on.
    pub fn is_on(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Evaluates a request from `client` with `headers` at `now`: the rule
    /// that blocks it, if one does.
    pub fn inspect(
        &self,
        client: Option<IpAddr>,
        headers: &HeaderMap,
        now: Instant,
    ) -> Option<Blocked> {
        for rule in &self.rules {
            let value = match rule.key {
                AggregateKey::Ip => client.map(|ip| ip.to_string()),
                // The header's exact bytes, as WAF's NONE transformation.
                AggregateKey::Authorization => headers
                    .get(header::AUTHORIZATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            };
            // A request missing the key is omitted from the rule.
            let Some(value) = value else { continue };
            if rule.blocks(&value, now) {
                return Some(Blocked { rule: rule.key });
            }
        }
        None
    }
}

/// The status the template's rate rules answer a blocked request with
/// (their `Block` action's `CustomResponse.ResponseCode`).
pub const RATE_LIMITED_STATUS: StatusCode = StatusCode::TOO_MANY_REQUESTS;

/// The body of that answer: the template's `rate-limited` custom response
/// body (`CustomResponseBodies`, `APPLICATION_JSON`); tests/tests/template.rs
/// holds the two equal.
pub const RATE_LIMITED_BODY: &str = r#"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Too many requests from this address or with this credential; retry later, more slowly."}"#;

/// The answer to a request a rate rule blocked: the one place to change it.
///
/// A WAF custom response takes precedence over API Gateway's gateway
/// responses (without one, a block would reach the client as the stage's
/// `WAF_FILTERED` gateway response, rendered by the template's
/// `DEFAULT_4XX`). The template's rate rules answer 429 with a JSON body
/// and the CORS origin, and no `Retry-After`: WAF's custom response cannot
/// know when the rate falls below the limit. The managed rule groups, which
/// keep WAF's default block, are not emulated.
pub fn blocked_response(cors_origin: &HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::from(RATE_LIMITED_BODY));
    *response.status_mut() = RATE_LIMITED_STATUS;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, cors_origin.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(authorization: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = authorization {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn each_client_ip_gets_its_limit_per_window_and_blocked_requests_count() {
        let t0 = Instant::now();
        let acl = WebAcl::new(
            &WafConfig {
                ip_limit: Some(10),
                credential_limit: None,
                window_seconds: 60,
            },
            t0,
        );
        for _ in 0..10 {
            assert_eq!(acl.inspect(ip(2), &headers(None), t0), None);
        }
        let blocked = Some(Blocked {
            rule: AggregateKey::Ip,
        });
        assert_eq!(acl.inspect(ip(2), &headers(None), t0), blocked);
        // Another client is not affected.
        assert_eq!(acl.inspect(ip(3), &headers(None), t0), None);
        // Still flooding 59 s later: still blocked (its blocked requests count).
        let later = t0 + Duration::from_secs(59);
        assert_eq!(acl.inspect(ip(2), &headers(None), later), blocked);
        // A minute after its last burst the window has room again.
        let quiet = later + Duration::from_secs(60);
        assert_eq!(acl.inspect(ip(2), &headers(None), quiet), None);
    }

    #[test]
    fn the_credential_rule_counts_each_authorization_value_and_omits_requests_without_one() {
        let t0 = Instant::now();
        let acl = WebAcl::new(
            &WafConfig {
                ip_limit: None,
                credential_limit: Some(10),
                window_seconds: 300,
            },
            t0,
        );
        for n in 0..10u8 {
            // From ten addresses: the IP rule is off, the credential counts.
            assert_eq!(acl.inspect(ip(n), &headers(Some("Bearer a.b.c")), t0), None);
        }
        assert_eq!(
            acl.inspect(ip(99), &headers(Some("Bearer a.b.c")), t0),
            Some(Blocked {
                rule: AggregateKey::Authorization
            })
        );
        assert_eq!(acl.inspect(ip(1), &headers(Some("Bearer x.y.z")), t0), None);
        for _ in 0..100 {
            assert_eq!(acl.inspect(ip(1), &headers(None), t0), None);
        }
    }

    #[test]
    fn a_request_blocked_by_the_ip_rule_is_not_counted_by_the_credential_rule() {
        let t0 = Instant::now();
        let acl = WebAcl::new(
            &WafConfig {
                ip_limit: Some(10),
                credential_limit: Some(15),
                window_seconds: 60,
            },
            t0,
        );
        let token = headers(Some("Bearer a.b.c"));
        for _ in 0..50 {
            acl.inspect(ip(2), &token, t0);
        }
        // Ten counted by the credential rule: five more from elsewhere pass.
        for _ in 0..5 {
            assert_eq!(acl.inspect(ip(3), &token, t0), None);
        }
        assert_eq!(
            acl.inspect(ip(4), &token, t0).map(|b| b.rule),
            Some(AggregateKey::Authorization)
        );
    }

    #[test]
    fn the_instances_a_rule_keeps_are_bounded() {
        let t0 = Instant::now();
        let rule = RateRule::new(AggregateKey::Authorization, 10, 60, t0);
        for n in 0..(MAX_INSTANCES + 10) {
            rule.blocks(&format!("Bearer {n}"), t0);
        }
        let kept = rule
            .instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!(kept <= MAX_INSTANCES, "{kept}");
    }

    #[test]
    fn a_blocked_request_gets_the_rate_rules_custom_response() {
        let r = blocked_response(&HeaderValue::from_static("https://app.example"));
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example"
        );
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        assert!(
            r.headers().get("x-amzn-errortype").is_none(),
            "WAF's, not API Gateway's"
        );
        let body: serde_json::Value = serde_json::from_str(RATE_LIMITED_BODY).unwrap();
        assert_eq!(body["status"], 429);
    }
}
