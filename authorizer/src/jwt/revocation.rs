//! Revocation: asking Cognito whether an access token still stands.
//!
//! A signature and an `exp` cannot show that a user signed out everywhere or
//! that a refresh token (and the access tokens minted from it) was revoked;
//! only Cognito knows. `GetUser` with the access token answers exactly that:
//! it fails with `NotAuthorizedException` for a revoked token.
//!
//! [`RevocationCache`] keeps Cognito's answers per token in process, so that
//! however often one token comes back (its two spellings, every API Gateway
//! cache miss, every route) it costs at most one `GetUser` per
//! [`STILL_VALID_TTL`]: a revoked answer stands until the token's `exp`, a
//! "still valid" one for at most a minute (it is what bounds how long a
//! sign-out takes effect), neither past `exp`. Entries are keyed by the
//! token's SHA-256 (32 bytes, whatever the token's size) and bounded in
//! number, so the cache's memory is bounded too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use tracing::warn;

use crate::BoxFuture;
use crate::metrics::Counters;
use crate::reject::Rejection;

/// How long Cognito's "not revoked" is trusted, in seconds.
pub const STILL_VALID_TTL: f64 = 60.0;
/// The most answers kept.
pub const MAX_ANSWERS: usize = 10_000;

/// Whether an access token was revoked.
pub trait RevocationCheck: Send + Sync {
    /// `Ok(())` if Cognito still honours `access_token`; otherwise
    /// [`Rejection::Revoked`], or [`Rejection::RevocationUnavailable`] when it
    /// could not be asked (fail closed).
    fn check<'a>(&'a self, access_token: &'a str) -> BoxFuture<'a, Result<(), Rejection>>;
}

/// Asks Cognito with `GetUser` through the AWS SDK.
#[derive(Debug, Clone)]
pub struct CognitoRevocation {
    client: Client,
}

impl CognitoRevocation {
    /// A checker using `client`.
    pub fn new(client: Client) -> Self {
        CognitoRevocation { client }
    }
}

impl RevocationCheck for CognitoRevocation {
    fn check<'a>(&'a self, access_token: &'a str) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            match self
                .client
                .get_user()
                .access_token(access_token)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(e))
                    if e.err().is_not_authorized_exception()
                        || e.err().is_user_not_found_exception() =>
                {
                    Err(Rejection::Revoked)
                }
                Err(e) => {
                    // Only the error code and kind: the SDK's message could in
                    // principle echo request data, and the token must not leak.
                    warn!(
                        code = e.code().unwrap_or("none"),
                        kind = sdk_error_kind(&e),
                        "revocation check failed; refusing the token"
                    );
                    Err(Rejection::RevocationUnavailable)
                }
            }
        })
    }
}

fn sdk_error_kind<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::ConstructionFailure(_) => "construction",
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "dispatch",
        SdkError::ResponseError(_) => "response",
        SdkError::ServiceError(_) => "service",
        _ => "other",
    }
}

/// Cognito's answers per token, in process.
pub struct RevocationCache {
    check: Arc<dyn RevocationCheck>,
    answers: Mutex<HashMap<[u8; 32], Answer>>,
    max_answers: usize,
}

#[derive(Debug, Clone, Copy)]
struct Answer {
    revoked: bool,
    /// Unix seconds until which the answer stands.
    until: f64,
}

impl std::fmt::Debug for RevocationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationCache")
            .field("max_answers", &self.max_answers)
            .finish_non_exhaustive()
    }
}

impl RevocationCache {
    /// A cache in front of `check`, holding at most [`MAX_ANSWERS`].
    pub fn new(check: Arc<dyn RevocationCheck>) -> Self {
        Self::with_capacity(check, MAX_ANSWERS)
    }

    /// As [`Self::new`], holding at most `max_answers` (tests).
    pub fn with_capacity(check: Arc<dyn RevocationCheck>, max_answers: usize) -> Self {
        RevocationCache {
            check,
            answers: Mutex::new(HashMap::new()),
            max_answers,
        }
    }

    /// Whether `access_token`, valid until `expires_at`, still stands at
    /// `now` (Unix seconds): a cached answer, or Cognito's. "Could not ask"
    /// is never cached: the next request asks again, and fails closed again.
    pub async fn check(
        &self,
        access_token: &str,
        expires_at: f64,
        now: f64,
        counters: &Counters,
    ) -> Result<(), Rejection> {
        let key = crate::digest::sha256(&[access_token.as_bytes()]);
        if let Some(answer) = self.lock().get(&key).copied()
            && now < answer.until
        {
            return if answer.revoked {
                Err(Rejection::Revoked)
            } else {
                Ok(())
            };
        }
        Counters::count(&counters.revocation_checks);
        let result = self.check.check(access_token).await;
        let until = match &result {
            Ok(()) => (now + STILL_VALID_TTL).min(expires_at),
            Err(Rejection::Revoked) => expires_at,
            Err(_) => {
                Counters::count(&counters.revocation_check_failures);
                return result;
            }
        };
        self.remember(
            key,
            Answer {
                revoked: result.is_err(),
                until,
            },
            now,
        );
        result
    }

    /// How many answers are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn remember(&self, key: [u8; 32], answer: Answer, now: f64) {
        let mut answers = self.lock();
        if answers.len() >= self.max_answers && !answers.contains_key(&key) {
            answers.retain(|_, a| now < a.until);
            // Still full of live answers: start over rather than grow. The
            // price is one more Cognito call per token, never a wrong answer.
            if answers.len() >= self.max_answers {
                answers.clear();
            }
        }
        answers.insert(key, answer);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Answer>> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers from a script and counts the calls.
    struct Scripted {
        calls: AtomicUsize,
        answer: Mutex<Result<(), Rejection>>,
    }

    impl Scripted {
        fn new(answer: Result<(), Rejection>) -> Arc<Self> {
            Arc::new(Scripted {
                calls: AtomicUsize::new(0),
                answer: Mutex::new(answer),
            })
        }
        fn set(&self, answer: Result<(), Rejection>) {
            *self.answer.lock().unwrap() = answer;
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl RevocationCheck for Scripted {
        fn check<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Rejection>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.lock().unwrap().clone();
            Box::pin(async move { answer })
        }
    }

    const NOW: f64 = 1_800_000_000.0;
    const EXP: f64 = NOW + 3600.0;

    #[tokio::test]
    async fn one_token_costs_one_cognito_call_while_the_answer_stands() {
        let cognito = Scripted::new(Ok(()));
        let cache = RevocationCache::new(cognito.clone());
        for i in 0..100 {
            assert_eq!(
                cache
                    .check("t1", EXP, NOW + f64::from(i) * 0.5, &Counters::default())
                    .await,
                Ok(())
            );
        }
        assert_eq!(cognito.calls(), 1);
        cache
            .check("t2", EXP, NOW, &Counters::default())
            .await
            .unwrap();
        assert_eq!(cognito.calls(), 2, "another token is another question");
    }

    #[tokio::test]
    async fn a_still_valid_answer_is_asked_again_after_a_minute() {
        let cognito = Scripted::new(Ok(()));
        let cache = RevocationCache::new(cognito.clone());
        cache
            .check("t", EXP, NOW, &Counters::default())
            .await
            .unwrap();
        cognito.set(Err(Rejection::Revoked));
        assert_eq!(
            cache
                .check("t", EXP, NOW + STILL_VALID_TTL - 1.0, &Counters::default())
                .await,
            Ok(())
        );
        assert_eq!(
            cache
                .check("t", EXP, NOW + STILL_VALID_TTL, &Counters::default())
                .await,
            Err(Rejection::Revoked)
        );
        assert_eq!(cognito.calls(), 2);
    }

    #[tokio::test]
    async fn a_revoked_answer_is_cached_until_the_token_expires() {
        let cognito = Scripted::new(Err(Rejection::Revoked));
        let cache = RevocationCache::new(cognito.clone());
        for t in [NOW, NOW + 100.0, EXP - 1.0] {
            assert_eq!(
                cache.check("t", EXP, t, &Counters::default()).await,
                Err(Rejection::Revoked)
            );
        }
        assert_eq!(cognito.calls(), 1);
    }

    #[tokio::test]
    async fn no_answer_outlives_the_token() {
        let cognito = Scripted::new(Ok(()));
        let cache = RevocationCache::new(cognito.clone());
        let exp = NOW + 5.0;
        cache
            .check("t", exp, NOW, &Counters::default())
            .await
            .unwrap();
        cache
            .check("t", exp, exp, &Counters::default())
            .await
            .unwrap();
        assert_eq!(cognito.calls(), 2, "the answer ended with the token");
    }

    #[tokio::test]
    async fn could_not_ask_is_never_cached() {
        let cognito = Scripted::new(Err(Rejection::RevocationUnavailable));
        let cache = RevocationCache::new(cognito.clone());
        for _ in 0..3 {
            assert_eq!(
                cache.check("t", EXP, NOW, &Counters::default()).await,
                Err(Rejection::RevocationUnavailable)
            );
        }
        assert_eq!(cognito.calls(), 3);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn the_cache_is_bounded_in_entries_whatever_the_token_sizes() {
        let cognito = Scripted::new(Ok(()));
        let cache = RevocationCache::with_capacity(cognito.clone(), 8);
        for i in 0..100 {
            let token = format!("{i}{}", "x".repeat(8 * 1024));
            cache
                .check(&token, EXP, NOW, &Counters::default())
                .await
                .unwrap();
            assert!(cache.len() <= 8);
        }
    }
}
