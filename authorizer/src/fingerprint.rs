//! Short fingerprints of credentials for log lines.

use aws_lc_rs::digest;

/// Hashed in front of the credential, so that a fingerprint is never a prefix
/// of a plain SHA-256 of it: the partner key registry stores exactly that
/// hash of each key, and a log line must not give away 48 bits of it.
const DOMAIN: &[u8] = b"authorizer log fingerprint v1\0";

/// The first 12 hex digits of a domain-separated SHA-256 of `secret`: enough
/// to correlate log lines for one credential, far too little to recover or
/// replay it, and unrelated to any stored hash.
pub fn fingerprint(secret: &str) -> String {
    // aws-lc's SHA-256 (assembly, SHA extensions where the CPU has them):
    // this runs for every decision line, over a token of 1 KiB or more.
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(DOMAIN);
    context.update(secret.as_bytes());
    let digest = context.finish();
    let digest = digest.as_ref();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(12);
    for b in &digest[..6] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
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
