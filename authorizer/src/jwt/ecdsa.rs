//! ECDSA signatures in low-S form only.
//!
//! An ECDSA signature `(r, s)` has a twin `(r, n - s)` that verifies just
//! as well (`n` the curve's order). Anyone holding a token can write the
//! twin without the key: another string, so another API Gateway cache entry
//! and another authorizer run for the same token. Accepting only the form
//! with `s <= n / 2` (as Bitcoin does since BIP 62/146) leaves each ECDSA
//! token one spelling. Signers must then produce low-S signatures (or
//! normalise them, which costs nothing: `s` and `n - s` are equally valid).

use crate::jwt::token::SigAlg;

/// `floor(n / 2)` of P-256, big-endian.
const P256_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// `floor(n / 2)` of P-384, big-endian.
const P384_HALF_ORDER: [u8; 48] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe3, 0xb1, 0xa6, 0xc0, 0xfa, 0x1b, 0x96, 0xef,
    0xac, 0x0d, 0x06, 0xd9, 0x24, 0x58, 0x53, 0xbd, 0x76, 0x76, 0x0c, 0xb5, 0x66, 0x62, 0x94, 0xb9,
];

/// The order `n` of P-256, big-endian (tests make high-S twins with it).
pub const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The order `n` of P-384, big-endian.
pub const P384_ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

/// Whether `signature` (JWS form: `r || s`, each as long as the order) is
/// in low-S form for `alg`. Signatures of other algorithms, and ECDSA
/// signatures of the wrong length (which the verify refuses anyway), pass.
pub fn is_low_s(alg: SigAlg, signature: &[u8]) -> bool {
    let half: &[u8] = match alg {
        SigAlg::ES256 => &P256_HALF_ORDER,
        SigAlg::ES384 => &P384_HALF_ORDER,
        _ => return true,
    };
    if signature.len() != 2 * half.len() {
        return true;
    }
    // Big-endian byte strings of equal length compare as the numbers do.
    &signature[half.len()..] <= half
}

/// `n - s` for a big-endian `s < n` of the order's length: the other `s`
/// of the same signature.
pub fn negate(s: &[u8], order: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; order.len()];
    let mut borrow = 0i16;
    for i in (0..order.len()).rev() {
        let mut d = i16::from(order[i]) - i16::from(s.get(i).copied().unwrap_or(0)) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_half_orders_are_half_the_orders() {
        for (half, order) in [
            (&P256_HALF_ORDER[..], &P256_ORDER[..]),
            (&P384_HALF_ORDER[..], &P384_ORDER[..]),
        ] {
            // 2 * half + 1 == n (n is odd).
            let mut doubled = vec![0u8; half.len()];
            let mut carry = 1u16;
            for i in (0..half.len()).rev() {
                let v = u16::from(half[i]) * 2 + carry;
                doubled[i] = (v & 0xff) as u8;
                carry = v >> 8;
            }
            assert_eq!(carry, 0);
            assert_eq!(doubled, order);
        }
    }

    #[test]
    fn s_up_to_half_the_order_is_low_and_its_twin_is_high() {
        let r = [7u8; 32];
        let low = [&r[..], &P256_HALF_ORDER[..]].concat();
        assert!(is_low_s(SigAlg::ES256, &low));
        let twin = [&r[..], &negate(&P256_HALF_ORDER, &P256_ORDER)[..]].concat();
        assert!(!is_low_s(SigAlg::ES256, &twin));
        let one = {
            let mut s = [0u8; 48];
            s[47] = 1;
            s
        };
        assert!(is_low_s(
            SigAlg::ES384,
            &[&[1u8; 48][..], &one[..]].concat()
        ));
        assert!(!is_low_s(
            SigAlg::ES384,
            &[&[1u8; 48][..], &negate(&one, &P384_ORDER)[..]].concat()
        ));
        // Other algorithms are not ECDSA; wrong lengths fail the verify.
        assert!(is_low_s(SigAlg::RS256, &[0xff; 64]));
        assert!(is_low_s(SigAlg::ES256, &[0xff; 63]));
    }

    #[test]
    fn negation_is_its_own_inverse() {
        let s = [0x42u8; 32];
        assert_eq!(negate(&negate(&s, &P256_ORDER), &P256_ORDER), s);
    }
}
