//! Redirect URIs: what a client may register, how the bank appends response parameters to one, and its origin
//! (for the login pages' `form-action` CSP).
//!
//! Redirect URIs are compared by exact string match (RFC 9700 §2.1, FAPI 2.0 §5.3.2.2); nothing here ever builds a
//! redirect to a URI that was not registered. No I/O.

/// Longest redirect URI a client may register.
const MAX_REDIRECT_URI_LEN: usize = 512;

/// Why a redirect URI cannot be registered.
pub(crate) fn redirect_uri_problem(uri: &str) -> Option<&'static str> {
    if uri.is_empty() || uri.len() > MAX_REDIRECT_URI_LEN {
        return Some("redirect URIs must be 1-512 characters");
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Some("redirect URIs must be printable ASCII without spaces");
    }
    // RFC 6749 §3.1.2: absolute URI without a fragment.
    if uri.contains('#') {
        return Some("redirect URIs must not contain a fragment");
    }
    let Some((scheme, host)) = scheme_and_host(uri) else {
        return Some("redirect URIs must be absolute http(s) URIs");
    };
    if host.is_empty() {
        return Some("redirect URIs must name a host");
    }
    match scheme {
        "https" => None,
        // RFC 8252 §7.3: plain http only for loopback redirect URIs.
        "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => None,
        _ => Some("redirect URIs must use https (http only for localhost)"),
    }
}

/// `(scheme, host)` of an absolute http(s) URI; the host without port or user info.
fn scheme_and_host(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return None;
    }
    let host = if authority.starts_with('[') {
        &authority[..authority.find(']').map_or(authority.len(), |i| i + 1)]
    } else {
        authority.split(':').next().unwrap_or("")
    };
    Some((scheme, host))
}

/// The origin (`scheme://authority`) of a registered redirect URI, for CSP `form-action`.
pub(crate) fn origin(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    // Only characters that cannot end or extend a CSP source expression.
    let clean = authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    (clean && !authority.is_empty() && matches!(scheme, "http" | "https")).then(|| format!("{scheme}://{authority}"))
}

/// Append query parameters to a redirect URI, keeping any query it already has (RFC 6749 §3.1.2).
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(uri.len() + 128);
    out.push_str(uri);
    let mut separator = if uri.contains('?') { '&' } else { '?' };
    if uri.ends_with('?') || uri.ends_with('&') {
        separator = '\0';
    }
    for (name, value) in params {
        if separator != '\0' {
            out.push(separator);
        }
        separator = '&';
        percent_encode_into(&mut out, name);
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// `application/x-www-form-urlencoded`-safe encoding: everything but RFC 3986 unreserved characters is escaped.
fn percent_encode_into(out: &mut String, value: &str) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_redirect_uris() {
        assert_eq!(redirect_uri_problem("https://gateway.example/cb"), None);
        assert_eq!(redirect_uri_problem("http://127.0.0.1:8080/cb"), None);
        assert_eq!(redirect_uri_problem("http://[::1]:8080/cb"), None);
        assert!(redirect_uri_problem("http://gateway.example/cb").is_some());
        assert!(redirect_uri_problem("https://gateway.example/cb#frag").is_some());
        assert!(redirect_uri_problem("javascript:alert(1)").is_some());
        assert!(redirect_uri_problem("https://user@evil.example/cb").is_some());
        assert!(redirect_uri_problem("https:///cb").is_some());
        assert!(redirect_uri_problem("https://a.example/c b").is_some());
    }

    #[test]
    fn query_parameters_are_appended_and_escaped() {
        assert_eq!(
            with_query("https://a.example/cb", &[("code", "x y"), ("state", "s&t=1")]),
            "https://a.example/cb?code=x%20y&state=s%26t%3D1"
        );
        assert_eq!(with_query("https://a.example/cb?app=1", &[("code", "c")]), "https://a.example/cb?app=1&code=c");
        assert_eq!(origin("https://a.example:8443/cb?x=1").as_deref(), Some("https://a.example:8443"));
    }
}
