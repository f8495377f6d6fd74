//! End-to-end tests of the whole system: the real `bankgate` binary and the in-process launcher, over real HTTPS.
//! One test binary; modules per area.

mod bank_flow;
mod cli;
mod consent_flow;
mod dashboard;
mod fdx_schema;
mod gateway_banks;
mod gateway_cmd;
mod isolation;
mod notifications;
mod resource_api;
mod sandbox;
mod sandbox_clock;
mod scenarios;
mod shortcut;
mod support;
mod webdriver;
