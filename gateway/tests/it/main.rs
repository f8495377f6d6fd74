//! The gateway's integration tests: one test binary (link time on two cores matters), one module per area.

mod consent_flow;
mod grants;
mod http;
mod oauth;
mod store;
