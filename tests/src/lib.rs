//! End-to-end tests live in `tests/tests/`. The library holds what tests of
//! several crates share: [`runtime_api`], the Lambda Runtime API on loopback,
//! under which the functions' own integration tests run their real binaries.

pub mod runtime_api;
