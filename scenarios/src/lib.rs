//! Scenario files for QA: the YAML format, its parser and the runner that plays a scenario against an isolated
//! in-process system or a running deployment.
//!
//! Not built yet: the issue "Scenario files and runner for QA, with a library of scenarios" fills this crate. It
//! speaks to the system over HTTP only; starting an in-process system is the root crate's job.
