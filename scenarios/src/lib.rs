//! Scenario files for QA: the YAML format ([`model`], spec in FORMAT.md), its parser with precise errors
//! ([`parse`]), variables ([`vars`]), JSON paths ([`jsonpath`]) and assertions ([`assert`]), reports ([`report`])
//! and the JSON Schema ([`schema`]).
//!
//! This crate never starts a system and never does network I/O: the root crate's `scenario` module plays a parsed
//! scenario against an in-process sandbox or a running deployment. It must not depend on the root crate.

pub mod assert;
pub mod duration;
pub mod golden;
pub mod jsonpath;
pub mod model;
pub mod parse;
pub mod report;
pub mod schema;
pub mod vars;

pub use model::Scenario;
pub use parse::{Diagnostic, parse};
