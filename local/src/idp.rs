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
use policies::{FIRST_PARTY_SCOPE, SCOPE_ITEMS_DELETE, SCOPE_ITEMS_READ, SCOPE_ITEMS_WRITE};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The development user pool id (region `us-east-1`).
pub const DEV_POOL_ID: &str = "us-east-1_LocalDev";
/// The development app client id.
pub const DEV_CLIENT_ID: &str = "localdevclient";
/// The development machine client id: tokens of the `client_credentials`
/// grant, as the template's machine client gets them from Cognito.
pub const DEV_MACHINE_CLIENT_ID: &str = "localmachineclient";
/// The scopes the machine client may ask for (the template's
/// `AllowedOAuthScopes`).
pub const MACHINE_SCOPES: [&str; 3] = [SCOPE_ITEMS_READ, SCOPE_ITEMS_WRITE, SCOPE_ITEMS_DELETE];
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
    /// A machine token was asked for without scopes, with scopes the
    /// machine client may not have, or with a user's fields.
    #[error(
        "a client_credentials token takes only scope: one or more of items/read, items/write, items/delete (no sub, no groups)"
    )]
    BadMachineRequest,
}

/// What `POST /_dev/token` takes: a user's token (`sub`, optional `groups`
/// and `scope`), or with `"grant_type": "client_credentials"` a machine
/// client's token (`scope` only), as Cognito's token endpoint gives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The user: `sub` and `username` (user tokens).
    #[serde(default)]
    pub sub: Option<String>,
    /// Cognito groups (`readonly` limits the user to reads).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Space-separated scopes; default for users
    /// `aws.cognito.signin.user.admin` (a first-party sign-in: full access).
    #[serde(default)]
    pub scope: Option<String>,
    /// `client_credentials` for a machine token.
    #[serde(default)]
    pub grant_type: Option<String>,
}

impl MintRequest {
    /// A user's token request.
    pub fn user(sub: &str, groups: &[&str], scope: Option<&str>) -> Self {
        MintRequest {
            sub: Some(sub.to_owned()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            scope: scope.map(str::to_owned),
            grant_type: None,
        }
    }

    /// The machine client's token request for `scope`.
    pub fn machine(scope: &str) -> Self {
        MintRequest {
            scope: Some(scope.to_owned()),
            grant_type: Some(CLIENT_CREDENTIALS.to_owned()),
            ..MintRequest::default()
        }
    }
}

/// The OAuth grant of machine tokens.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

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
        let claims = match request.grant_type.as_deref() {
            None => self.user_claims(request, now)?,
            Some(CLIENT_CREDENTIALS) => self.machine_claims(request, now)?,
            Some(_) => return Err(IdpError::BadField("grant_type")),
        };
        let access_token = self.key.sign(&claims).map_err(|_| IdpError::Crypto)?;
        Ok(MintResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: TOKEN_LIFETIME_SECONDS,
        })
    }
}

impl DevIdp {
    fn user_claims(&self, request: &MintRequest, now: u64) -> Result<Value, IdpError> {
        let sub = request.sub.as_deref().unwrap_or_default();
        check("sub", sub)?;
        for g in &request.groups {
            check("groups", g)?;
        }
        let scope = request.scope.as_deref().unwrap_or(FIRST_PARTY_SCOPE);
        if scope.len() > 1024 || scope.chars().any(char::is_control) {
            return Err(IdpError::BadField("scope"));
        }
        let groups: Vec<&str> = request.groups.iter().map(String::as_str).collect();
        Ok(access_claims(
            &self.issuer,
            DEV_CLIENT_ID,
            sub,
            scope,
            &groups,
            now,
        ))
    }

    /// A `client_credentials` access token as Cognito issues it: `sub` is
    /// the client id, the scopes asked for, no user name and no groups.
    fn machine_claims(&self, request: &MintRequest, now: u64) -> Result<Value, IdpError> {
        let scope = request.scope.as_deref().unwrap_or_default();
        let allowed = !scope.is_empty() && scope.split(' ').all(|s| MACHINE_SCOPES.contains(&s));
        if request.sub.is_some() || !request.groups.is_empty() || !allowed {
            return Err(IdpError::BadMachineRequest);
        }
        Ok(serde_json::json!({
            "sub": DEV_MACHINE_CLIENT_ID, "client_id": DEV_MACHINE_CLIENT_ID,
            "iss": self.issuer, "token_use": "access", "scope": scope,
            "auth_time": now, "iat": now, "exp": now + TOKEN_LIFETIME_SECONDS,
            "version": 2, "jti": format!("jti-machine-{now}"),
        }))
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

    /// The payload of a token, decoded without checking anything.
    fn claims_of(token: &str) -> Value {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn minted_tokens_carry_cognito_access_claims() {
        let idp = DevIdp::generate().unwrap();
        let minted = idp
            .mint(
                &MintRequest::user("bob", &["readonly"], None),
                1_800_000_000,
            )
            .unwrap();
        let claims = claims_of(&minted.access_token);
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
        let r = idp.mint(&MintRequest::user("", &[], None), 0);
        assert!(matches!(r, Err(IdpError::BadField("sub"))));
        let r = idp.mint(&MintRequest::default(), 0);
        assert!(matches!(r, Err(IdpError::BadField("sub"))));
    }

    #[test]
    fn machine_tokens_carry_cognitos_client_credentials_claims() {
        let idp = DevIdp::generate().unwrap();
        let minted = idp
            .mint(
                &MintRequest::machine("items/read items/write"),
                1_800_000_000,
            )
            .unwrap();
        let claims = claims_of(&minted.access_token);
        assert_eq!(claims["sub"], DEV_MACHINE_CLIENT_ID);
        assert_eq!(claims["client_id"], DEV_MACHINE_CLIENT_ID);
        assert_eq!(claims["token_use"], "access");
        assert_eq!(claims["scope"], "items/read items/write");
        assert!(claims.get("username").is_none());
        assert!(claims.get("cognito:groups").is_none());
    }

    #[test]
    fn a_machine_token_gets_only_the_machine_clients_scopes() {
        let idp = DevIdp::generate().unwrap();
        for scope in [
            "",
            "aws.cognito.signin.user.admin",
            "items/read openid",
            "items/admin",
        ] {
            let r = idp.mint(&MintRequest::machine(scope), 0);
            assert!(matches!(r, Err(IdpError::BadMachineRequest)), "{scope:?}");
        }
        let with_sub = MintRequest {
            sub: Some("x".into()),
            ..MintRequest::machine("items/read")
        };
        assert!(matches!(
            idp.mint(&with_sub, 0),
            Err(IdpError::BadMachineRequest)
        ));
    }
}
