//! Short fingerprints of credentials for log lines.

use sha2::{Digest, Sha256};

/// The first 12 hex digits of the SHA-256 of `secret`: enough to correlate
/// log lines for one credential, far too little to recover or replay it.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
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
    }
}
