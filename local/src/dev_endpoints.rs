//! The development identity provider's HTTP endpoints. DEVELOPMENT ONLY.
//!
//! `POST /_dev/token` lets whoever reaches it be anyone, so it answers only
//! what a developer's own tools send, never what a web page can make a
//! browser send:
//!
//! 1. a loopback `Host` (`localhost`, `127.x.x.x`, `[::1]`, with any port):
//!    a DNS-rebinding page reaches 127.0.0.1 under its own name, and is
//!    refused (403);
//! 2. no `Origin` header: browsers send one with every cross-site `POST`
//!    and command-line tools do not (403);
//! 3. `Content-Type: application/json` only (415): a page cannot send that
//!    cross-origin without a preflight, and the preflight (`OPTIONS`) is
//!    refused with no CORS headers (403), so the browser never sends the
//!    request at all.
//!
//! `GET /_dev/jwks.json` (public keys) gets the `Host` check too. Nothing
//! here ever carries CORS headers.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::json;

use crate::idp::{DevIdp, IdpError, JWKS_PATH, MintRequest, TOKEN_PATH};
use crate::stats::Stats;

/// Where the human summary of what the stack served is.
pub const METRICS_PATH: &str = "/_dev/metrics";

/// `GET /_dev/metrics`: the human summary (loopback `Host` only, like the
/// other `/_dev` routes).
pub fn metrics_route(stats: Arc<Stats>) -> Router {
    Router::new().route(
        METRICS_PATH,
        get(move |headers: HeaderMap| {
            let stats = Arc::clone(&stats);
            async move {
                if let Some(refused) = refusal(&headers, None) {
                    return refused;
                }
                let mut response = Response::new(Body::from(stats.summary()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                response
            }
        }),
    )
}

/// The `/_dev` routes of `idp`.
pub fn routes(idp: Arc<DevIdp>) -> Router {
    let for_jwks = Arc::clone(&idp);
    Router::new()
        .route(
            JWKS_PATH,
            get(move |headers: HeaderMap| {
                let idp = Arc::clone(&for_jwks);
                async move {
                    match refusal(&headers, None) {
                        Some(refused) => refused,
                        None => json_response(StatusCode::OK, idp.jwks().to_string()),
                    }
                }
            }),
        )
        .route(
            TOKEN_PATH,
            axum::routing::any(move |method: Method, headers: HeaderMap, body: Bytes| {
                let idp = Arc::clone(&idp);
                async move {
                    if let Some(refused) = refusal(&headers, Some(&method)) {
                        return refused;
                    }
                    mint(&idp, &body)
                }
            }),
        )
}

/// The identity provider's routes when it is off: 404, saying why (`why`),
/// for any method, so a developer who reaches for a token learns which
/// flag turns it on rather than meeting API Gateway's 403.
pub fn off_routes(why: &crate::config::IdpOff) -> Router {
    let text = why.to_string();
    let off = move || {
        let text = text.clone();
        async move { message(StatusCode::NOT_FOUND, &text) }
    };
    Router::new()
        .route(JWKS_PATH, axum::routing::any(off.clone()))
        .route(TOKEN_PATH, axum::routing::any(off))
}

/// Why a request to a `/_dev` endpoint is refused, if it is. `method` is
/// given for the token endpoint, which also insists on a JSON `POST`.
fn refusal(headers: &HeaderMap, method: Option<&Method>) -> Option<Response<Body>> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(is_loopback_host) {
        return Some(message(
            StatusCode::FORBIDDEN,
            "the development identity provider answers only loopback Host names (localhost, 127.0.0.1, [::1])",
        ));
    }
    let method = method?;
    if headers.contains_key(header::ORIGIN) || method == Method::OPTIONS {
        return Some(message(
            StatusCode::FORBIDDEN,
            "browsers may not mint development tokens; use curl or `local token`",
        ));
    }
    if method != Method::POST {
        let mut refused = message(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Some(refused);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Some(message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as Content-Type: application/json",
        ));
    }
    None
}

/// `localhost`, an IPv4 loopback address or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]` or `[::1]:3000`
        Some(rest) => match rest.split_once(']') {
            Some((v6, "")) => return v6 == "::1",
            Some((v6, port)) => return v6 == "::1" && port.strip_prefix(':').is_some_and(is_port),
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(s: &str) -> bool {
    s.parse::<u16>().is_ok()
}

/// `POST /_dev/token`, once the request passed [`refusal`].
fn mint(idp: &DevIdp, body: &[u8]) -> Response<Body> {
    let request: MintRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                &format!(
                    "expected {{\"sub\": \"...\", \"groups\": [...], \"scope\": \"...\"}} or {{\"grant_type\": \"client_credentials\", \"scope\": \"items/read\"}}: {e}"
                ),
            );
        }
    };
    match idp.mint(&request, crate::server::unix_now()) {
        Ok(minted) => match serde_json::to_string(&minted) {
            Ok(text) => json_response(StatusCode::OK, text),
            Err(_) => json_response(StatusCode::INTERNAL_SERVER_ERROR, "{}".into()),
        },
        Err(e @ (IdpError::BadField(_) | IdpError::BadMachineRequest)) => {
            message(StatusCode::BAD_REQUEST, &e.to_string())
        }
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn message(status: StatusCode, text: &str) -> Response<Body> {
    json_response(status, json!({ "message": text }).to_string())
}

fn json_response(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_host_names_pass() {
        for host in [
            "localhost",
            "localhost:3000",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:3000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "127.0.0.1.nip.io:3000",
            "10.0.0.1:3000",
            "0.0.0.0:3000",
            "[::2]:3000",
            "[::1]x",
            "localhost:",
            "localhost:99999",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn what_a_browser_can_send_is_refused() {
        let cases = [
            (
                vec![
                    ("host", "attacker.example:3000"),
                    ("content-type", "application/json"),
                ],
                Method::POST,
                StatusCode::FORBIDDEN,
            ),
            (
                vec![("host", "127.0.0.1:3000"), ("content-type", "text/plain")],
                Method::POST,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![("host", "127.0.0.1:3000")],
                Method::POST,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![
                    ("host", "127.0.0.1:3000"),
                    ("content-type", "application/json"),
                    ("origin", "http://127.0.0.1:5173"),
                ],
                Method::POST,
                StatusCode::FORBIDDEN,
            ),
            (
                vec![
                    ("host", "127.0.0.1:3000"),
                    ("access-control-request-method", "POST"),
                ],
                Method::OPTIONS,
                StatusCode::FORBIDDEN,
            ),
            (
                vec![("host", "127.0.0.1:3000")],
                Method::GET,
                StatusCode::METHOD_NOT_ALLOWED,
            ),
        ];
        for (pairs, method, status) in cases {
            let refused = refusal(&headers(&pairs), Some(&method));
            let refused = refused.unwrap_or_else(|| Response::new(Body::empty()));
            assert_eq!(refused.status(), status, "{method} {pairs:?}");
            assert!(
                !refused
                    .headers()
                    .contains_key("access-control-allow-origin"),
                "{pairs:?}"
            );
        }
        let ok = headers(&[
            ("host", "localhost:3000"),
            ("content-type", "application/json; charset=utf-8"),
        ]);
        assert!(refusal(&ok, Some(&Method::POST)).is_none());
    }
}
