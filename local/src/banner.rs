//! What the stack prints at start: where it listens and ready-to-paste
//! `curl` lines with freshly minted tokens and the development partner key.

use std::fmt::Write as _;

/// The credentials shown at start.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// A token for `alice`, full access.
    pub alice: Option<String>,
    /// A token for `bob`, in the `readonly` group.
    pub bob: Option<String>,
    /// The development partner key.
    pub partner_key: Option<String>,
}

/// The start banner for a stack at `url`.
pub fn banner(url: &str, stage: &str, credentials: &Credentials) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Local stack (DEVELOPMENT ONLY) on {url}: API Gateway emulation (stage {stage}), real authorizer and api.\n\
         Paste these lines into a shell (tokens are valid for one hour):\n"
    );
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
             ID=$(curl -s -X POST \"$API/items\" -H \"Authorization: $ALICE\" -H 'Content-Type: application/json' -d '{{\"name\":\"milk\",\"tags\":[\"shopping\"]}}' | sed -E 's/.*\"id\":\"([^\"]+)\".*/\\1/'); echo \"$ID\"\n\
             curl -s \"$API/items/$ID\" -H \"Authorization: $ALICE\"; echo\n\
             curl -s \"$API/items?limit=10\" -H \"Authorization: $ALICE\"; echo\n\
             curl -s -X PATCH \"$API/items/$ID\" -H \"Authorization: $ALICE\" -H 'Content-Type: application/merge-patch+json' -d '{{\"description\":\"2 litres\"}}'; echo\n\
             curl -s -o /dev/null -w '%{{http_code}}\\n' -X DELETE \"$API/items/$ID\" -H \"Authorization: $ALICE\"\n"
        );
    }
    if credentials.bob.is_some() {
        let _ = writeln!(
            out,
            "# bob (group readonly): reads work, writes are refused with 403\n\
             curl -s \"$API/items\" -H \"Authorization: $BOB\"; echo\n\
             curl -s -X POST \"$API/items\" -H \"Authorization: $BOB\" -H 'Content-Type: application/json' -d '{{\"name\":\"nope\"}}'; echo\n"
        );
    }
    if credentials.partner_key.is_some() {
        let _ = writeln!(
            out,
            "# the development partner (API key, usage plan throttled)\n\
             curl -s -X POST \"$API/items\" -H \"Authorization: $PARTNER\" -H 'Content-Type: application/json' -d '{{\"name\":\"order 42\"}}'; echo\n\
             curl -s \"$API/items\" -H \"Authorization: $PARTNER\"; echo\n"
        );
    }
    let _ = writeln!(
        out,
        "# no credential: 401 from the gateway, without calling the authorizer\n\
         curl -s \"$API/items\"; echo\n"
    );
    if credentials.alice.is_some() {
        let _ = writeln!(
            out,
            "# more tokens (development only): cargo run --release -p local -- token --user carol --group readonly --url {url}"
        );
    }
    out
}
