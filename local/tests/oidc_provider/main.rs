//! A real OpenID Provider on loopback: panva's oidc-provider, OpenID
//! Certified, started by `tests/oidc/provider.mjs` for each test. What it
//! issues, checked on its own (`provider`), and the local stack trusting
//! it through `--trusted-issuers` (`stack`). Needs Node.js 20+ and the
//! provider's pinned packages: `scripts/oidc-provider.sh` installs them
//! (scripts/test.sh runs it before the tests).
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod jwt;
mod provider;
mod stack;
