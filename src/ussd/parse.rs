//! The `+CUSD:` line (TS 27.007 §7.15): `+CUSD: <m>[,<str>[,<dcs>]]`.
//!
//! Pure and total. Shapes accepted (modem-quirks.md §9–10): `+CUSD: 0,"Balance:633,100r",15`
//! (commas inside the quotes), `+CUSD: 2,"Balance:633,100r"` (no dcs), `+CUSD: 0,""`,
//! `+CUSD: 4` (no text), `+CUSD: 1,"1. Buy\n2. Exit",15` (the engine joins a text that spans
//! lines with `\n`), `+CUSD:1,"00200044",72` (no space), and an unquoted text some modems send.
//! The parser and its tests live in `at::urc` beside the URC table (`src/at/urc_tests.rs`).

// One parse of `+CUSD:` for the engine (which types every URC once) and for callers holding a
// line (`simkeep decode ussd`); it lives with the URC table in `at::urc`.
pub use crate::at::urc::{parse_cusd, Cusd};
