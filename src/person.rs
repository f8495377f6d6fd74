//! A person at the gateway's consent pages and a bank's login pages, driven over HTTPS the way a browser without
//! JavaScript would: choose a bank, log in (and give the one-time code), tick accounts, press Share, approve at the
//! gateway, and read the code from the redirect back to the client. End-to-end tests, benchmarks and (later)
//! scenarios use it.
//!
//! It scrapes only what the pages promise to carry: hidden `csrf` fields, `bank` radios, `account_id` checkboxes,
//! `action` buttons, session cookies (kept per name, sent to every port of the host, as browsers do). It never reads
//! the internals of a bank or the gateway. Each walk records its HTTP exchanges ([`Person::steps`]: method, path,
//! status, time to the response headers) so tests can check which pages were shown and load drivers can say where a
//! flow's time goes; the record holds no query strings, cookies or form values (no codes or CSRF tokens).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{StatusCode, header};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// PKCE pair (RFC 7636 §4.1-4.2, S256).
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self::from_verifier(crate::sandbox::random_token()?))
    }
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

/// What the person does on the pages.
#[derive(Debug, Clone)]
pub struct LoginPlan<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// One-time code, when the bank asks for one.
    pub mfa_code: Option<&'a str>,
    /// Accounts to share; `None` keeps the bank's default selection (all).
    pub accounts: Option<Vec<String>>,
    /// At the gateway: the bank to choose.
    pub bank: Option<&'a str>,
    /// At the gateway: allow secondary uses on their separate screen (otherwise decline).
    pub opt_in: bool,
    /// At the gateway's final confirmation: approve (otherwise deny).
    pub approve: bool,
}

impl<'a> LoginPlan<'a> {
    /// Log in as `username` with the sandbox password, share every account, approve.
    pub fn user(username: &'a str) -> Self {
        Self {
            username,
            password: "pass_good",
            mfa_code: Some("123456"),
            accounts: None,
            bank: None,
            opt_in: false,
            approve: true,
        }
    }
}

/// Where the login ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Redirected back to the client with these query parameters (`code`, `state`, `iss`, or `error`).
    Redirected { location: String, params: Vec<(String, String)> },
    /// Stopped on a page (locked account, wrong password...): its status and HTML.
    Page { status: u16, html: String },
}

impl LoginOutcome {
    pub fn param(&self, name: &str) -> Option<&str> {
        match self {
            Self::Redirected { params, .. } => params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()),
            Self::Page { .. } => None,
        }
    }
}

/// One HTTP exchange of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub method: &'static str,
    /// `scheme://host:port` of the page.
    pub origin: String,
    /// The path alone: never the query (it may carry a code or a state).
    pub path: String,
    pub status: u16,
    /// From sending the request to the response's headers (the server's work plus one round trip).
    pub elapsed: Duration,
}

/// A browser: trusts only the sandbox CA, follows no redirects (the person decides where to go next), 30 s timeout.
/// Several [`Person`]s may share one, as tabs share a browser's connections; cookies stay with each person.
pub fn browser(ca_pem: &str) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    Ok(reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// A browser-like HTTPS client: trusts the sandbox CA, follows no redirects, keeps one session cookie.
#[derive(Debug)]
pub struct Person {
    http: reqwest::Client,
    /// Cookie name -> `name=value`.
    cookies: Vec<(String, String)>,
    /// The exchanges of the last walk.
    steps: Vec<Step>,
}

impl Person {
    pub fn new(ca_pem: &str) -> anyhow::Result<Self> {
        Ok(Self::with_browser(browser(ca_pem)?))
    }

    /// A person with no cookies yet, using `http` (see [`browser`]).
    pub fn with_browser(http: reqwest::Client) -> Self {
        Self { http, cookies: Vec::new(), steps: Vec::new() }
    }

    /// The HTTP exchanges of the last [`Person::walk`] or [`Person::log_in`], in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Open a bank's `authorize_url` and go through its pages following `plan`.
    pub async fn log_in(&mut self, authorize_url: &str, plan: &LoginPlan<'_>) -> anyhow::Result<LoginOutcome> {
        let origin = origin_of(authorize_url)?;
        self.walk(authorize_url, plan, &[origin]).await
    }

    /// Open `url` and go through the pages following `plan`, following redirects among `origins` (the gateway and
    /// the banks); a redirect anywhere else (the client's redirect URI) ends the walk.
    pub async fn walk(&mut self, url: &str, plan: &LoginPlan<'_>, origins: &[String]) -> anyhow::Result<LoginOutcome> {
        self.steps.clear();
        let mut origin = origin_of(url)?;
        let mut response = self.get(url).await?;
        // Walk: every step either redirects (within the known origins or back to the client) or shows a form.
        for _ in 0..16 {
            if response.status().is_redirection() {
                let location = location(&response)?;
                let absolute = if location.starts_with('/') { format!("{origin}{location}") } else { location };
                let next_origin = origin_of(&absolute)?;
                if !origins.contains(&next_origin) {
                    let params = query_pairs(&absolute);
                    return Ok(LoginOutcome::Redirected { location: absolute, params });
                }
                origin = next_origin;
                response = self.get(&absolute).await?;
                continue;
            }
            let status = response.status();
            let html = response.text().await?;
            if status != StatusCode::OK {
                return Ok(LoginOutcome::Page { status: status.as_u16(), html });
            }
            // A page without a form, or a form that came back with an alert (wrong password, wrong one-time code, no
            // account chosen), ends the walk: resubmitting the same answers would only repeat the refusal.
            let Some(csrf) = hidden_field(&html, "csrf").filter(|_| !html.contains("role=\"alert\"")) else {
                return Ok(LoginOutcome::Page { status: status.as_u16(), html });
            };
            let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
            let form: Vec<(String, String)> = if html.contains("name=\"bank\"") {
                let bank = plan.bank.ok_or_else(|| anyhow::anyhow!("the gateway asked to choose a bank"))?;
                vec![pair("csrf", &csrf), pair("bank", bank), pair("action", "continue")]
            } else if html.contains("value=\"opt_in\"") {
                vec![pair("csrf", &csrf), pair("action", if plan.opt_in { "opt_in" } else { "decline" })]
            } else if html.contains("value=\"approve\"") {
                vec![pair("csrf", &csrf), pair("action", if plan.approve { "approve" } else { "deny" })]
            } else if html.contains("name=\"password\"") {
                let pairs = [("csrf", csrf.as_str()), ("username", plan.username), ("password", plan.password)];
                pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
            } else if html.contains("name=\"code\"") {
                let code = plan.mfa_code.ok_or_else(|| anyhow::anyhow!("the bank asked for a one-time code"))?;
                vec![("csrf".into(), csrf), ("code".into(), code.into())]
            } else if html.contains("name=\"account_id\"") {
                let mut form = vec![("csrf".to_string(), csrf), ("action".to_string(), "share".to_string())];
                let chosen = plan.accounts.clone().unwrap_or_else(|| checkbox_values(&html, "account_id"));
                form.extend(chosen.into_iter().map(|id| ("account_id".to_string(), id)));
                form
            } else {
                return Ok(LoginOutcome::Page { status: status.as_u16(), html });
            };
            let action = form_action(&html).ok_or_else(|| anyhow::anyhow!("a form without an action"))?;
            let url = if action.starts_with('/') { format!("{origin}{action}") } else { action };
            response = self.post_form(&url, &form).await?;
        }
        anyhow::bail!("the pages did not finish within 16 steps")
    }

    /// Post `form` to `url` as this person (their cookies), following no redirect: the status, the `Location`
    /// header and the body. For pages `walk` does not drive (the dashboard's revoke buttons).
    pub async fn submit(
        &mut self,
        url: &str,
        form: &[(String, String)],
    ) -> anyhow::Result<(u16, Option<String>, String)> {
        let response = self.post_form(url, form).await?;
        let status = response.status().as_u16();
        let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((status, location, response.text().await?))
    }

    async fn get(&mut self, url: &str) -> anyhow::Result<reqwest::Response> {
        let request = self.with_cookies(self.http.get(url));
        self.send("GET", url, request).await
    }

    async fn post_form(&mut self, url: &str, form: &[(String, String)]) -> anyhow::Result<reqwest::Response> {
        let request = self.with_cookies(self.http.post(url).form(form));
        self.send("POST", url, request).await
    }

    async fn send(
        &mut self,
        method: &'static str,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let started = Instant::now();
        let response = request.send().await?;
        let elapsed = started.elapsed();
        let parsed = reqwest::Url::parse(url)?;
        self.steps.push(Step {
            method,
            origin: parsed.origin().ascii_serialization(),
            path: parsed.path().to_owned(),
            status: response.status().as_u16(),
            elapsed,
        });
        self.keep_cookies(&response);
        Ok(response)
    }

    fn with_cookies(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.cookies.is_empty() {
            return request;
        }
        let header_value = self.cookies.iter().map(|(_, pair)| pair.as_str()).collect::<Vec<_>>().join("; ");
        request.header(header::COOKIE, header_value)
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default().trim();
            let Some((name, _)) = pair.split_once('=') else { continue };
            self.cookies.retain(|(existing, _)| existing != name);
            self.cookies.push((name.to_owned(), pair.to_owned()));
        }
    }
}

fn origin_of(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)?;
    Ok(parsed.origin().ascii_serialization())
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    let value = response.headers().get(header::LOCATION).ok_or_else(|| anyhow::anyhow!("redirect without Location"))?;
    Ok(value.to_str()?.to_owned())
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url).map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default()
}

/// The value of `<input type="hidden" name="NAME" value="...">`.
fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html_unescape(&html[start..end]))
}

/// Values of the checked checkboxes named NAME.
fn checkbox_values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let start = at + marker.len();
            let end = html[start..].find('"')? + start;
            let rest = &html[end..html[end..].find('>').map_or(html.len(), |i| end + i)];
            rest.contains("checked").then(|| html_unescape(&html[start..end]))
        })
        .collect()
}

fn form_action(html: &str) -> Option<String> {
    let start = html.find("action=\"")? + "action=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html_unescape(&html[start..end]))
}

fn html_unescape(text: &str) -> String {
    text.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_the_readme_tour_pair() {
        // RFC 7636 §4.2: BASE64URL(SHA256(verifier)); the pair README's tour uses.
        let pkce = Pkce::from_verifier("bankgate-tour-verifier-0123456789-abcdefghijklmnop".into());
        assert_eq!(pkce.challenge, "n2AhrgJKrrsrYUPhRQuTljbMj6l7NnLey1yKqKzX6uU");
    }

    #[test]
    fn scrapes_forms() {
        let html = r#"<form method="post" action="/login/consent"><input type="hidden" name="csrf" value="a&amp;b">
            <input type="checkbox" name="account_id" value="A1" checked><input type="checkbox" name="account_id" value="A2"></form>"#;
        assert_eq!(hidden_field(html, "csrf").as_deref(), Some("a&b"));
        assert_eq!(checkbox_values(html, "account_id"), ["A1"]);
        assert_eq!(form_action(html).as_deref(), Some("/login/consent"));
    }
}
