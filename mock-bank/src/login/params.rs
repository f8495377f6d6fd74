//! Request parameters of the OAuth endpoints and login forms, decoded by axum into `(name, value)` pairs.
//!
//! RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included more than once", so a repeated
//! single-valued parameter is an error, not "last one wins". Only parameters the endpoint declares as repeatable
//! (the account checkboxes) may appear several times. No I/O.

/// Parameters of one request.
#[derive(Debug)]
pub(crate) struct Params(Vec<(String, String)>);

/// A single-valued parameter that appeared more than once.
#[derive(Debug)]
pub(crate) struct Repeated(pub String);

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of a single-valued parameter; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = self.0.iter().filter(|(n, v)| n == name && !v.is_empty());
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(Repeated(name.to_owned()));
        }
        Ok(first)
    }

    /// Every value of a repeatable parameter (any of `names`), in order.
    pub fn all(&self, names: &[&str]) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| v.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_single_values_are_refused() {
        let p = Params::new(vec![("a".into(), "1".into()), ("a".into(), "2".into()), ("b".into(), "".into())]);
        assert!(p.get("a").is_err());
        assert_eq!(p.get("b").unwrap(), None);
        assert_eq!(p.get("c").unwrap(), None);
        assert_eq!(p.all(&["a"]), vec!["1", "2"]);
    }
}
