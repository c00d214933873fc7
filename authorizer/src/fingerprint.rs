//! Short fingerprints of credentials for log lines.

/// Hashed in front of the credential, so that a fingerprint is never a prefix
/// of a plain SHA-256 of it: the partner key registry stores exactly that
/// hash of each key, and a log line must not give away 48 bits of it.
const DOMAIN: &[u8] = b"authorizer log fingerprint v1\0";

/// The first 12 hex digits of a domain-separated SHA-256 of `secret`: enough
/// to correlate log lines for one credential, far too little to recover or
/// replay it, and unrelated to any stored hash.
pub fn fingerprint(secret: &str) -> String {
    crate::digest::hex(&crate::digest::sha256(&[DOMAIN, secret.as_bytes()])[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_short_stable_and_not_the_secret() {
        let fp = fingerprint("eyJhbGciOi.payload.sig");
        assert_eq!(fp.len(), 12);
        assert_eq!(fp, fingerprint("eyJhbGciOi.payload.sig"));
        assert_ne!(fp, fingerprint("eyJhbGciOi.payload.sih"));
        assert!(!"eyJhbGciOi.payload.sig".contains(&fp));
        // The first 12 hex digits of SHA-256(DOMAIN || secret), as before.
        assert_eq!(fp, "936f90dac310");
    }

    #[test]
    fn a_fingerprint_is_not_a_prefix_of_the_registry_hash() {
        let key = "pk_abcdefgh1234_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";
        let stored = crate::apikey::registry::hash_hex(key);
        assert!(!stored.starts_with(&fingerprint(key)));
    }
}
