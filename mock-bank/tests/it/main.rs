//! Integration tests of the mock bank (one test binary; modules per area).
mod admin;
mod api;
mod bad_input;
mod faults;
mod fdx_schema;
mod fdx_validator;
mod login;
mod notifications;
mod realism;
mod sandbox_grant;
mod signin;
mod support;
