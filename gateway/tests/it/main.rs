//! The gateway's integration tests: one test binary (link time on two cores matters), one module per area.

mod consent_flow;
mod fapi_negative;
mod grants;
mod http;
mod jwks_uri;
mod notifications;
mod oauth;
mod sandbox_shortcut;
mod store;
mod support;
