//! Strict `application/x-www-form-urlencoded` parameters for OAuth endpoints: RFC 6749 §3.1/§3.2 say parameters
//! sent without a value are treated as omitted and that request and response parameters MUST NOT be included more
//! than once, so a repeated parameter is refused here with `invalid_request`. Must never panic on any body.

use std::collections::HashMap;

use crate::error::OAuthFailure;

/// The parameters of one request, each at most once; empty values dropped.
#[derive(Debug, Default, Clone)]
pub struct OAuthParams(HashMap<String, String>);

impl OAuthParams {
    /// From the pairs axum's `Form<Vec<(String, String)>>` decoded.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthFailure> {
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if map.contains_key(&name) {
                return Err(OAuthFailure::invalid_request(format!("parameter {name:?} is repeated (RFC 6749 §3.2)")));
            }
            map.insert(name, value);
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, OAuthFailure> {
        self.get(name).ok_or_else(|| OAuthFailure::invalid_request(format!("{name} is required")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

impl OAuthParams {
    /// From axum's form extraction result: a body that is not a form is `invalid_request`, not a 415/500.
    pub fn from_form(
        form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
    ) -> Result<Self, OAuthFailure> {
        match form {
            Ok(axum::Form(pairs)) => Self::from_pairs(pairs),
            Err(rejection) => Err(OAuthFailure::invalid_request(format!(
                "the body must be application/x-www-form-urlencoded: {}",
                rejection.body_text()
            ))),
        }
    }
}
