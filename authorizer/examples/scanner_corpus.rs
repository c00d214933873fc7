//! Writes what the secret scanner rule is checked against
//! (scripts/secret-scan.sh): `DIR/keys.txt`, partner keys from the real
//! generator in the places keys leak to (a header, JSON, an environment
//! line, a URL, a bare line), and `DIR/near.txt`, near misses that must not
//! be found: a typo in the secret, a wrong checksum digit, the wrong shape,
//! a key inside a longer word. Prints nothing of the keys themselves.
//!
//! `cargo run -p authorizer --example scanner_corpus -- DIR [COUNT]`

use std::fmt::Write as _;
use std::process::ExitCode;

use authorizer::apikey::format::{GeneratedKey, PartnerKey};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), count) = (args.next(), args.next()) else {
        eprintln!("usage: scanner_corpus DIR [COUNT]");
        return ExitCode::from(2);
    };
    let count: usize = count.and_then(|c| c.parse().ok()).unwrap_or(200);
    let (mut keys, mut near) = (String::new(), String::new());
    for i in 0..count {
        let Ok(key) = GeneratedKey::generate() else {
            eprintln!("the random number generator failed");
            return ExitCode::FAILURE;
        };
        let k = key.expose();
        let _ = match i % 5 {
            0 => writeln!(keys, "Authorization: ApiKey {k}"),
            1 => writeln!(keys, "{{\"apiKey\": \"{k}\", \"n\": {i}}}"),
            2 => writeln!(keys, "PARTNER_KEY={k}"),
            3 => writeln!(keys, "https://example.com/?key={k}&x=1"),
            _ => writeln!(keys, "{k}"),
        };
        for miss in near_misses(k) {
            let _ = writeln!(near, "{miss}");
        }
    }
    let dir = std::path::Path::new(&dir);
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join("keys.txt"), keys))
        .and_then(|()| std::fs::write(dir.join("near.txt"), near));
    if let Err(e) = written {
        eprintln!("{}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "{count} keys in keys.txt, {} near misses in near.txt",
        count * 6
    );
    ExitCode::SUCCESS
}

/// Six strings a careless scanner would report.
fn near_misses(k: &str) -> [String; 6] {
    let swap = |i: usize| {
        let mut bytes = k.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'Q' { b'R' } else { b'Q' };
        String::from_utf8(bytes).unwrap_or_default()
    };
    // A made-up key of the right shape: a checksum of zeros, unless that
    // happens to be the right one.
    let body = &k[..k.len() - 6];
    let made_up = ["000000", "000001"]
        .map(|c| format!("{body}{c}"))
        .into_iter()
        .find(|m| PartnerKey::parse(m).is_err())
        .unwrap_or_default();
    [
        // A typo in the random part: the checksum no longer matches.
        format!("Authorization: ApiKey {}", swap(30)),
        // A wrong last checksum digit.
        format!("\"apiKey\": \"{}\"", swap(k.len() - 1)),
        made_up,
        // The right key inside a longer word.
        format!("x{k}"),
        format!("{k}9"),
        // A capital in the id.
        format!("pk_A{}", &k[4..]),
    ]
}
