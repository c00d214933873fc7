//! Finding leaked partner keys in files, offline: every `pk_<id>_<secret>`
//! of the right shape whose checksum is right (so a made-up string of the
//! same shape is not reported), reported by file, line and key id, never the
//! key itself.
//!
//! The same rule as the detect-secrets plugin the project ships
//! (scripts/secret-scan/partner_key.py): a line that carries
//! `pragma: allowlist secret` is a deliberate fixture and is skipped.

use std::path::{Path, PathBuf};

use regex::bytes::Regex;

use crate::apikey::format::PartnerKey;

/// The marker of a deliberate fixture key, as detect-secrets spells it.
pub const ALLOWLIST_MARKER: &str = "pragma: allowlist secret";

/// One leaked key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The key id (not secret).
    pub key_id: String,
}

/// The scanner.
#[derive(Debug, Clone)]
pub struct Scanner {
    candidate: Regex,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// A scanner.
    pub fn new() -> Self {
        // Not inside a longer word: a key is delimited by anything but
        // [A-Za-z0-9_]. The pattern is a constant and known to compile.
        #[allow(clippy::expect_used)]
        let candidate = Regex::new(
            r"(?-u)(?:^|[^A-Za-z0-9_])(pk_[a-z0-9]{12}_[A-Za-z0-9]{40})(?:[^A-Za-z0-9_]|$)",
        )
        .expect("the candidate pattern compiles");
        Scanner { candidate }
    }

    /// The keys with a right checksum in `text`, by line.
    pub fn scan_text(&self, path: &Path, text: &[u8]) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            if memchr::memmem::find(line, ALLOWLIST_MARKER.as_bytes()).is_some() {
                continue;
            }
            let mut at = 0;
            while let Some(found) = self.candidate.captures_at(line, at) {
                let Some(key) = found.get(1) else { break };
                // The closing delimiter may open the next key: go on from
                // the key's end, not the match's.
                at = key.end();
                if let Ok(text) = std::str::from_utf8(key.as_bytes())
                    && let Ok(key) = PartnerKey::parse(text)
                {
                    findings.push(Finding {
                        path: path.to_owned(),
                        line: index + 1,
                        key_id: key.id().to_owned(),
                    });
                }
            }
        }
        findings
    }

    /// Scans files and directories (recursively, `.git` left out).
    pub fn scan_paths(&self, paths: &[PathBuf]) -> std::io::Result<Vec<Finding>> {
        let mut findings = Vec::new();
        let mut pending: Vec<PathBuf> = paths.iter().rev().cloned().collect();
        while let Some(path) = pending.pop() {
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                if path.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                let mut entries = std::fs::read_dir(&path)?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<std::io::Result<Vec<_>>>()?;
                entries.sort();
                pending.extend(entries.into_iter().rev());
            } else if meta.is_file() {
                findings.extend(self.scan_text(&path, &std::fs::read(&path)?));
            }
        }
        Ok(findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::format::GeneratedKey;

    fn scan(text: &str) -> Vec<String> {
        Scanner::new()
            .scan_text(Path::new("f"), text.as_bytes())
            .into_iter()
            .map(|f| format!("{}:{}", f.line, f.key_id))
            .collect()
    }

    #[test]
    fn a_key_with_a_right_checksum_is_found_by_line_and_id_only() {
        let a = GeneratedKey::generate().unwrap();
        let b = GeneratedKey::generate().unwrap();
        let text = format!(
            "x\nAuthorization: ApiKey {}\n\"{}\",\"{}\"\n",
            a.expose(),
            b.expose(),
            a.expose()
        );
        assert_eq!(
            scan(&text),
            [
                format!("2:{}", a.id()),
                format!("3:{}", b.id()),
                format!("3:{}", a.id())
            ]
        );
    }

    #[test]
    fn near_misses_are_not_found() {
        let key = GeneratedKey::generate().unwrap();
        let k = key.expose();
        let flip = |i: usize| {
            let mut bytes = k.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            String::from_utf8(bytes).unwrap()
        };
        let near = [
            flip(20),                    // a typo in the secret
            flip(k.len() - 1),           // a wrong checksum digit
            k.replacen("pk_", "pk-", 1), // not the shape
            format!("{k}x"),             // inside a longer word
            format!("x{k}"),
            k[..k.len() - 1].to_owned(),
        ];
        for text in near {
            assert_eq!(scan(&text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn a_line_marked_as_a_fixture_is_skipped() {
        let key = GeneratedKey::generate().unwrap();
        let text = format!("k = \"{}\"  # pragma: allowlist secret\n", key.expose());
        assert!(scan(&text).is_empty());
    }
}
