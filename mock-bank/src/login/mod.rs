//! (being written by the login work) The bank's OAuth authorization server and login pages.
#[derive(Debug)]
pub struct AuthServer;
