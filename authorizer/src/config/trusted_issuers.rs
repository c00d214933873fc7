//! `TRUSTED_ISSUERS`: the OpenID issuers trusted besides the user pool, read
//! from a JSON array once at cold start.
//!
//! Every entry is checked field by field, and the first fault stops the cold
//! start with its JSON path (`[1].algorithms[0]: HS256 is not allowed`,
//! printed after the variable's name): an unknown or misspelt field, a
//! duplicate member, a malformed or duplicate alias, `cognito` as an alias,
//! an `http` URL off loopback, an entry that checks neither audience nor
//! client, an unknown algorithm or an HMAC one, a permission that does not
//! exist. A half-understood issuer entry would trust tokens nobody meant to
//! trust, so nothing is skipped or defaulted silently; the defaults are the
//! ones DESIGN.md's table states.

use std::collections::HashSet;
use std::fmt;

use policies::{
    COGNITO_ISSUER, Permission, SCOPE_ITEMS_DELETE, SCOPE_ITEMS_READ, SCOPE_ITEMS_WRITE,
    is_valid_alias,
};
use reqwest::Url;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::jwt::token::{SigAlg, media_subtype};

/// The fields of an entry, in DESIGN.md's order.
pub const FIELDS: [&str; 11] = [
    "alias",
    "issuer",
    "audiences",
    "clientIds",
    "jwksUri",
    "algorithms",
    "requiredTyp",
    "requiredClaims",
    "scopeMap",
    "groupsClaim",
    "readonlyGroups",
];

/// The path every OIDC discovery document is served at, under the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// One trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// `alias`: `[a-z0-9-]{1,32}`, not `cognito`; names the issuer in owners
    /// (`oidc:<alias>:<sub>`), the context, logs and metrics.
    pub alias: String,
    /// `issuer`: the exact `iss` of its tokens (a trailing `/` is another
    /// issuer); https, or http on a loopback host.
    pub issuer: String,
    /// `audiences`: the token's `aud` must contain one; default none.
    pub audiences: Vec<String>,
    /// `clientIds`: the token's `client_id` (or, without one, `azp`) must be
    /// one; default none. At least one of the two lists is non-empty.
    pub client_ids: Vec<String>,
    /// `jwksUri`; default `None`: by OIDC discovery.
    pub jwks_uri: Option<Url>,
    /// `algorithms`; default `[RS256]`.
    pub algorithms: Vec<SigAlg>,
    /// `requiredTyp`, as the `application/` subtype (`at+jwt`); default none.
    pub required_typ: Option<String>,
    /// `requiredClaims`, in the order given; default none.
    pub required_claims: Vec<(String, ClaimRequirement)>,
    /// `scopeMap`: scope → permission; default `items/read`, `items/write`,
    /// `items/delete` as for the pool.
    pub scope_map: Vec<(String, Permission)>,
    /// `groupsClaim`: the claim holding the principal's groups; default none.
    pub groups_claim: Option<String>,
    /// `readonlyGroups`: members get at most `items:read`; default none.
    pub readonly_groups: Vec<String>,
}

/// What `requiredClaims` asks of one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRequirement {
    /// `true`: present (and not `null`).
    Present,
    /// A string or a list of strings: the claim equals one of them, or is an
    /// array containing one of them.
    OneOf(Vec<String>),
}

impl TrustedIssuer {
    /// Where its discovery document is: `<issuer>/.well-known/openid-configuration`,
    /// a terminating `/` of the issuer removed first (OIDC Discovery §4).
    pub fn discovery_url(&self) -> Option<Url> {
        let base = self.issuer.strip_suffix('/').unwrap_or(&self.issuer);
        Url::parse(&format!("{base}{DISCOVERY_PATH}")).ok()
    }

    /// Whether its keys may come over plain http: only when its issuer (or
    /// its configured `jwksUri`) is itself on loopback.
    pub fn allows_loopback_http(&self) -> bool {
        Url::parse(&self.issuer).is_ok_and(|u| u.scheme() == "http")
            || self.jwks_uri.as_ref().is_some_and(|u| u.scheme() == "http")
    }
}

/// A fault in `TRUSTED_ISSUERS`, at a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// `[1].algorithms[0]`; empty for the document as a whole.
    pub path: String,
    /// What is wrong, and what was expected.
    pub problem: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

fn fault(path: impl Into<String>, problem: impl Into<String>) -> ParseError {
    ParseError {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Reads `TRUSTED_ISSUERS`. `[]` is no trusted issuer.
pub fn parse(text: &str) -> Result<Vec<TrustedIssuer>, ParseError> {
    let document = strict_json(text).map_err(|e| fault("", format!("is not JSON: {e}")))?;
    let Value::Array(entries) = document else {
        return Err(fault(
            "",
            r#"must be a JSON array of issuers, e.g. [{"alias": "okta", "issuer": "https://example.okta.com", "audiences": ["api://items"]}]"#,
        ));
    };
    let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let at = format!("[{i}]");
        let issuer = entry_of(&at, entry)?;
        if let Some(j) = issuers.iter().position(|o| o.alias == issuer.alias) {
            return Err(fault(
                format!("{at}.alias"),
                format!("{:?} is already the alias of [{j}]", issuer.alias),
            ));
        }
        if let Some(j) = issuers.iter().position(|o| o.issuer == issuer.issuer) {
            return Err(fault(
                format!("{at}.issuer"),
                format!(
                    "{:?} is already trusted as [{j}]; one entry per issuer",
                    issuer.issuer
                ),
            ));
        }
        issuers.push(issuer);
    }
    Ok(issuers)
}

fn entry_of(at: &str, entry: Value) -> Result<TrustedIssuer, ParseError> {
    let Value::Object(mut fields) = entry else {
        return Err(fault(
            at,
            "must be an object with alias, issuer and audiences or clientIds",
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(fault(
            format!("{at}.{unknown}"),
            format!("unknown field; expected one of {}", FIELDS.join(", ")),
        ));
    }
    let mut take = |name: &str| fields.remove(name).map(|v| (format!("{at}.{name}"), v));

    let (path, alias) = take("alias").ok_or_else(|| fault(format!("{at}.alias"), "is required"))?;
    let alias = string(&path, alias)?;
    if alias == COGNITO_ISSUER {
        return Err(fault(
            path,
            "\"cognito\" names the user pool in owners and contexts; choose another alias",
        ));
    }
    if !is_valid_alias(&alias) {
        return Err(fault(
            path,
            format!("{alias:?} is not an alias; expected 1-32 of a-z, 0-9 and -"),
        ));
    }

    let (path, issuer) =
        take("issuer").ok_or_else(|| fault(format!("{at}.issuer"), "is required"))?;
    let issuer = string(&path, issuer)?;
    let url = parse_url(&path, &issuer)?;
    if url.query().is_some() {
        return Err(fault(path, "an issuer has no query (OIDC Discovery §2)"));
    }

    let audiences = optional(take("audiences"), strings)?.unwrap_or_default();
    let client_ids = optional(take("clientIds"), strings)?.unwrap_or_default();
    if audiences.is_empty() && client_ids.is_empty() {
        return Err(fault(
            at,
            "neither audiences nor clientIds lists a value; a token must be checked for whom it was issued to",
        ));
    }

    let jwks_uri = match take("jwksUri") {
        None => None,
        Some((path, v)) => Some(parse_url(&path, &string(&path, v)?)?),
    };
    let algorithms =
        optional(take("algorithms"), algorithms)?.unwrap_or_else(|| vec![SigAlg::RS256]);
    let required_typ = optional(take("requiredTyp"), typ)?;
    let required_claims = optional(take("requiredClaims"), required_claims)?.unwrap_or_default();
    // Sorted by scope like a written-out map (found by the fuzz target:
    // the default and the same map written out compared unequal).
    let scope_map = optional(take("scopeMap"), scope_map)?.unwrap_or_else(|| {
        vec![
            (SCOPE_ITEMS_DELETE.to_owned(), Permission::ItemsDelete),
            (SCOPE_ITEMS_READ.to_owned(), Permission::ItemsRead),
            (SCOPE_ITEMS_WRITE.to_owned(), Permission::ItemsWrite),
        ]
    });
    let groups_claim = optional(take("groupsClaim"), name)?;
    let readonly = take("readonlyGroups");
    let readonly_groups = match (&groups_claim, readonly) {
        (_, None) => Vec::new(),
        (None, Some((path, _))) => {
            return Err(fault(
                path,
                "needs groupsClaim, the claim the groups are read from",
            ));
        }
        (Some(_), Some((path, v))) => strings(&path, v)?,
    };

    let entry = TrustedIssuer {
        alias,
        issuer,
        audiences,
        client_ids,
        jwks_uri,
        algorithms,
        required_typ,
        required_claims,
        scope_map,
        groups_claim,
        readonly_groups,
    };
    if entry.jwks_uri.is_none() && entry.discovery_url().is_none() {
        return Err(fault(
            format!("{at}.issuer"),
            format!("{:?} gives no discovery URL", entry.issuer),
        ));
    }
    Ok(entry)
}

fn optional<T>(
    field: Option<(String, Value)>,
    read: impl FnOnce(&str, Value) -> Result<T, ParseError>,
) -> Result<Option<T>, ParseError> {
    field.map(|(path, v)| read(&path, v)).transpose()
}

fn string(path: &str, v: Value) -> Result<String, ParseError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::String(_) => Err(fault(path, "must not be empty")),
        _ => Err(fault(path, "must be a string")),
    }
}

/// A claim name: a non-empty string without control characters.
fn name(path: &str, v: Value) -> Result<String, ParseError> {
    let s = string(path, v)?;
    if s.chars().any(char::is_control) {
        return Err(fault(path, "must not hold control characters"));
    }
    Ok(s)
}

fn strings(path: &str, v: Value) -> Result<Vec<String>, ParseError> {
    let Value::Array(items) = v else {
        return Err(fault(path, "must be an array of strings"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| string(&format!("{path}[{i}]"), item))
        .collect()
}

fn algorithms(path: &str, v: Value) -> Result<Vec<SigAlg>, ParseError> {
    let names = strings(path, v)?;
    if names.is_empty() {
        return Err(fault(path, "must list at least one algorithm"));
    }
    let expected = SigAlg::ALL.map(SigAlg::name).join(", ");
    let mut out: Vec<SigAlg> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if name.starts_with("HS") {
            return Err(fault(
                at,
                format!(
                    "{name} is not allowed: an HMAC key is a shared secret, never a published key; expected {expected}"
                ),
            ));
        }
        let alg = SigAlg::parse(name).ok_or_else(|| {
            fault(
                &at,
                format!("{name:?} is not a supported algorithm; expected {expected}"),
            )
        })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    Ok(out)
}

fn typ(path: &str, v: Value) -> Result<String, ParseError> {
    let raw = string(path, v)?;
    // RFC 6838 restricted name characters, as a media type's subtype.
    let subtype = media_subtype(&raw).filter(|t| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    });
    subtype
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| fault(path, format!("{raw:?} is not a media type such as at+jwt")))
}

fn required_claims(path: &str, v: Value) -> Result<Vec<(String, ClaimRequirement)>, ParseError> {
    let Value::Object(claims) = v else {
        return Err(fault(path, "must be an object of claim -> requirement"));
    };
    let mut out = Vec::with_capacity(claims.len());
    for (claim, requirement) in claims {
        let at = format!("{path}[{claim:?}]");
        if claim.is_empty() || claim.chars().any(char::is_control) {
            return Err(fault(at, "is not a claim name"));
        }
        let requirement = match requirement {
            Value::Bool(true) => ClaimRequirement::Present,
            // The same rule as a list's values: an empty string would be
            // accepted alone and refused in a list, so the configuration
            // would not read back as what it prints.
            Value::String(s) => ClaimRequirement::OneOf(vec![string(&at, Value::String(s))?]),
            Value::Array(items) if !items.is_empty() => {
                ClaimRequirement::OneOf(strings(&at, Value::Array(items))?)
            }
            _ => {
                return Err(fault(
                    at,
                    "expected a string (equal), a non-empty list of strings (one of) or true (present)",
                ));
            }
        };
        out.push((claim, requirement));
    }
    // By name, whatever order the JSON map keeps.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn scope_map(path: &str, v: Value) -> Result<Vec<(String, Permission)>, ParseError> {
    let Value::Object(scopes) = v else {
        return Err(fault(path, "must be an object of scope -> permission"));
    };
    let mut out = Vec::with_capacity(scopes.len());
    for (scope, permission) in scopes {
        let at = format!("{path}[{scope:?}]");
        if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fault(at, "is not a scope (scopes are single words)"));
        }
        let permission = string(&at, permission)?;
        let permission = permission.parse::<Permission>().map_err(|_| {
            fault(
                &at,
                format!(
                    "{permission:?} is not a permission; expected items:read, items:write or items:delete"
                ),
            )
        })?;
        out.push((scope, permission));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// An issuer, JWKS or discovery URL: https, or http on a loopback host
/// only; no credentials, no fragment.
fn parse_url(path: &str, raw: &str) -> Result<Url, ParseError> {
    // The URL parser drops surrounding spaces and any tab or newline, and
    // reads `\` as `/`: a value it would quietly change is refused, since the
    // issuer is matched against `iss` exactly as written (found by the
    // trusted_issuers fuzz target: "http://127.0.0.1:4000 " was accepted).
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(fault(
            path,
            format!("{raw:?} holds whitespace, a control character or a backslash"),
        ));
    }
    let url = Url::parse(raw).map_err(|e| fault(path, format!("{raw:?} is not a URL: {e}")))?;
    check_url(&url).map_err(|problem| fault(path, format!("{raw:?} {problem}")))?;
    Ok(url)
}

/// The URL rule of issuers and key sets (also applied to what discovery
/// documents say): `Err` says what is wrong.
pub fn check_url(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(
                "is http off loopback; expected https (http only on 127.0.0.1, [::1] or localhost)",
            );
        }
        _ => return Err("is not an https URL"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials");
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment");
    }
    Ok(())
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // The URL parser has already normalised IP addresses (IPv6 in brackets).
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Parses JSON text refusing duplicate object members at any depth: in a
/// configuration, `{"alias": "a", "alias": "b"}` is a mistake, never a
/// choice of the last one.
pub fn strict_json(text: &str) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = deserializer.deserialize_any(StrictVisitor)?;
    deserializer.end()?;
    Ok(value)
}

struct StrictVisitor;

struct Strict(Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate member {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(entry: Value) -> Result<TrustedIssuer, ParseError> {
        parse(&json!([entry]).to_string()).map(|mut v| v.remove(0))
    }

    fn minimal() -> Value {
        json!({"alias": "okta", "issuer": "https://example.okta.com", "audiences": ["api://items"]})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut e = minimal();
        e[key] = value;
        e
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn entry_error(entry: Value) -> String {
        one(entry).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_entry_gets_the_documented_defaults() {
        let i = one(minimal()).unwrap();
        assert_eq!(i.alias, "okta");
        assert_eq!(i.issuer, "https://example.okta.com");
        assert_eq!(i.audiences, ["api://items"]);
        assert!(i.client_ids.is_empty());
        assert_eq!(i.jwks_uri, None);
        assert_eq!(i.algorithms, [SigAlg::RS256]);
        assert_eq!(i.required_typ, None);
        assert!(i.required_claims.is_empty());
        assert_eq!(
            i.scope_map,
            [
                ("items/delete".to_owned(), Permission::ItemsDelete),
                ("items/read".to_owned(), Permission::ItemsRead),
                ("items/write".to_owned(), Permission::ItemsWrite),
            ]
        );
        assert_eq!(i.groups_claim, None);
        assert!(i.readonly_groups.is_empty());
        assert_eq!(
            i.discovery_url().unwrap().as_str(),
            "https://example.okta.com/.well-known/openid-configuration"
        );
        assert!(!i.allows_loopback_http());
        assert_eq!(parse("[]").unwrap(), []);
    }

    #[test]
    fn every_field_is_read() {
        let i = one(json!({
            "alias": "entra-staff", "issuer": "https://login.microsoftonline.com/t1/v2.0/",
            "audiences": ["api://items"], "clientIds": ["c1", "c2"],
            "jwksUri": "https://login.microsoftonline.com/t1/discovery/v2.0/keys",
            "algorithms": ["RS256", "PS256", "ES256", "EdDSA", "RS256"],
            "requiredTyp": "application/AT+JWT",
            "requiredClaims": {"tid": "t1", "ver": ["2.0", "1.0"], "oid": true},
            "scopeMap": {"Items.Read": "items:read", "Items.Write": "items:write"},
            "groupsClaim": "groups", "readonlyGroups": ["auditors"],
        }))
        .unwrap();
        assert_eq!(i.client_ids, ["c1", "c2"]);
        assert_eq!(
            i.jwks_uri.as_ref().unwrap().as_str(),
            "https://login.microsoftonline.com/t1/discovery/v2.0/keys"
        );
        assert_eq!(
            i.algorithms,
            [SigAlg::RS256, SigAlg::PS256, SigAlg::ES256, SigAlg::EdDSA],
            "in order, duplicates once"
        );
        assert_eq!(i.required_typ.as_deref(), Some("at+jwt"));
        assert_eq!(
            i.required_claims,
            [
                ("oid".to_owned(), ClaimRequirement::Present),
                ("tid".to_owned(), ClaimRequirement::OneOf(vec!["t1".into()])),
                (
                    "ver".to_owned(),
                    ClaimRequirement::OneOf(vec!["2.0".into(), "1.0".into()])
                ),
            ]
        );
        assert_eq!(
            i.scope_map,
            [
                ("Items.Read".to_owned(), Permission::ItemsRead),
                ("Items.Write".to_owned(), Permission::ItemsWrite),
            ],
            "a scopeMap replaces the default"
        );
        assert_eq!(i.groups_claim.as_deref(), Some("groups"));
        assert_eq!(i.readonly_groups, ["auditors"]);
        // A terminating / is removed before the well-known path.
        assert_eq!(
            i.discovery_url().unwrap().as_str(),
            "https://login.microsoftonline.com/t1/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn the_default_scope_map_is_the_same_map_written_out() {
        // The fuzz target's round trip (parse, print with defaults written
        // out, parse) found the default in another order than a written map.
        let written = with(
            "scopeMap",
            json!({"items/read": "items:read", "items/write": "items:write", "items/delete": "items:delete"}),
        );
        assert_eq!(one(minimal()).unwrap(), one(written).unwrap());
    }

    #[test]
    fn client_ids_alone_are_enough() {
        let i =
            one(json!({"alias": "a", "issuer": "https://a.example", "clientIds": ["c"]})).unwrap();
        assert_eq!(i.client_ids, ["c"]);
    }

    #[test]
    fn the_document_must_be_a_json_array_without_duplicate_members() {
        assert!(
            error("not json").starts_with("is not JSON: "),
            "{}",
            error("not json")
        );
        assert!(error(r#"{"alias": "a"}"#).starts_with("must be a JSON array"));
        assert!(error("[1]").starts_with("[0]: must be an object"));
        let dup =
            r#"[{"alias": "a", "alias": "b", "issuer": "https://a.example", "audiences": ["x"]}]"#;
        assert!(
            error(dup).contains(r#"duplicate member "alias""#),
            "{}",
            error(dup)
        );
        let nested = r#"[{"alias": "a", "issuer": "https://a.example", "audiences": ["x"], "requiredClaims": {"t": "1", "t": "2"}}]"#;
        assert!(error(nested).contains(r#"duplicate member "t""#));
        assert!(error("[] []").starts_with("is not JSON"));
    }

    #[test]
    fn each_fault_is_named_by_its_json_path() {
        let cases: Vec<(Value, &str)> = vec![
            (
                with("audience", json!(["x"])),
                "[0].audience: unknown field; expected one of alias, issuer,",
            ),
            (with("Alias", json!("x")), "[0].Alias: unknown field"),
            (
                json!({"issuer": "https://a.example", "audiences": ["x"]}),
                "[0].alias: is required",
            ),
            (
                with("alias", json!("Okta")),
                "[0].alias: \"Okta\" is not an alias; expected 1-32 of a-z, 0-9 and -",
            ),
            (
                with("alias", json!("a:b")),
                "[0].alias: \"a:b\" is not an alias",
            ),
            (with("alias", json!("a".repeat(33))), "[0].alias: "),
            (with("alias", json!("")), "[0].alias: must not be empty"),
            (with("alias", json!(7)), "[0].alias: must be a string"),
            (
                with("alias", json!("cognito")),
                "[0].alias: \"cognito\" names the user pool",
            ),
            (
                json!({"alias": "a", "audiences": ["x"]}),
                "[0].issuer: is required",
            ),
            (
                with("issuer", json!("http://idp.example.com")),
                "[0].issuer: \"http://idp.example.com\" is http off loopback; expected https",
            ),
            (
                with("issuer", json!("ftp://idp.example.com")),
                "[0].issuer: \"ftp://idp.example.com\" is not an https URL",
            ),
            (
                with("issuer", json!("idp.example.com")),
                "[0].issuer: \"idp.example.com\" is not a URL",
            ),
            (
                with("issuer", json!("https://u:p@idp.example.com")),
                "[0].issuer: \"https://u:p@idp.example.com\" must not hold credentials",
            ),
            (
                with("issuer", json!("https://idp.example.com/#x")),
                "[0].issuer: \"https://idp.example.com/#x\" must not have a fragment",
            ),
            (
                with("issuer", json!("http://127.0.0.1:4000 ")),
                "[0].issuer: \"http://127.0.0.1:4000 \" holds whitespace, a control character or a backslash",
            ),
            (
                with("issuer", json!("https://idp.exa\tmple.com")),
                "[0].issuer: \"https://idp.exa\\tmple.com\" holds whitespace",
            ),
            (
                with("issuer", json!("https:\\\\idp.example.com")),
                "[0].issuer: \"https:\\\\\\\\idp.example.com\" holds whitespace, a control character or a backslash",
            ),
            (
                with("jwksUri", json!(" https://idp.example.com/keys")),
                "[0].jwksUri: \" https://idp.example.com/keys\" holds whitespace",
            ),
            (
                with("issuer", json!("https://idp.example.com/?tenant=x")),
                "[0].issuer: an issuer has no query",
            ),
            (
                json!({"alias": "a", "issuer": "https://a.example"}),
                "[0]: neither audiences nor clientIds lists a value",
            ),
            (
                json!({"alias": "a", "issuer": "https://a.example", "audiences": [], "clientIds": []}),
                "[0]: neither audiences nor clientIds",
            ),
            (
                with("audiences", json!("x")),
                "[0].audiences: must be an array of strings",
            ),
            (
                with("audiences", json!(["x", ""])),
                "[0].audiences[1]: must not be empty",
            ),
            (
                with("clientIds", json!([1])),
                "[0].clientIds[0]: must be a string",
            ),
            (
                with("jwksUri", json!("http://keys.example.com/jwks")),
                "[0].jwksUri: \"http://keys.example.com/jwks\" is http off loopback",
            ),
            (
                with("algorithms", json!(["RS256", "HS256"])),
                "[0].algorithms[1]: HS256 is not allowed",
            ),
            (
                with("algorithms", json!(["ES512"])),
                "[0].algorithms[0]: \"ES512\" is not a supported algorithm; expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
            ),
            (
                with("algorithms", json!(["none"])),
                "[0].algorithms[0]: \"none\" is not a supported algorithm",
            ),
            (
                with("algorithms", json!(["rs256"])),
                "[0].algorithms[0]: \"rs256\" is not a supported algorithm",
            ),
            (
                with("algorithms", json!([])),
                "[0].algorithms: must list at least one algorithm",
            ),
            (
                with("requiredTyp", json!("text/plain")),
                "[0].requiredTyp: \"text/plain\" is not a media type such as at+jwt",
            ),
            (
                with("requiredTyp", json!("at jwt")),
                "[0].requiredTyp: \"at jwt\" is not a media type",
            ),
            (
                with("requiredClaims", json!({"tid": false})),
                "[0].requiredClaims[\"tid\"]: expected a string (equal), a non-empty list of strings (one of) or true (present)",
            ),
            (
                with("requiredClaims", json!({"tid": []})),
                "[0].requiredClaims[\"tid\"]: expected a string",
            ),
            (
                with("requiredClaims", json!({"tid": 5})),
                "[0].requiredClaims[\"tid\"]: expected a string",
            ),
            (
                with("requiredClaims", json!({"tid": ""})),
                "[0].requiredClaims[\"tid\"]: must not be empty",
            ),
            (
                with("requiredClaims", json!({"ver": ["2", 2]})),
                "[0].requiredClaims[\"ver\"][1]: must be a string",
            ),
            (
                with("requiredClaims", json!({"": true})),
                "[0].requiredClaims[\"\"]: is not a claim name",
            ),
            (
                with("requiredClaims", json!(["tid"])),
                "[0].requiredClaims: must be an object",
            ),
            (
                with("scopeMap", json!({"items/admin": "items:admin"})),
                "[0].scopeMap[\"items/admin\"]: \"items:admin\" is not a permission; expected items:read, items:write or items:delete",
            ),
            (
                with("scopeMap", json!({"a b": "items:read"})),
                "[0].scopeMap[\"a b\"]: is not a scope",
            ),
            (
                with("scopeMap", json!({"x": ["items:read"]})),
                "[0].scopeMap[\"x\"]: must be a string",
            ),
            (
                with("groupsClaim", json!("")),
                "[0].groupsClaim: must not be empty",
            ),
            (
                with("readonlyGroups", json!(["auditors"])),
                "[0].readonlyGroups: needs groupsClaim",
            ),
        ];
        for (entry, expected) in cases {
            let got = entry_error(entry.clone());
            assert!(
                got.starts_with(expected),
                "{entry}\n got: {got}\nwant: {expected}"
            );
        }
    }

    #[test]
    fn the_second_entrys_faults_name_its_index() {
        let second = json!([minimal(), with("algorithms", json!(["HS256"]))]).to_string();
        assert!(error(&second).starts_with("[1].algorithms[0]: HS256 is not allowed"));
    }

    #[test]
    fn aliases_and_issuers_are_unique() {
        let twice = json!([minimal(), with("issuer", json!("https://other.example"))]);
        assert_eq!(
            error(&twice.to_string()),
            "[1].alias: \"okta\" is already the alias of [0]"
        );
        let same_issuer = json!([minimal(), with("alias", json!("okta2"))]);
        assert!(
            error(&same_issuer.to_string())
                .starts_with("[1].issuer: \"https://example.okta.com\" is already trusted as [0]")
        );
        // A trailing slash is another issuer: both may be trusted.
        let slash = json!([minimal(), {"alias": "b", "issuer": "https://example.okta.com/", "audiences": ["x"]}]);
        assert_eq!(parse(&slash.to_string()).unwrap().len(), 2);
    }

    #[test]
    fn http_is_allowed_on_loopback_only() {
        for issuer in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9000/op",
            "http://localhost:3000",
            "http://LOCALHOST",
        ] {
            let i = one(with("issuer", json!(issuer))).unwrap();
            assert!(i.allows_loopback_http(), "{issuer}");
        }
        for issuer in [
            "http://10.0.0.1",
            "http://169.254.169.254",
            "http://localhost.example.com",
            "http://[::2]",
            "http://0.0.0.0",
        ] {
            assert!(
                entry_error(with("issuer", json!(issuer))).contains("is http off loopback"),
                "{issuer}"
            );
        }
        let local_keys = one(with("jwksUri", json!("http://127.0.0.1:9/jwks"))).unwrap();
        assert!(local_keys.allows_loopback_http());
    }
}
