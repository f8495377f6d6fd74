//! Test users and login names: which customer a username on the bank's login page means.
//!
//! The first customers of every bank are the sandbox's test users (README lists them); every other customer `N`
//! logs in as `customerN`. All passwords are `pass_good`; the MFA user's one-time code is `123456`.
//! Two families of aliases choose an error: `login_error_<oauth error code>` fails the login with that OAuth error
//! (e.g. `login_error_temporarily_unavailable`), and `data_error_<http status>_<fdx code>` logs in but makes every
//! data call fail with that status and FDX code (e.g. `data_error_503_503`, `data_error_429_1207`).

use super::model::Persona;

/// The password of every sandbox user.
pub const PASSWORD: &str = "pass_good";
/// The one-time code the MFA user must enter.
pub const MFA_CODE: &str = "123456";

/// Test users, in customer-index order: customer `i` of every bank is `TEST_USERS[i]`.
pub const TEST_USERS: [(&str, Persona); 7] = [
    ("user_good", Persona::Good),
    ("user_mfa", Persona::Mfa),
    ("user_locked", Persona::Locked),
    ("user_login_error", Persona::LoginError),
    ("user_data_error", Persona::DataError),
    ("user_many_accounts", Persona::ManyAccounts),
    ("user_thin", Persona::ThinHistory),
];

/// The smallest customer count a bank accepts: every test user must exist.
pub const MIN_CUSTOMERS: u32 = TEST_USERS.len() as u32;

/// An error a test user asked for through its login name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChosenError {
    /// The login fails and the bank redirects with this OAuth `error` code.
    Login { oauth_error: String },
    /// Every data call answers with this HTTP status and FDX error code.
    Data { status: u16, fdx_code: u16 },
}

/// Who a login name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLookup {
    pub customer_index: u32,
    pub persona: Persona,
    pub chosen_error: Option<ChosenError>,
}

/// The persona of customer `index`.
pub fn persona_of(index: u32) -> Persona {
    TEST_USERS.get(index as usize).map_or(Persona::Regular, |(_, persona)| *persona)
}

/// The login name of customer `index`.
pub fn username_of(index: u32) -> String {
    match TEST_USERS.get(index as usize) {
        Some((name, _)) => (*name).to_owned(),
        None => format!("customer{index}"),
    }
}

/// Resolve a login name in a bank of `customers` customers. Names are case-sensitive, as bank logins are.
pub fn lookup(username: &str, customers: u32) -> Option<UserLookup> {
    let found = |index: u32, chosen_error| {
        (index < customers).then(|| UserLookup { customer_index: index, persona: persona_of(index), chosen_error })
    };
    if let Some(index) = TEST_USERS.iter().position(|(name, _)| *name == username) {
        let chosen_error = match TEST_USERS[index].1 {
            Persona::LoginError => Some(ChosenError::Login { oauth_error: "server_error".into() }),
            Persona::DataError => Some(ChosenError::Data { status: 500, fdx_code: 500 }),
            _ => None,
        };
        return found(index as u32, chosen_error);
    }
    if let Some(code) = username.strip_prefix("login_error_") {
        let valid = !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let index = TEST_USERS.iter().position(|(_, p)| *p == Persona::LoginError)? as u32;
        return valid.then(|| found(index, Some(ChosenError::Login { oauth_error: code.into() }))).flatten();
    }
    if let Some(rest) = username.strip_prefix("data_error_") {
        let (status, code) = rest.split_once('_')?;
        let status: u16 = status.parse().ok().filter(|s| (400..=599).contains(s))?;
        let fdx_code: u16 = code.parse().ok()?;
        let index = TEST_USERS.iter().position(|(_, p)| *p == Persona::DataError)? as u32;
        return found(index, Some(ChosenError::Data { status, fdx_code }));
    }
    let digits = username.strip_prefix("customer")?;
    if digits.is_empty() || digits.starts_with('0') && digits.len() > 1 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u32 = digits.parse().ok()?;
    (index >= MIN_CUSTOMERS).then(|| found(index, None)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_users_and_customers_resolve() {
        assert_eq!(lookup("user_good", 10).unwrap().customer_index, 0);
        assert_eq!(lookup("user_mfa", 10).unwrap().persona, Persona::Mfa);
        assert_eq!(lookup("customer9", 10).unwrap().persona, Persona::Regular);
        assert!(lookup("customer10", 10).is_none());
        assert!(lookup("customer3", 10).is_none(), "test users are reached by their own names only");
        assert!(lookup("customer09", 100).is_none());
        assert!(lookup("nobody", 10).is_none());
        assert_eq!(username_of(0), "user_good");
        assert_eq!(username_of(42), "customer42");
    }

    #[test]
    fn error_aliases_carry_the_chosen_error() {
        let login = lookup("login_error_temporarily_unavailable", 10).unwrap();
        assert_eq!(login.chosen_error, Some(ChosenError::Login { oauth_error: "temporarily_unavailable".into() }));
        let data = lookup("data_error_429_1207", 10).unwrap();
        assert_eq!(data.chosen_error, Some(ChosenError::Data { status: 429, fdx_code: 1207 }));
        assert!(lookup("data_error_200_1", 10).is_none());
        assert!(lookup("login_error_<script>", 10).is_none());
    }
}
