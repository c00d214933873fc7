//! CORS headers on the api's own responses.
//!
//! With a Lambda proxy integration, API Gateway adds CORS headers only to the
//! preflight and to its own gateway responses; every response the function
//! returns must carry them itself, or browsers hide it from the page. The
//! exposed headers are the ones clients of this API need to read: `ETag` for
//! `If-Match`, `Location` after a create, `Retry-After` on 503.

use lambda_http::Body;
use lambda_http::http::{HeaderValue, Response, header};

/// The CORS policy of the responses: one allowed origin (or `*`).
#[derive(Debug, Clone)]
pub struct Cors {
    allow_origin: HeaderValue,
    vary: bool,
}

/// An origin that is neither `*` nor `http(s)://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an origin; expected * or https://host[:port] without a path")]
pub struct BadOrigin(pub String);

const EXPOSE: &str = "ETag, Location, Retry-After, Idempotent-Replayed";

impl Cors {
    /// The policy for `origin`.
    pub fn new(origin: &str) -> Result<Self, BadOrigin> {
        let bad = || BadOrigin(origin.to_owned());
        let valid = origin == "*"
            || origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .is_some_and(|host| {
                    !host.is_empty()
                        && host.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':'
                        })
                });
        if !valid {
            return Err(bad());
        }
        Ok(Cors {
            allow_origin: HeaderValue::from_str(origin).map_err(|_| bad())?,
            // A single named origin varies by request origin for caches.
            vary: origin != "*",
        })
    }

    /// Adds the headers to `response`.
    pub fn apply(&self, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin.clone(),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE),
        );
        if self.vary {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        for ok in ["*", "https://app.example.com", "http://localhost:5173"] {
            assert!(Cors::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "app.example.com",
            "https://",
            "https://a.com/path",
            "https://a.com\r\nX: y",
            "null",
        ] {
            assert_eq!(Cors::new(bad).unwrap_err(), BadOrigin(bad.to_owned()));
        }
    }

    #[test]
    fn responses_get_the_origin_and_the_exposed_headers() {
        let mut r = Response::new(Body::Empty);
        Cors::new("https://app.example.com").unwrap().apply(&mut r);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(r.headers()["access-control-expose-headers"], EXPOSE);
        assert_eq!(r.headers()["vary"], "Origin");
        let mut any = Response::new(Body::Empty);
        Cors::new("*").unwrap().apply(&mut any);
        assert!(any.headers().get("vary").is_none());
    }
}
