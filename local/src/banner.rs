//! What the stack prints at start: where it listens and ready-to-paste
//! `curl` lines with freshly minted tokens and the development partner key.
//!
//! Every `curl` line ends with `# expect <status>`, and the banner ends with
//! [`BANNER_END`]: `scripts/readme_check.py` runs the README's first command,
//! reads the banner up to that line, runs each curl line and holds it to its
//! stated status, so what a newcomer pastes is what CI ran.

use std::fmt::Write as _;

/// The banner's last line.
pub const BANNER_END: &str = "# Stop the stack with Ctrl-C.";

/// The credentials shown at start.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// A token for `alice`, full access.
    pub alice: Option<String>,
    /// A token for `bob`, in the `readonly` group.
    pub bob: Option<String>,
    /// The development partner key.
    pub partner_key: Option<String>,
    /// Why the development identity provider is off, when it is.
    pub idp_off: Option<String>,
}

/// The start banner for a stack at `url`.
pub fn banner(url: &str, stage: &str, credentials: &Credentials) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Local stack (DEVELOPMENT ONLY) on {url}: API Gateway emulation (stage {stage}), real authorizer and api.\n\
         Paste these lines into a shell (tokens are valid for one hour):\n"
    );
    if let Some(why) = &credentials.idp_off {
        // Said before the lines, so nobody looks for a token that is not
        // there.
        let _ = writeln!(out, "# No user tokens: {why}.\n");
    }
    let _ = writeln!(out, "export API={url}");
    if let Some(alice) = &credentials.alice {
        let _ = writeln!(out, "export ALICE='Bearer {alice}'");
    }
    if let Some(bob) = &credentials.bob {
        let _ = writeln!(out, "export BOB='Bearer {bob}'");
    }
    if let Some(key) = &credentials.partner_key {
        let _ = writeln!(out, "export PARTNER='ApiKey {key}'");
    }
    out.push('\n');
    if credentials.alice.is_some() {
        let _ = writeln!(
            out,
            "# alice (full access): create, read, list, update, delete\n\
             ID=$(curl -s -X POST \"$API/items\" -H \"Authorization: $ALICE\" -H 'Content-Type: application/json' -d '{{\"name\":\"milk\",\"tags\":[\"shopping\"]}}' | sed -E 's/.*\"id\":\"([^\"]+)\".*/\\1/'); echo \"$ID\"  # expect 201\n\
             curl -s \"$API/items/$ID\" -H \"Authorization: $ALICE\"; echo  # expect 200\n\
             curl -s \"$API/items?limit=10\" -H \"Authorization: $ALICE\"; echo  # expect 200\n\
             curl -s -X PATCH \"$API/items/$ID\" -H \"Authorization: $ALICE\" -H 'Content-Type: application/merge-patch+json' -d '{{\"description\":\"2 litres\"}}'; echo  # expect 200\n\
             curl -s -o /dev/null -w '%{{http_code}}\\n' -X DELETE \"$API/items/$ID\" -H \"Authorization: $ALICE\"  # expect 204\n"
        );
    }
    if credentials.bob.is_some() {
        let _ = writeln!(
            out,
            "# bob (group readonly): reads work, writes are refused with 403\n\
             curl -s \"$API/items\" -H \"Authorization: $BOB\"; echo  # expect 200\n\
             curl -s -X POST \"$API/items\" -H \"Authorization: $BOB\" -H 'Content-Type: application/json' -d '{{\"name\":\"nope\"}}'; echo  # expect 403\n"
        );
    }
    if credentials.partner_key.is_some() {
        let _ = writeln!(
            out,
            "# the development partner (API key, usage plan throttled)\n\
             curl -s -X POST \"$API/items\" -H \"Authorization: $PARTNER\" -H 'Content-Type: application/json' -d '{{\"name\":\"order 42\"}}'; echo  # expect 201\n\
             curl -s \"$API/items\" -H \"Authorization: $PARTNER\"; echo  # expect 200\n"
        );
    }
    let _ = writeln!(
        out,
        "# no credential: 401 from the gateway, without calling the authorizer\n\
         curl -s \"$API/items\"; echo  # expect 401\n"
    );
    if credentials.alice.is_some() {
        let _ = writeln!(
            out,
            "# more tokens (development only): cargo run --bin local -- token --user carol --group readonly --url {url}"
        );
    }
    let _ = writeln!(out, "{BANNER_END}");
    out
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn full() -> String {
        let credentials = Credentials {
            alice: Some("a.b.c".into()),
            bob: Some("d.e.f".into()),
            partner_key: Some("pk_x".into()),
            idp_off: None,
        };
        banner("http://127.0.0.1:3000", "local", &credentials)
    }

    #[test]
    fn every_curl_line_states_the_status_it_expects() {
        let text = full();
        let curls: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("curl "))
            .collect();
        assert_eq!(curls.len(), 10, "{text}");
        for line in curls {
            let (_, expected) = line
                .rsplit_once("# expect ")
                .unwrap_or_else(|| panic!("no expectation: {line}"));
            assert!(
                expected.len() == 3 && expected.bytes().all(|b| b.is_ascii_digit()),
                "{line}"
            );
        }
    }

    #[test]
    fn a_banner_without_the_identity_provider_says_why() {
        let credentials = Credentials {
            partner_key: Some("pk_x".into()),
            idp_off: Some("the development identity provider is off: because".into()),
            ..Credentials::default()
        };
        let text = banner("http://127.0.0.1:3000", "local", &credentials);
        assert!(
            text.contains("# No user tokens: the development identity provider is off: because."),
            "{text}"
        );
        assert!(!text.contains("ALICE"), "{text}");
        assert!(!full().contains("No user tokens"));
    }

    #[test]
    fn the_banner_ends_with_its_end_line_with_or_without_credentials() {
        assert_eq!(full().lines().last(), Some(BANNER_END));
        let bare = banner("http://127.0.0.1:3000", "local", &Credentials::default());
        assert_eq!(bare.lines().last(), Some(BANNER_END));
    }
}
