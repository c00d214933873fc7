//! The partner key side of the authorizer: the key format and the registry
//! document.

use authorizer::apikey::format::{CHECKSUM_LEN, KEY_LEN, KeyFormatError, PartnerKey, checksum};
use authorizer::apikey::registry::Registry;
use policies::{OwnerKind, api_key_is_canonical};
use serde_json::Value;

/// Target `partner_key`: `PartnerKey::parse`.
///
/// - it agrees with the contract's pattern ([`policies::API_KEY_PATTERN`],
///   what API Gateway and the authorizer's first check apply): a key it
///   accepts matches the pattern, and a string matching the pattern is
///   refused only for its checksum;
/// - an accepted key ends with the checksum of the rest, its id is the 12
///   characters after `pk_`, and its `Debug` never shows the secret.
pub fn partner_key(data: &[u8]) {
    let Some(s) = crate::text(data) else {
        return;
    };
    let canonical = api_key_is_canonical(s);
    match PartnerKey::parse(s) {
        Ok(key) => {
            assert!(canonical, "{s:?}");
            assert_eq!(key.as_str(), s);
            assert_eq!(key.id(), &s[3..15]);
            let (body, check) = s.split_at(KEY_LEN - CHECKSUM_LEN);
            assert_eq!(checksum(body), check);
            assert!(!format!("{key:?}").contains(&s[16..]));
        }
        Err(KeyFormatError::Checksum) => assert!(canonical, "{s:?}"),
        Err(KeyFormatError::Length | KeyFormatError::Shape) => assert!(!canonical, "{s:?}"),
    }
}

/// Target `registry`: `Registry::parse`, the authorizer's reading of the
/// registry secret. A registry it accepts was a JSON object with a `keys`
/// array, and every record it indexed is a record of the document, under
/// its own id, for a partner's namespace.
pub fn registry(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let Ok(registry) = Registry::parse(text) else {
        return;
    };
    assert!(registry.len() <= crate::keys_array_len(data));
    // The records themselves, when every string of the document is Unicode
    // text (see `keys_array_len`).
    let Ok(document) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let records = document.get("keys").and_then(Value::as_array);
    assert!(records.is_some(), "registry accepted from {document}");
    let records = records.unwrap();
    let mut found = 0;
    let mut ids: Vec<&str> = records
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if let Some(record) = registry.get(id) {
            found += 1;
            assert_eq!(record.id, id);
            assert_eq!(record.owner.kind(), OwnerKind::Partner);
            // The record it came from names the same partner.
            let partner = record.owner.partner_id().unwrap();
            assert!(
                records
                    .iter()
                    .any(|r| r.get("id").and_then(Value::as_str) == Some(id)
                        && r.get("partner").and_then(Value::as_str) == Some(partner))
            );
        }
    }
    assert_eq!(found, registry.len());
}
