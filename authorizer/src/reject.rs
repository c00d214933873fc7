//! Why a credential was refused.
//!
//! Every variant ends the same way for the caller (the error `Unauthorized`,
//! so API Gateway answers 401); the variants exist for the decision log and
//! for tests, which assert the exact reason. Each says what was found and,
//! where it helps, what was expected. None of them holds the credential.

use crate::apikey::format::KeyFormatError;
use crate::jwt::jwk::JwkMismatch;

/// A credential that is absent, malformed or not to be trusted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// No `Authorization` (or `X-Api-Key`) value at all.
    #[error("no credential was presented")]
    MissingCredential,
    /// Not exactly `Bearer <jwt>`, `<jwt>` or `ApiKey <key>` (another
    /// scheme, another spelling of one, padding, a key where a JWT belongs).
    #[error("the credential is not exactly Bearer <jwt>, <jwt> or ApiKey <key>")]
    MalformedCredential,
    /// Both `Authorization` and `X-Api-Key` were sent.
    #[error("both Authorization and X-Api-Key were presented")]
    AmbiguousCredentials,
    /// A JWT was presented but neither a user pool nor a trusted issuer is
    /// configured.
    #[error("JWT authentication is not configured")]
    JwtDisabled,
    /// An API key was presented but no key registry is configured.
    #[error("API key authentication is not configured")]
    ApiKeysDisabled,

    /// The token is longer than any Cognito token.
    #[error("token of {len} bytes exceeds the {max}-byte limit")]
    TokenTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a compact JWS (`header.payload.signature`, base64url, JSON).
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    /// An `alg` this verifier does not know (`none` and HMAC among them).
    #[error(
        "algorithm {alg:?} is not supported; expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg`.
        alg: String,
    },
    /// The header names a critical extension this verifier does not implement.
    #[error("header has a crit parameter, which is not supported")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("header has no kid")]
    MissingKid,
    /// No key with that `kid` in the JWKS, even after a refresh (or none allowed yet).
    #[error("no key with kid {kid:?} in the JWKS")]
    UnknownKid {
        /// The header's `kid`.
        kid: String,
    },
    /// The JWK does not agree with the header.
    #[error("key {kid:?} does not fit the token: {mismatch}")]
    KeyMismatch {
        /// The key's id.
        kid: String,
        /// How they disagree.
        mismatch: JwkMismatch,
    },
    /// The signature does not verify with the key.
    #[error("signature does not verify")]
    InvalidSignature,
    /// A known `alg` that the token's issuer does not allow.
    #[error("algorithm {alg} is not allowed for issuer {issuer}")]
    DisallowedAlgorithm {
        /// The header's `alg`.
        alg: &'static str,
        /// The issuer: `cognito` or the trusted issuer's alias.
        issuer: String,
    },
    /// An ECDSA signature in high-S form: the twin of a low-S one, which
    /// would make a second spelling of one token.
    #[error("ECDSA signature is not in low-S form")]
    HighSSignature,
    /// The payload is not a JSON object of claims.
    #[error("payload is not a JSON object of claims")]
    MalformedClaims,
    /// A claim has the wrong JSON type.
    #[error("claim {claim} is not {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// A required claim is absent.
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    /// `exp` is past (beyond the leeway).
    #[error("token expired at {exp}; now is {now}")]
    Expired {
        /// The `exp` claim.
        exp: f64,
        /// The clock used.
        now: f64,
    },
    /// `nbf` is still ahead (beyond the leeway).
    #[error("token not valid before {nbf}; now is {now}")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: f64,
        /// The clock used.
        now: f64,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued at {iat}, in the future; now is {now}")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: f64,
        /// The clock used.
        now: f64,
    },
    /// `iss` is neither the user pool nor a trusted issuer (exactly).
    #[error("issuer {iss:?} is not trusted")]
    WrongIssuer {
        /// The `iss` claim.
        iss: String,
    },
    /// `token_use` is not the one configured.
    #[error("token_use {got:?} is not accepted; expected {expected}")]
    WrongTokenUse {
        /// The `token_use` claim.
        got: String,
        /// What `TOKEN_USE` allows.
        expected: &'static str,
    },
    /// `client_id` (access) or `aud` (id) is not a configured app client.
    #[error("client {client:?} is not an allowed app client")]
    WrongClient {
        /// The client the token was issued to.
        client: String,
    },
    /// The header's `typ` is not the issuer's `requiredTyp`.
    #[error("typ {typ:?} is not {expected}")]
    WrongTyp {
        /// The header's `typ`, if any.
        typ: Option<String>,
        /// The configured type.
        expected: String,
    },
    /// `aud` names none of a trusted issuer's `audiences`.
    #[error("audience {aud:?} is not an allowed audience")]
    WrongAudience {
        /// The token's audiences, space-separated.
        aud: String,
    },
    /// A claim of a trusted issuer's `requiredClaims` is absent (or `null`).
    #[error("required claim {claim} is missing")]
    MissingRequiredClaim {
        /// The claim.
        claim: String,
    },
    /// A claim of a trusted issuer's `requiredClaims` has none of the values
    /// required.
    #[error("required claim {claim} has none of the required values")]
    WrongClaimValue {
        /// The claim.
        claim: String,
    },
    /// A claim named by a trusted issuer's configuration (`groupsClaim`) has
    /// the wrong JSON type.
    #[error("claim {claim} is not {expected}")]
    ConfiguredClaimType {
        /// The claim.
        claim: String,
        /// The type it must have.
        expected: &'static str,
    },
    /// Cognito says the access token was revoked or its user signed out.
    #[error("token was revoked")]
    Revoked,
    /// Revocation checking is on and Cognito could not be asked: fail closed.
    #[error("revocation status could not be checked")]
    RevocationUnavailable,

    /// Not a partner key: wrong shape or checksum (refused before any lookup).
    #[error("malformed API key: {0}")]
    MalformedApiKey(KeyFormatError),
    /// The registry has no key with this id.
    #[error("no API key with id {key_id:?}")]
    UnknownApiKey {
        /// The key id.
        key_id: String,
    },
    /// The key's hash does not match its record.
    #[error("API key {key_id:?} does not match its record")]
    ApiKeyMismatch {
        /// The key id.
        key_id: String,
    },
    /// The key is disabled.
    #[error("API key {key_id:?} is disabled")]
    DisabledApiKey {
        /// The key id.
        key_id: String,
    },
    /// The key has expired.
    #[error("API key {key_id:?} has expired")]
    ExpiredApiKey {
        /// The key id.
        key_id: String,
    },
    /// The registry cannot be read: fail closed.
    #[error("the partner key registry is unavailable")]
    RegistryUnavailable,
}

impl Rejection {
    /// A stable, short code for the decision log and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MissingCredential => "missing_credential",
            Rejection::MalformedCredential => "malformed_credential",
            Rejection::AmbiguousCredentials => "ambiguous_credentials",
            Rejection::JwtDisabled => "jwt_disabled",
            Rejection::ApiKeysDisabled => "api_keys_disabled",
            Rejection::TokenTooLarge { .. } => "token_too_large",
            Rejection::MalformedToken(_) => "malformed_token",
            Rejection::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Rejection::CriticalHeader => "critical_header",
            Rejection::MissingKid => "missing_kid",
            Rejection::UnknownKid { .. } => "unknown_kid",
            Rejection::KeyMismatch { .. } => "key_mismatch",
            Rejection::InvalidSignature => "invalid_signature",
            Rejection::DisallowedAlgorithm { .. } => "disallowed_algorithm",
            Rejection::HighSSignature => "high_s_signature",
            Rejection::MalformedClaims => "malformed_claims",
            Rejection::ClaimType { .. } => "claim_type",
            Rejection::MissingClaim(_) => "missing_claim",
            Rejection::Expired { .. } => "expired",
            Rejection::NotYetValid { .. } => "not_yet_valid",
            Rejection::IssuedInFuture { .. } => "issued_in_future",
            Rejection::WrongIssuer { .. } => "wrong_issuer",
            Rejection::WrongTokenUse { .. } => "wrong_token_use",
            Rejection::WrongClient { .. } => "wrong_client",
            Rejection::WrongTyp { .. } => "wrong_typ",
            Rejection::WrongAudience { .. } => "wrong_audience",
            Rejection::MissingRequiredClaim { .. } => "missing_claim",
            Rejection::WrongClaimValue { .. } => "wrong_claim_value",
            Rejection::ConfiguredClaimType { .. } => "claim_type",
            Rejection::Revoked => "revoked",
            Rejection::RevocationUnavailable => "revocation_unavailable",
            Rejection::MalformedApiKey(_) => "malformed_api_key",
            Rejection::UnknownApiKey { .. } => "unknown_api_key",
            Rejection::ApiKeyMismatch { .. } => "api_key_mismatch",
            Rejection::DisabledApiKey { .. } => "disabled_api_key",
            Rejection::ExpiredApiKey { .. } => "expired_api_key",
            Rejection::RegistryUnavailable => "registry_unavailable",
        }
    }
}
