//! End-to-end tests of the whole system: the real `bankgate` binary and the in-process launcher, over real HTTPS.
//! One test binary; modules per area.

mod bank_flow;
mod cli;
mod consent_flow;
mod dashboard;
mod gateway_banks;
mod gateway_cmd;
mod resource_api;
mod sandbox;
mod sandbox_clock;
mod shortcut;
mod support;
mod webdriver;
