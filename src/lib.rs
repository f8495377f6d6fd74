//! The bankgate launcher: wires banks (and, in later issues, the gateway) from options into running listeners.
//!
//! The CLI (`src/main.rs`), the end-to-end tests and the scenario runner all start systems through
//! [`Sandbox::start`], so what a test exercises is what `bankgate up` runs. This crate holds wiring only: no
//! protocol rules, no data generation.

pub mod endpoints;
pub mod person;
pub mod sandbox;
pub mod scenario;

pub use endpoints::Endpoints;
pub use sandbox::{Sandbox, SandboxOptions};
