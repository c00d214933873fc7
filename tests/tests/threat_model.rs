//! Keeps `docs/THREAT-MODEL.md` true: every test it cites as the proof of a
//! control exists where it says, is a test (not a helper of the same name),
//! and is not `#[ignore]`d, so a reader can run each one; every row of a
//! threat table names its test or says why there is none; and no test is
//! left "to be decided".
//!
//! A citation is a code span naming a file of the repository and what in it
//! proves the control:
//!
//! - `` `path/to/file.rs::test_name` ``: a Rust `fn` under `#[test]` or
//!   `#[tokio::test(...)]` (proptest's blocks use `#[test]` too), or a
//!   function listed in a `macro_rules!` of that file that stamps out tests
//!   (the api's behaviour suite, run against each store);
//! - `` `fuzz/fuzz_targets/<target>.rs::<target>` ``: a fuzz target, which
//!   counts only when docs/FUZZING.md says what it asserts (a row of its
//!   targets table);
//! - `` `scripts/x.py::name` ``: a Python `def name(`;
//! - `` `path::"text"` ``: in a browser test (`.mjs`), the title of a
//!   `step(…)`, `it(…)` or `test(…)`; in a check script written as straight
//!   code (`.py`, `.sh`), a message or step name it prints, verbatim.
//!
//! Code spans that name no file (`policies::Owner`) are not citations. The
//! document is read with `include_str!`, so editing it re-runs these tests.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

const DOCUMENT: &str = include_str!("../../docs/THREAT-MODEL.md");
const DOCUMENT_PATH: &str = "docs/THREAT-MODEL.md";
/// Where the fuzz targets' assertions are written down.
const FUZZING: &str = "docs/FUZZING.md";
const FUZZ_TARGETS: &str = "fuzz/fuzz_targets/";
/// The kinds of file a citation may name.
const EXTENSIONS: [&str; 4] = [".rs", ".py", ".mjs", ".sh"];
/// Fewer citations than this means the parser, not the document, is wrong.
const MIN_CITATIONS: usize = 60;

/// What a citation names in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name<'a> {
    /// A function: `path::name`.
    Function(&'a str),
    /// A title or message: `path::"text"`.
    Text(&'a str),
}

/// One `path::name` code span of the document, with its line (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Citation<'a> {
    line: usize,
    path: &'a str,
    name: Name<'a>,
}

impl std::fmt::Display for Citation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name {
            Name::Function(n) => write!(f, "line {}: {}::{n}", self.line, self.path),
            Name::Text(t) => write!(f, "line {}: {}::\"{t}\"", self.line, self.path),
        }
    }
}

/// The code spans of one line of Markdown (text between single backticks).
fn code_spans(line: &str) -> impl Iterator<Item = &str> {
    line.split('`').skip(1).step_by(2)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A repository-relative path of a kind a citation may name.
fn names_a_file(path: &str) -> bool {
    path.contains('/')
        && !path.starts_with('/')
        && !path.split('/').any(|part| part == ".." || part.is_empty())
        && EXTENSIONS.iter().any(|ext| path.ends_with(ext))
}

/// Every citation of `doc`, or for each code span that names a file but
/// nothing recognisable in it, why not.
fn citations(doc: &str) -> Result<Vec<Citation<'_>>, Vec<String>> {
    let mut found = Vec::new();
    let mut malformed = Vec::new();
    for (i, line) in doc.lines().enumerate() {
        for span in code_spans(line) {
            let Some((path, name)) = span.split_once("::") else {
                continue;
            };
            if !names_a_file(path) {
                continue;
            }
            let name = if let Some(text) = name
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
                .filter(|t| !t.is_empty())
            {
                Name::Text(text)
            } else if is_identifier(name) {
                Name::Function(name)
            } else {
                malformed.push(format!(
                    "line {}: `{span}`: after `::` comes a function name or a \"quoted text\"",
                    i + 1
                ));
                continue;
            };
            found.push(Citation {
                line: i + 1,
                path,
                name,
            });
        }
    }
    if malformed.is_empty() {
        Ok(found)
    } else {
        Err(malformed)
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

/// Whether `line` defines the function `name` (not in a comment).
fn defines_fn(line: &str, name: &str) -> bool {
    let code = line.trim_start();
    !code.starts_with("//")
        && (code.contains(&format!("fn {name}(")) || code.contains(&format!("fn {name}<")))
}

/// What the attributes above line `at` of `lines` say: (a test, ignored).
fn attributes_above(lines: &[&str], at: usize) -> (bool, bool) {
    let (mut test, mut ignored) = (false, false);
    for line in lines[..at].iter().rev().map(|l| l.trim()) {
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if !line.starts_with("#[") {
            break;
        }
        test |= line.starts_with("#[test]") || line.starts_with("#[tokio::test");
        ignored |= line.starts_with("#[ignore");
    }
    (test, ignored)
}

/// The bodies of the `macro_rules!` of `source` (from `{` to its `}`).
fn macro_bodies(source: &str) -> Vec<&str> {
    let mut bodies = Vec::new();
    for (at, _) in source.match_indices("macro_rules!") {
        let rest = &source[at..];
        let Some(open) = rest.find('{') else { continue };
        let mut depth = 0usize;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        bodies.push(&rest[open..=open + i]);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    bodies
}

/// Whether the Rust `source` defines `name` as a test that CI runs.
fn rust_test(source: &str, name: &str) -> Result<(), String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut ignored = false;
    for (at, line) in lines.iter().enumerate() {
        if defines_fn(line, name) {
            match attributes_above(&lines, at) {
                (true, false) => return Ok(()),
                (true, true) => ignored = true,
                (false, _) => {}
            }
        }
    }
    if ignored {
        return Err(format!("`{name}` is #[ignore]d: CI does not run it"));
    }
    let defined = lines.iter().any(|l| defines_fn(l, name));
    let stamped = macro_bodies(source).iter().any(|body| {
        (body.contains("#[test]") || body.contains("#[tokio::test")) && has_word(body, name)
    });
    match (defined, stamped) {
        (true, true) => Ok(()),
        (true, false) => Err(format!(
            "`fn {name}` is not a test (no #[test] or #[tokio::test] above it, \
             nor listed in a macro that makes tests)"
        )),
        (false, _) => Err(format!("no test `{name}` in this file")),
    }
}

/// Whether `target` is a fuzz target of `source` that FUZZING.md describes.
fn fuzz_target(
    path: &str,
    source: &str,
    target: &str,
    fuzzing: Option<&str>,
) -> Result<(), String> {
    if path != format!("{FUZZ_TARGETS}{target}.rs") {
        return Err(format!(
            "the fuzz target `{target}` lives in {FUZZ_TARGETS}{target}.rs"
        ));
    }
    if !source.contains(&format!("fuzz::{target}(")) {
        return Err(format!("{path} does not run the harness `fuzz::{target}`"));
    }
    let row = format!("| `{target}` |");
    match fuzzing {
        Some(doc) if doc.lines().any(|l| l.starts_with(&row)) => Ok(()),
        _ => Err(format!(
            "{FUZZING} does not say what `{target}` asserts (no row `{row}`): \
             a fuzz target counts as a test only with its assertion written down"
        )),
    }
}

/// Whether a browser test's `source` has a step titled `title`.
fn browser_step(source: &str, title: &str) -> bool {
    ["step(", "it(", "test("].iter().any(|call| {
        ['\'', '"']
            .iter()
            .any(|q| source.contains(&format!("{call}{q}{title}{q}")))
    })
}

/// Checks one citation; `read` gives a repository file's text.
fn check(c: &Citation<'_>, read: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    let source = read(c.path).ok_or_else(|| format!("{}: no such file", c.path))?;
    let ext = EXTENSIONS
        .iter()
        .find(|e| c.path.ends_with(*e))
        .copied()
        .unwrap_or_default();
    match (ext, c.name) {
        (".rs", Name::Function(n)) if c.path.starts_with(FUZZ_TARGETS) => {
            fuzz_target(c.path, &source, n, read(FUZZING).as_deref())
        }
        (".rs", Name::Function(n)) => rust_test(&source, n),
        (".py", Name::Function(n)) => {
            let def = format!("def {n}(");
            if source.lines().any(|l| l.trim_start().starts_with(&def)) {
                Ok(())
            } else {
                Err(format!("no `def {n}(` in this file"))
            }
        }
        (".mjs", Name::Text(t)) => {
            if browser_step(&source, t) {
                Ok(())
            } else {
                Err(format!("no step titled \"{t}\""))
            }
        }
        (".py" | ".sh", Name::Text(t)) => {
            if source.contains(t) {
                Ok(())
            } else {
                Err(format!("the text \"{t}\" is not in this file"))
            }
        }
        (_, Name::Function(_)) => Err("cite this file by a \"quoted\" step or message".into()),
        (_, Name::Text(_)) => Err("cite this file by a function name".into()),
    }
}

/// Every failed citation of `doc`, one line each.
fn failures(doc: &str, read: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    match citations(doc) {
        Err(malformed) => malformed,
        Ok(cited) => cited
            .iter()
            .filter_map(|c| check(c, read).err().map(|why| format!("{c}: {why}")))
            .collect(),
    }
}

/// The cells of a Markdown table row, trimmed (`| a | b |` → `["a", "b"]`).
fn cells(row: &str) -> Vec<&str> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

/// Whether `row` is a table's header separator (`|---|:--:|`).
fn is_separator(row: &str) -> bool {
    cells(row)
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// Rows of tables whose last column is "test" and whose last cell neither
/// cites a test, nor says `TBD (…)`, nor starts with `**none**` and why.
fn rows_without_a_test(doc: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut in_test_table = false;
    let mut previous_was_row = false;
    for (i, line) in doc.lines().enumerate() {
        let is_row = line.trim_start().starts_with('|');
        if is_row && !previous_was_row {
            in_test_table = cells(line)
                .last()
                .is_some_and(|c| c.eq_ignore_ascii_case("test"));
        } else if is_row && in_test_table && !is_separator(line) {
            let last = cells(line).last().copied().unwrap_or_default();
            let cites = citations(last).is_ok_and(|c| !c.is_empty());
            let said_why = last.starts_with("**none**") && last.len() > "**none**".len() + 3;
            if !(cites || last.contains("TBD (") || said_why) {
                bad.push(format!("line {}: {}", i + 1, line.trim()));
            }
        }
        previous_was_row = is_row;
    }
    bad
}

/// Every line of `doc` that still says `TBD` (outside code spans, where the
/// document speaks of the marker rather than using it).
fn tbds(doc: &str) -> Vec<String> {
    doc.lines()
        .enumerate()
        .filter(|(_, l)| l.split('`').step_by(2).any(|prose| has_word(prose, "TBD")))
        .map(|(i, l)| format!("line {}: {}", i + 1, l.trim()))
        .collect()
}

fn repository_file(path: &str) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    std::fs::read_to_string(root.join(path)).ok()
}

#[test]
fn every_test_the_threat_model_cites_exists() {
    let cited = citations(DOCUMENT).unwrap_or_default();
    assert!(
        cited.len() >= MIN_CITATIONS,
        "{DOCUMENT_PATH}: only {} citations found; is the citation format still `path::name`?",
        cited.len()
    );
    let wrong = failures(DOCUMENT, &repository_file);
    assert!(
        wrong.is_empty(),
        "{DOCUMENT_PATH} cites tests that do not exist as cited:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_row_of_a_threat_table_names_its_test_or_says_why_not() {
    let bad = rows_without_a_test(DOCUMENT);
    assert!(
        bad.is_empty(),
        "{DOCUMENT_PATH}: rows whose test cell cites no test, says no `TBD (…)` and no `**none** <why>`:\n{}",
        bad.join("\n")
    );
}

/// Fails while a control's test is still to be named: the lead replaces
/// every `TBD (issue …)` with the test that landed before merging to main.
#[test]
fn no_test_of_the_threat_model_is_left_to_be_decided() {
    let open = tbds(DOCUMENT);
    assert!(
        open.is_empty(),
        "{DOCUMENT_PATH} still has {} TBD(s); name the test that shows each control:\n{}",
        open.len(),
        open.join("\n")
    );
}

/// The checker itself, on fixture files instead of the repository.
mod checker {
    use super::*;

    const TESTS_RS: &str = r#"
//! A module.
fn helper_with_a_test_like_name() {}

#[test]
fn a_real_test() {}

/// Documented, then attributed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic]
async fn an_async_test() {}

#[test]
#[ignore = "slow"]
fn an_ignored_test() {}

proptest! {
    #[test]
    fn a_property(x in 0..3u8) {}
}

// fn a_commented_out_test() {}
"#;

    const SUITE_RS: &str = r#"
macro_rules! suite {
    ($b:expr) => { suite!(@tests $b; first_case, second_case,); };
    (@tests $b:expr; $($name:ident),* $(,)?) => {
        $( #[tokio::test] async fn $name() { $crate::suite::$name(&$b).await; } )*
    };
}
pub async fn first_case<B: Backend>(b: &B) {}
pub async fn second_case<B: Backend>(b: &B) {}
pub async fn not_in_the_suite<B: Backend>(b: &B) {}
"#;

    const FUZZ_JWT: &str = "fuzz_target!(|data| fuzz::jwt_token(data));\n";
    const FUZZ_UNDOCUMENTED: &str = "fuzz_target!(|data| fuzz::secret_target(data));\n";
    const FUZZING_MD: &str =
        "| target | entry | asserted |\n|---|---|---|\n| `jwt_token` | parse | one spelling |\n";
    const CHECK_PY: &str = "def test_refuses_a_bad_banner(self):\n    pass\nfail(f\"{m} is not behind the TOKEN authorizer\")\n";
    const BROWSER_MJS: &str = "step('cannot mint a token from the page', async () => {});\n";

    fn fixture(path: &str) -> Option<String> {
        let text = match path {
            "crate/src/tests.rs" => TESTS_RS,
            "crate/tests/common/suite.rs" => SUITE_RS,
            "fuzz/fuzz_targets/jwt_token.rs" => FUZZ_JWT,
            "fuzz/fuzz_targets/secret_target.rs" => FUZZ_UNDOCUMENTED,
            "docs/FUZZING.md" => FUZZING_MD,
            "scripts/check.py" => CHECK_PY,
            "tests/browser/browser.test.mjs" => BROWSER_MJS,
            _ => return None,
        };
        Some(text.to_owned())
    }

    fn failures_of(doc: &str) -> Vec<String> {
        failures(doc, &fixture)
    }

    #[test]
    fn a_cited_test_that_exists_passes() {
        let doc = "\
| threat | control | test |
|---|---|---|
| S | x | `crate/src/tests.rs::a_real_test`, `crate/src/tests.rs::an_async_test` |
| T | y | `crate/src/tests.rs::a_property` |
";
        assert_eq!(failures_of(doc), Vec::<String>::new());
        assert_eq!(citations(doc).unwrap().len(), 3);
    }

    #[test]
    fn a_misspelt_test_name_fails_with_its_line() {
        let doc = "intro\n\nsee `crate/src/tests.rs::a_rael_test`\n";
        assert_eq!(
            failures_of(doc),
            ["line 3: crate/src/tests.rs::a_rael_test: no test `a_rael_test` in this file"]
        );
    }

    #[test]
    fn a_missing_file_fails() {
        let wrong = failures_of("`crate/src/gone.rs::a_real_test`");
        assert_eq!(
            wrong,
            ["line 1: crate/src/gone.rs::a_real_test: crate/src/gone.rs: no such file"]
        );
    }

    #[test]
    fn a_function_that_is_not_a_test_or_is_ignored_or_commented_out_fails() {
        for (name, why) in [
            ("helper_with_a_test_like_name", "is not a test"),
            ("an_ignored_test", "#[ignore]d"),
            ("a_commented_out_test", "no test"),
        ] {
            let wrong = failures_of(&format!("`crate/src/tests.rs::{name}`"));
            assert_eq!(wrong.len(), 1, "{name}");
            assert!(wrong[0].contains(why), "{name}: {wrong:?}");
        }
    }

    #[test]
    fn a_function_a_test_macro_stamps_out_counts_and_one_it_does_not_fails() {
        assert!(failures_of("`crate/tests/common/suite.rs::second_case`").is_empty());
        let wrong = failures_of("`crate/tests/common/suite.rs::not_in_the_suite`");
        assert_eq!(wrong.len(), 1);
        assert!(wrong[0].contains("is not a test"), "{wrong:?}");
    }

    #[test]
    fn a_fuzz_target_counts_only_with_its_assertion_in_fuzzing_md() {
        assert!(failures_of("`fuzz/fuzz_targets/jwt_token.rs::jwt_token`").is_empty());
        let wrong = failures_of("`fuzz/fuzz_targets/secret_target.rs::secret_target`");
        assert_eq!(wrong.len(), 1);
        assert!(wrong[0].contains("does not say what"), "{wrong:?}");
        let wrong = failures_of("`fuzz/fuzz_targets/jwt_token.rs::jwks`");
        assert_eq!(wrong.len(), 1);
        assert!(wrong[0].contains("lives in"), "{wrong:?}");
    }

    #[test]
    fn python_functions_browser_steps_and_script_messages_are_found_by_name() {
        for ok in [
            "`scripts/check.py::test_refuses_a_bad_banner`",
            "`scripts/check.py::\"is not behind the TOKEN authorizer\"`",
            "`tests/browser/browser.test.mjs::\"cannot mint a token from the page\"`",
        ] {
            assert_eq!(failures_of(ok), Vec::<String>::new(), "{ok}");
        }
        for wrong in [
            "`scripts/check.py::test_refuses_a_good_banner`",
            "`scripts/check.py::\"is behind the TOKEN authorizer\"`",
            "`tests/browser/browser.test.mjs::\"cannot mint a token\"`",
            "`tests/browser/browser.test.mjs::mint`",
        ] {
            assert_eq!(failures_of(wrong).len(), 1, "{wrong}");
        }
    }

    #[test]
    fn only_code_spans_that_name_a_file_are_citations() {
        let doc = "`policies::Owner`, `lambda_runtime::layers::panic`, `../x.rs::a`, \
                   `crate/src/tests.rs` and crate/src/tests.rs::a_real_test outside a span";
        assert_eq!(citations(doc).unwrap(), []);
        let malformed = citations("`crate/src/tests.rs::a real test`").unwrap_err();
        assert_eq!(malformed.len(), 1);
        assert!(malformed[0].starts_with("line 1:"), "{malformed:?}");
    }

    #[test]
    fn a_row_whose_test_cell_cites_nothing_and_says_nothing_is_caught() {
        let doc = "\
| threat | control | test |
|---|---|---|
| S | cited | `crate/src/tests.rs::a_real_test` |
| T | pending | TBD (issue 16 item 11) |
| R | untestable | **none**: a timing property |
| I | forgotten | |
| D | vague | **none** |

| other | table |
|---|---|
| not | checked |
";
        assert_eq!(
            rows_without_a_test(doc),
            [
                "line 6: | I | forgotten | |",
                "line 7: | D | vague | **none** |"
            ]
        );
    }

    #[test]
    fn every_tbd_is_reported_with_its_line() {
        let doc = "a\n| x | TBD (issue 17) |\nTBDs are words too: TBD\nnot xTBDx\nthe marker `TBD (issue N)` named\n";
        assert_eq!(
            tbds(doc),
            [
                "line 2: | x | TBD (issue 17) |",
                "line 3: TBDs are words too: TBD"
            ]
        );
    }
}
