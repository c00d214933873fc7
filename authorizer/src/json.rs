//! Reading untrusted JSON documents that must be objects.
//!
//! serde's derived `Deserialize` for a struct also reads a JSON array, by
//! position: `["RS256","k",null]` would be a JWT header with an `alg` and a
//! `kid`. Every document the authorizer reads is an object by its
//! specification (JOSE header, JWT claims set, JWK Set, the key registry), so
//! anything else is refused before serde sees it (found by the fuzz targets).

use serde::de::{DeserializeOwned, Error as _};

/// Deserializes `bytes` as `T`, refusing anything but a JSON object.
pub(crate) fn from_object_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    if !is_object_text(bytes) {
        return Err(serde_json::Error::custom("expected a JSON object"));
    }
    serde_json::from_slice(bytes)
}

/// Whether JSON text, if it parses, is an object: its first non-blank byte
/// is `{`.
pub(crate) fn is_object_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'{')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Pair {
        a: u8,
        b: u8,
    }

    #[test]
    fn objects_are_read_and_the_positional_array_form_is_refused() {
        assert_eq!(
            from_object_slice::<Pair>(b" \n{\"a\":1,\"b\":2}").unwrap(),
            Pair { a: 1, b: 2 }
        );
        assert!(serde_json::from_slice::<Pair>(b"[1,2]").is_ok());
        assert!(from_object_slice::<Pair>(b"[1,2]").is_err());
        assert!(from_object_slice::<HashMap<String, u8>>(b"").is_err());
        assert!(from_object_slice::<HashMap<String, u8>>(b"null").is_err());
    }
}
