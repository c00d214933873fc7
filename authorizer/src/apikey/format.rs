//! The partner key format: `pk_<id>_<secret>`.
//!
//! `<id>` is 12 characters `[a-z0-9]`; `<secret>` is 40 characters
//! `[A-Za-z0-9]`: 34 random ones, then a 6-character checksum, the CRC-32
//! (IEEE) of everything before it (`pk_<id>_<34 chars>`) written as 6 base-62
//! digits (`0-9A-Za-z`, most significant first, zero-padded). A mistyped or
//! made-up key fails here, before any lookup, and the fixed shape makes leaked
//! keys easy to scan for.

use std::fmt;

/// The key's prefix.
pub const PREFIX: &str = "pk_";
/// Characters of the id.
pub const ID_LEN: usize = 12;
/// Characters of the secret, checksum included.
pub const SECRET_LEN: usize = 40;
/// Characters of the checksum at the end of the secret.
pub const CHECKSUM_LEN: usize = 6;
/// The whole key's length.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + 1 + SECRET_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Why a string is not a partner key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Not 56 characters.
    #[error("a partner key has {KEY_LEN} characters")]
    Length,
    /// Not `pk_<12 x [a-z0-9]>_<40 x [A-Za-z0-9]>`.
    #[error("a partner key looks like pk_<12 x [a-z0-9]>_<40 x [A-Za-z0-9]>")]
    Shape,
    /// The last 6 characters are not the checksum of the rest.
    #[error("the checksum does not match: the key is mistyped or made up")]
    Checksum,
}

/// A presented key whose shape and checksum are right (not yet looked up).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PartnerKey<'a>(&'a str);

impl<'a> PartnerKey<'a> {
    /// Checks shape and checksum; no I/O.
    pub fn parse(key: &'a str) -> Result<Self, KeyFormatError> {
        let bytes = key.as_bytes();
        if bytes.len() != KEY_LEN {
            return Err(KeyFormatError::Length);
        }
        let id = &bytes[PREFIX.len()..PREFIX.len() + ID_LEN];
        let secret = &bytes[PREFIX.len() + ID_LEN + 1..];
        let shape_ok = key.starts_with(PREFIX)
            && bytes[PREFIX.len() + ID_LEN] == b'_'
            && id
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && secret.iter().all(u8::is_ascii_alphanumeric);
        if !shape_ok {
            return Err(KeyFormatError::Shape);
        }
        let (body, check) = key.split_at(KEY_LEN - CHECKSUM_LEN);
        if checksum(body).as_bytes() != check.as_bytes() {
            return Err(KeyFormatError::Checksum);
        }
        Ok(PartnerKey(key))
    }

    /// The key id (`<id>`), the registry's lookup key. Not secret.
    pub fn id(&self) -> &'a str {
        &self.0[PREFIX.len()..PREFIX.len() + ID_LEN]
    }

    /// The whole key.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// Never prints the secret part.
impl fmt::Debug for PartnerKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartnerKey(pk_{}_…)", self.id())
    }
}

/// The 6-digit base-62 CRC-32 (IEEE) of `body`.
pub fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so nothing is left over and every digit is ASCII.
    digits.iter().map(|&b| char::from(b)).collect()
}

/// A freshly generated key. Its `Debug` hides the secret; [`Self::expose`]
/// is the one way to read it, to show it once to the operator.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedKey(String);

impl GeneratedKey {
    /// A new key from the operating system's CSPRNG (through aws-lc-rs).
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let id = random_chars(ID_ALPHABET, ID_LEN)?;
        let secret = random_chars(BASE62, SECRET_LEN - CHECKSUM_LEN)?;
        let body = format!("{PREFIX}{id}_{secret}");
        let check = checksum(&body);
        Ok(GeneratedKey(body + &check))
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.0[PREFIX.len()..PREFIX.len() + ID_LEN]
    }

    /// The whole key, to be shown once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GeneratedKey(pk_{}_…)", self.id())
    }
}

/// Characters of an API Gateway API key value as API Gateway generates them.
pub const USAGE_KEY_LEN: usize = 40;

/// A value for a partner's API Gateway API key (the record's `usageKey`),
/// as API Gateway generates one: 40 characters `[A-Za-z0-9]` from the
/// operating system's CSPRNG. Not a credential on its own (the authorizer
/// hands it to API Gateway), but kept out of logs all the same.
pub fn generate_usage_key() -> Result<String, aws_lc_rs::error::Unspecified> {
    random_chars(BASE62, USAGE_KEY_LEN)
}

/// `len` characters drawn uniformly from `alphabet`: random bytes, keeping
/// only those below the largest multiple of the alphabet's size so that the
/// modulo introduces no bias.
fn random_chars(alphabet: &[u8], len: usize) -> Result<String, aws_lc_rs::error::Unspecified> {
    let n = alphabet.len();
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        aws_lc_rs::rand::fill(&mut buf)?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % n]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers computed independently with Python's zlib.crc32:
    // CRC-32/IEEE("123456789") = 0xCBF43926, "3jZRME" in base 62.
    #[test]
    fn the_checksum_matches_fixed_known_answers() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum("123456789"), "3jZRME");
        assert_eq!(checksum(""), "000000");
        assert!(PartnerKey::parse(VECTOR).is_ok());
    }

    /// A whole key whose checksum was computed outside this code.
    const VECTOR: &str = "pk_acme00000001_AbCdEfGhIjKlMnOpQrStUvWxYz012345674VrCmH"; // pragma: allowlist secret

    fn with_checksum(body: &str) -> String {
        format!("{body}{}", checksum(body))
    }

    #[test]
    fn a_key_with_the_right_shape_and_checksum_parses() {
        let key = with_checksum("pk_acme00000001_AbCdEfGhIjKlMnOpQrStUvWxYz01234567");
        assert_eq!(key.len(), KEY_LEN);
        let parsed = PartnerKey::parse(&key).unwrap();
        assert_eq!(parsed.id(), "acme00000001");
        assert!(!format!("{parsed:?}").contains("AbCd"));
    }

    #[test]
    fn a_mistyped_key_fails_its_checksum() {
        let key = with_checksum("pk_acme00000001_AbCdEfGhIjKlMnOpQrStUvWxYz01234567");
        let typo = key.replacen("AbC", "AbD", 1);
        assert_eq!(PartnerKey::parse(&typo), Err(KeyFormatError::Checksum));
        let wrong_check = VECTOR.replace("4VrCmH", "4VrCmI");
        assert_eq!(
            PartnerKey::parse(&wrong_check),
            Err(KeyFormatError::Checksum)
        );
    }

    #[test]
    fn each_shape_defect_is_refused() {
        let good = with_checksum("pk_acme00000001_AbCdEfGhIjKlMnOpQrStUvWxYz01234567");
        assert_eq!(PartnerKey::parse(""), Err(KeyFormatError::Length));
        assert_eq!(PartnerKey::parse(&good[1..]), Err(KeyFormatError::Length));
        assert_eq!(
            PartnerKey::parse(&format!("{good}x")),
            Err(KeyFormatError::Length)
        );
        assert_eq!(
            PartnerKey::parse(&good.replacen("pk_", "sk_", 1)),
            Err(KeyFormatError::Shape)
        );
        assert_eq!(
            PartnerKey::parse(&good.replacen("acme", "ACME", 1)),
            Err(KeyFormatError::Shape)
        );
        assert_eq!(
            PartnerKey::parse(&good.replacen("1_", "1-", 1)),
            Err(KeyFormatError::Shape)
        );
        assert_eq!(
            PartnerKey::parse(&good.replacen("AbC", "A+C", 1)),
            Err(KeyFormatError::Shape)
        );
        // Multi-byte characters of the right byte length are not alphanumeric.
        let accented = good.replacen("Ab", "é", 1);
        assert_eq!(PartnerKey::parse(&accented), Err(KeyFormatError::Shape));
    }

    #[test]
    fn generated_keys_parse_are_distinct_and_hide_their_secret() {
        let a = GeneratedKey::generate().unwrap();
        let b = GeneratedKey::generate().unwrap();
        assert_ne!(a, b);
        for k in [&a, &b] {
            let parsed = PartnerKey::parse(k.expose()).unwrap();
            assert_eq!(parsed.id(), k.id());
            assert!(!format!("{k:?}").contains(&k.expose()[16..]));
        }
    }

    #[test]
    fn usage_keys_have_api_gateways_alphabet_and_length_and_differ() {
        let a = generate_usage_key().unwrap();
        let b = generate_usage_key().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), USAGE_KEY_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn generated_characters_cover_the_whole_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.extend(GeneratedKey::generate().unwrap().expose()[16..50].chars());
        }
        assert_eq!(seen.len(), 62);
    }
}
