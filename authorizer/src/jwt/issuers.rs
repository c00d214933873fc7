//! The issuers whose tokens are trusted (the user pool and the trusted
//! OpenID issuers), and the choice among them by a token's `iss`.
//!
//! The unverified `iss` only *selects* an issuer, by exact match (a
//! trailing slash is another issuer): every check of that issuer then runs,
//! starting with its header rules (`alg` among its `algorithms`, `typ` its
//! `requiredTyp`), so that a token refused by them costs no key lookup.
//! An `iss` that no issuer has is refused here, before any key lookup, so it
//! can never make the authorizer fetch anything. Each issuer has its own key
//! set ([`JwksCache`]): a `kid` that exists at one issuer never verifies
//! another's tokens, and one issuer's key outage is its own.

use std::collections::HashMap;
use std::sync::Arc;

use policies::COGNITO_ISSUER;
use rustc_hash::FxBuildHasher;

use crate::config::{CognitoConfig, TrustedIssuer};
use crate::jwt::claims::{Claims, VerifiedToken};
use crate::jwt::cognito::ClaimRules;
use crate::jwt::jwks::JwksCache;
use crate::jwt::oidc::TrustedRules;
use crate::jwt::token::{ParsedJwt, SigAlg, typ_matches};
use crate::reject::Rejection;

/// One issuer: its name, keys, header rules and claim rules.
#[derive(Debug)]
pub struct Issuer {
    name: String,
    keys: Arc<JwksCache>,
    algorithms: Vec<SigAlg>,
    required_typ: Option<String>,
    rules: Rules,
}

#[derive(Debug)]
enum Rules {
    Pool(ClaimRules),
    // Boxed: a trusted issuer's rules carry its whole configuration.
    Trusted(Box<TrustedRules>),
}

impl Issuer {
    /// The user pool, with `keys`.
    pub fn pool(cognito: &CognitoConfig, leeway_seconds: u64, keys: Arc<JwksCache>) -> Self {
        Issuer {
            name: COGNITO_ISSUER.to_owned(),
            keys,
            algorithms: SigAlg::POOL.to_vec(),
            required_typ: None,
            rules: Rules::Pool(ClaimRules::new(cognito, leeway_seconds)),
        }
    }

    /// A trusted issuer, with `keys`.
    pub fn trusted(issuer: &TrustedIssuer, keys: Arc<JwksCache>) -> Self {
        Issuer {
            name: issuer.alias.clone(),
            keys,
            algorithms: issuer.algorithms.clone(),
            required_typ: issuer.required_typ.clone(),
            rules: Rules::Trusted(Box::new(TrustedRules::new(issuer))),
        }
    }

    /// `cognito` or the trusted issuer's alias.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its key set.
    pub fn keys(&self) -> &Arc<JwksCache> {
        &self.keys
    }

    /// The `iss` values that select it.
    fn iss_values(&self) -> Vec<String> {
        match &self.rules {
            Rules::Pool(rules) => rules.issuers().to_vec(),
            Rules::Trusted(rules) => vec![rules.issuer().to_owned()],
        }
    }

    /// Its header rules: `alg` among its algorithms, `typ` its required one.
    pub fn check_header(&self, jwt: &ParsedJwt<'_>) -> Result<(), Rejection> {
        if !self.algorithms.contains(&jwt.alg) {
            return Err(Rejection::DisallowedAlgorithm {
                alg: jwt.alg.name(),
                issuer: self.name.clone(),
            });
        }
        if let Some(required) = &self.required_typ
            && !jwt.typ.as_deref().is_some_and(|t| typ_matches(t, required))
        {
            return Err(Rejection::WrongTyp {
                typ: jwt.typ.clone(),
                expected: required.clone(),
            });
        }
        Ok(())
    }

    /// Its claim rules, on claims whose standard checks passed (`exp`).
    pub fn check_claims(&self, claims: Claims, exp: f64) -> Result<VerifiedToken, Rejection> {
        match &self.rules {
            Rules::Pool(rules) => rules.check_claims(claims, exp),
            Rules::Trusted(rules) => rules.check_claims(claims, exp),
        }
    }
}

/// Which issuer an [`Issuers`] picked: an index, stable for the process.
pub type IssuerId = usize;

/// Every issuer, by `iss`.
#[derive(Debug)]
pub struct Issuers {
    list: Vec<Issuer>,
    by_iss: HashMap<Box<str>, IssuerId, FxBuildHasher>,
    /// The claim names the issuers' rules read beyond the standard ones.
    extra_claims: Vec<Box<str>>,
}

impl Issuers {
    /// The issuers of `list` (configuration made the `iss` values unique).
    pub fn new(list: Vec<Issuer>) -> Self {
        let mut by_iss = HashMap::with_hasher(FxBuildHasher);
        let mut extra_claims: Vec<Box<str>> = Vec::new();
        for (id, issuer) in list.iter().enumerate() {
            for iss in issuer.iss_values() {
                by_iss.entry(iss.into_boxed_str()).or_insert(id);
            }
            if let Rules::Trusted(rules) = &issuer.rules {
                for name in rules.claim_names() {
                    if !extra_claims.iter().any(|n| &**n == name) {
                        extra_claims.push(name.into());
                    }
                }
            }
        }
        Issuers {
            list,
            by_iss,
            extra_claims,
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every issuer, in configuration order (the pool first).
    pub fn iter(&self) -> impl Iterator<Item = &Issuer> {
        self.list.iter()
    }

    /// The claim names to read from a payload beyond the standard ones.
    pub fn extra_claims(&self) -> &[Box<str>] {
        &self.extra_claims
    }

    /// The issuer whose exact `iss` the token names; no issuer, no network.
    pub fn select(&self, claims: &Claims) -> Result<(IssuerId, &Issuer), Rejection> {
        let iss = claims.issuer()?;
        let id = *self.by_iss.get(iss).ok_or_else(|| Rejection::WrongIssuer {
            iss: iss.to_owned(),
        })?;
        let issuer = self.list.get(id).ok_or_else(|| Rejection::WrongIssuer {
            iss: iss.to_owned(),
        })?;
        Ok((id, issuer))
    }

    /// The current key-set generation of issuer `id` (0 for none).
    pub fn generation(&self, id: IssuerId) -> u64 {
        self.list.get(id).map_or(0, |i| i.keys.generation())
    }
}
