//! The development identity provider. DEVELOPMENT ONLY.
//!
//! A fresh RSA key is generated at every start; its JWKS is served by the
//! stack at [`JWKS_PATH`] and the authorizer fetches it from there through
//! its real HTTP JWKS source, exactly as it fetches Cognito's. Tokens are
//! minted with Cognito access-token claims (issuer of [`DEV_POOL_ID`],
//! client [`DEV_CLIENT_ID`]) at [`TOKEN_PATH`], which exists only while the
//! stack runs with this provider: anyone who can reach it can be anyone.

use authorizer::jwt::token::SigAlg;
use authorizer::testkit::{SigningKey, access_claims, jwks};
use policies::FIRST_PARTY_SCOPE;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The development user pool id (region `us-east-1`).
pub const DEV_POOL_ID: &str = "us-east-1_LocalDev";
/// The development app client id.
pub const DEV_CLIENT_ID: &str = "localdevclient";
/// Where the JWKS is served.
pub const JWKS_PATH: &str = "/_dev/jwks.json";
/// Where tokens are minted (`POST`).
pub const TOKEN_PATH: &str = "/_dev/token";
/// Minted tokens are valid this long, like Cognito's default.
pub const TOKEN_LIFETIME_SECONDS: u64 = 3600;

const MAX_FIELD: usize = 128;

/// Why no token was minted.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The key could not be generated or could not sign.
    #[error("the development signing key failed")]
    Crypto,
    /// A field of the request is empty, too long or holds control characters.
    #[error("{0} must be 1-128 visible characters")]
    BadField(&'static str),
}

/// What `POST /_dev/token` takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The user: `sub` and `username`.
    pub sub: String,
    /// Cognito groups (`readonly` limits the user to reads).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Space-separated scopes; default `aws.cognito.signin.user.admin` (a
    /// first-party sign-in: full access).
    #[serde(default)]
    pub scope: Option<String>,
}

/// What `POST /_dev/token` answers, shaped like an OAuth token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MintResponse {
    /// The signed access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// The development identity provider's key and issuer.
#[derive(Debug)]
pub struct DevIdp {
    key: SigningKey,
    issuer: String,
}

impl DevIdp {
    /// A provider with a freshly generated RS256 key.
    pub fn generate() -> Result<Self, IdpError> {
        let key = SigningKey::rsa("local-dev-1", SigAlg::RS256).map_err(|_| IdpError::Crypto)?;
        Ok(DevIdp {
            key,
            issuer: format!("https://cognito-idp.us-east-1.amazonaws.com/{DEV_POOL_ID}"),
        })
    }

    /// The issuer of minted tokens, the one the authorizer is configured with.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS document with the public key.
    pub fn jwks(&self) -> Value {
        jwks(&[&self.key])
    }

    /// An access token for `request`, issued at `now` (Unix seconds).
    pub fn mint(&self, request: &MintRequest, now: u64) -> Result<MintResponse, IdpError> {
        check("sub", &request.sub)?;
        for g in &request.groups {
            check("groups", g)?;
        }
        let scope = request.scope.as_deref().unwrap_or(FIRST_PARTY_SCOPE);
        if scope.len() > 1024 || scope.chars().any(char::is_control) {
            return Err(IdpError::BadField("scope"));
        }
        let groups: Vec<&str> = request.groups.iter().map(String::as_str).collect();
        let claims = access_claims(
            &self.issuer,
            DEV_CLIENT_ID,
            &request.sub,
            scope,
            &groups,
            now,
        );
        let access_token = self.key.sign(&claims).map_err(|_| IdpError::Crypto)?;
        Ok(MintResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: TOKEN_LIFETIME_SECONDS,
        })
    }
}

fn check(field: &'static str, value: &str) -> Result<(), IdpError> {
    if value.is_empty() || value.len() > MAX_FIELD || value.chars().any(char::is_control) {
        return Err(IdpError::BadField(field));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_carry_cognito_access_claims() {
        let idp = DevIdp::generate().unwrap();
        let minted = idp
            .mint(
                &MintRequest {
                    sub: "bob".into(),
                    groups: vec!["readonly".into()],
                    scope: None,
                },
                1_800_000_000,
            )
            .unwrap();
        let payload = minted.access_token.split('.').nth(1).unwrap();
        use base64::Engine;
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], idp.issuer());
        assert_eq!(claims["client_id"], DEV_CLIENT_ID);
        assert_eq!(claims["token_use"], "access");
        assert_eq!(claims["scope"], FIRST_PARTY_SCOPE);
        assert_eq!(claims["cognito:groups"][0], "readonly");
        assert_eq!(minted.expires_in, 3600);
    }

    #[test]
    fn an_empty_sub_is_refused() {
        let idp = DevIdp::generate().unwrap();
        let r = idp.mint(
            &MintRequest {
                sub: String::new(),
                groups: vec![],
                scope: None,
            },
            0,
        );
        assert!(matches!(r, Err(IdpError::BadField("sub"))));
    }
}
