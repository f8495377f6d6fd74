//! Bank profiles: who each simulated bank is, as data. The four shipped banks live in `profiles/banks.toml`
//! (embedded at compile time, overridable with a file of the same shape).
//!
//! A profile decides branding, routing number, product mix, data-sharing policy (purposes and data clusters refused
//! to every client or to recipients/platforms matching a glob, see [`SharingPolicy`]), API quirks and how the bank
//! words its transfer descriptors. It holds no behaviour beyond validation and small lookups.

use crate::login::DataCluster;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped profiles file.
pub const DEFAULT_PROFILES: &str = include_str!("../profiles/banks.toml");

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read bank profiles {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("bank profiles are not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("bank `{bank}`: {problem}")]
    Invalid { bank: String, problem: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    bank: Vec<BankProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankProfile {
    /// Short id used in URLs, file names and account ids (`[a-z]+`).
    pub id: String,
    pub display_name: String,
    /// Nine digits with a valid ABA 3-7-1 checksum.
    pub routing_number: String,
    /// Two-letter state most customers live in.
    pub home_region: String,
    /// Default number of customers (the CLI's `--customers` overrides it).
    pub customers: u32,
    /// Payroll posts this many days before payday (early direct deposit).
    pub early_direct_deposit_days: u8,
    pub branding: Branding,
    pub product_mix: ProductMix,
    pub sharing: SharingPolicy,
    pub quirks: ApiQuirks,
    pub wording: Wording,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    pub primary_color: String,
    pub accent_color: String,
    pub logo_text: String,
    pub tagline: String,
}

/// Share of customers (percent) holding each product besides the checking account everyone has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductMix {
    pub savings: u8,
    pub credit_card: u8,
    pub mortgage: u8,
    pub auto_loan: u8,
    pub cd: u8,
}

/// What the bank refuses to share, whatever the customer consents to.
///
/// Refusals name purposes and data clusters, for every client or for the parties a glob matches. The parties of an
/// authorization request are its `recipient` (the downstream third party an aggregator acts for) or, without one,
/// the calling client's id; plus the `platform` the request names, when it names one. A refusal applies when its
/// glob matches any of them: a bank that will not feed a social platform's advertising refuses the aggregator
/// acting for it too. A refused purpose or cluster refuses the whole request; it is never silently narrowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingPolicy {
    /// Transactions made through another platform than the requesting one are withheld.
    pub refuse_offplatform_transactions: bool,
    /// Purposes refused to every client.
    #[serde(default)]
    pub refused_purposes: Vec<String>,
    /// Data clusters refused to every client.
    #[serde(default)]
    pub refused_clusters: Vec<DataCluster>,
    /// Purposes and clusters refused to particular parties (glob with `*`, see [`SharingPolicy`]).
    #[serde(default)]
    pub refused_clients: Vec<ClientRefusal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRefusal {
    /// Glob (`*` = any run of characters) matched against the request's parties.
    pub client: String,
    #[serde(default)]
    pub purposes: Vec<String>,
    #[serde(default)]
    pub clusters: Vec<DataCluster>,
}

/// Who an authorization request would share data with, as the sharing policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharingParties<'a> {
    /// The `recipient` parameter when present, else the calling client's id.
    pub recipient: &'a str,
    /// Whether `recipient` came from the `recipient` parameter (a third party) rather than the caller's id.
    pub is_third_party: bool,
    pub platform: Option<&'a str>,
}

/// What a policy refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedItem {
    Purpose(String),
    Cluster(DataCluster),
}

/// Whom a refusal was matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedParty {
    /// Refused to every client.
    Everyone,
    /// The recipient (or calling client) `id`, as [`SharingParties::recipient`].
    Recipient { id: String, is_third_party: bool },
    /// Apps acting on the platform `id`.
    Platform(String),
}

/// A data-sharing policy refusal: the bank will not share `item` with `party`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRefusal {
    pub item: RefusedItem,
    pub party: RefusedParty,
}

impl PolicyRefusal {
    /// The refusal in plain words, naming the bank, what it refuses and to whom (printable ASCII without `"` or
    /// `\`, as RFC 6749 §4.1.2.1 requires of `error_description`, as long as the names in it are).
    pub fn describe(&self, bank_name: &str) -> String {
        let what = match &self.item {
            RefusedItem::Purpose(p) => format!("data for {}", p.replace(['_', '-'], " ")),
            RefusedItem::Cluster(c) => cluster_label(*c),
        };
        let whom = match &self.party {
            RefusedParty::Everyone => "any app".to_owned(),
            RefusedParty::Recipient { id, is_third_party: true } => format!("the app {id}"),
            RefusedParty::Recipient { id, is_third_party: false } => format!("the client {id}"),
            RefusedParty::Platform(p) => format!("apps of the platform {p}"),
        };
        format!("{bank_name}'s data-sharing policy does not allow sharing {what} with {whom}")
    }
}

/// A cluster's short plain name, lower case (`your contact information`).
fn cluster_label(cluster: DataCluster) -> String {
    let words = cluster.plain_words();
    let short = words.split(':').next().unwrap_or(words);
    let mut chars = short.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl SharingPolicy {
    /// Whether `purpose` is refused to the single party `party` (a recipient or client id).
    pub fn refuses(&self, party: &str, purpose: &str) -> bool {
        self.refused_purposes.iter().any(|p| p == purpose)
            || self
                .refused_clients
                .iter()
                .any(|r| glob_match(&r.client, party) && r.purposes.iter().any(|p| p == purpose))
    }

    /// The first refusal among `purposes` then `clusters` for `parties` (rules in [`SharingPolicy`]), if any.
    pub fn refusal(
        &self,
        parties: SharingParties<'_>,
        purposes: &[String],
        clusters: &[DataCluster],
    ) -> Option<PolicyRefusal> {
        let items = purposes
            .iter()
            .map(|p| RefusedItem::Purpose(p.clone()))
            .chain(clusters.iter().map(|c| RefusedItem::Cluster(*c)));
        for item in items {
            let everyone = match &item {
                RefusedItem::Purpose(p) => self.refused_purposes.contains(p),
                RefusedItem::Cluster(c) => self.refused_clusters.contains(c),
            };
            if everyone {
                return Some(PolicyRefusal { item, party: RefusedParty::Everyone });
            }
            for rule in &self.refused_clients {
                let listed = match &item {
                    RefusedItem::Purpose(p) => rule.purposes.contains(p),
                    RefusedItem::Cluster(c) => rule.clusters.contains(c),
                };
                if !listed {
                    continue;
                }
                let party = if glob_match(&rule.client, parties.recipient) {
                    RefusedParty::Recipient { id: parties.recipient.to_owned(), is_third_party: parties.is_third_party }
                } else if let Some(platform) = parties.platform.filter(|p| glob_match(&rule.client, p)) {
                    RefusedParty::Platform(platform.to_owned())
                } else {
                    continue;
                };
                return Some(PolicyRefusal { item, party });
            }
        }
        None
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut remaining) = text.strip_prefix(head) else { return false };
            if rest.is_empty() {
                return true;
            }
            loop {
                if glob_match(rest, remaining) {
                    return true;
                }
                let mut chars = remaining.chars();
                if chars.next().is_none() {
                    return false;
                }
                remaining = chars.as_str();
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiQuirks {
    /// Largest `limit` the transactions endpoint accepts.
    pub max_page_size: u32,
    /// Page size when the caller gives no `limit`.
    pub default_page_size: u32,
    /// Artificial latency of every API call.
    pub latency_ms: LatencyProfile,
    /// A weekly maintenance window in simulated time (UTC), during which the API answers 503.
    pub maintenance: MaintenanceWindow,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProfile {
    pub median: u32,
    pub p99: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub weekday: WeekdayName,
    pub start_hour: u8,
    pub hours: u8,
}

impl MaintenanceWindow {
    /// Whether the simulated instant falls inside the window.
    pub fn contains(&self, at: time::OffsetDateTime) -> bool {
        let at = at.to_offset(time::UtcOffset::UTC);
        let days_after = (at.weekday().number_days_from_monday() as i64
            - self.weekday.to_time().number_days_from_monday() as i64)
            .rem_euclid(7);
        let hour_in_week = days_after * 24 + at.hour() as i64;
        hour_in_week >= self.start_hour as i64 && hour_in_week < self.start_hour as i64 + self.hours as i64
    }

    /// The start of the latest window that starts at or before `at` (UTC).
    pub fn latest_start_at_or_before(&self, at: time::OffsetDateTime) -> time::OffsetDateTime {
        let at = at.to_offset(time::UtcOffset::UTC);
        let days_back = (i64::from(at.weekday().number_days_from_monday())
            - i64::from(self.weekday.to_time().number_days_from_monday()))
        .rem_euclid(7);
        // `start_hour` is at most 23 (checked when the profile loads); midnight would only shift a malformed window.
        let start_time = time::Time::from_hms(self.start_hour, 0, 0).unwrap_or(time::Time::MIDNIGHT);
        let start = (at - time::Duration::days(days_back)).replace_time(start_time);
        if start > at { start - time::Duration::weeks(1) } else { start }
    }

    /// How long each window lasts.
    pub fn length(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.hours))
    }

    /// The end of the window `at` falls inside; `None` when it falls in none (the API's `Retry-After`, a frozen
    /// sandbox's start).
    pub fn end_of_window_holding(&self, at: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        self.contains(at).then(|| self.latest_start_at_or_before(at) + self.length())
    }
}

/// A weekday as written in profile files (`"sunday"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeekdayName {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl WeekdayName {
    pub fn to_time(self) -> time::Weekday {
        use time::Weekday as W;
        match self {
            Self::Monday => W::Monday,
            Self::Tuesday => W::Tuesday,
            Self::Wednesday => W::Wednesday,
            Self::Thursday => W::Thursday,
            Self::Friday => W::Friday,
            Self::Saturday => W::Saturday,
            Self::Sunday => W::Sunday,
        }
    }
}

/// How the bank words descriptors. Placeholders: `{name}`, `{ref}`, `{date}` (MM/DD), `{city}`, `{region}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wording {
    pub zelle_out: String,
    pub zelle_in: String,
    pub venmo_out: String,
    pub venmo_in: String,
    pub card_payment: String,
    pub atm: String,
    pub interest: String,
    pub monthly_fee: String,
    pub overdraft_fee: String,
    pub overdraft_fee_cents: i64,
    pub monthly_fee_cents: i64,
}

/// ABA routing number checksum: 3·d1 + 7·d2 + d3 + 3·d4 + 7·d5 + d6 + 3·d7 + 7·d8 + d9 ≡ 0 (mod 10).
pub fn aba_checksum_valid(routing: &str) -> bool {
    let digits: Vec<u32> = routing.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 9 || routing.len() != 9 {
        return false;
    }
    let weights = [3, 7, 1, 3, 7, 1, 3, 7, 1];
    digits.iter().zip(weights).map(|(d, w)| d * w).sum::<u32>() % 10 == 0
}

/// Load profiles from TOML text and validate them.
pub fn parse_profiles(text: &str) -> Result<Vec<BankProfile>, ProfileError> {
    let file: ProfilesFile = toml::from_str(text)?;
    for bank in &file.bank {
        validate(bank)?;
    }
    let mut ids: Vec<&str> = file.bank.iter().map(|b| b.id.as_str()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(ProfileError::Invalid { bank: "(file)".into(), problem: "two banks share an id".into() });
    }
    Ok(file.bank)
}

/// The shipped profiles, or those of `path` when given.
pub fn load_profiles(path: Option<&Path>) -> Result<Vec<BankProfile>, ProfileError> {
    match path {
        None => parse_profiles(DEFAULT_PROFILES),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ProfileError::Read { path: path.display().to_string(), source })?;
            parse_profiles(&text)
        }
    }
}

fn validate(bank: &BankProfile) -> Result<(), ProfileError> {
    let invalid = |problem: String| ProfileError::Invalid { bank: bank.id.clone(), problem };
    if bank.id.is_empty() || !bank.id.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(invalid("id must be lowercase ASCII letters".into()));
    }
    if !aba_checksum_valid(&bank.routing_number) {
        return Err(invalid(format!("routing number {} fails the ABA checksum", bank.routing_number)));
    }
    let q = &bank.quirks;
    if q.default_page_size == 0 || q.default_page_size > q.max_page_size {
        return Err(invalid("default_page_size must be between 1 and max_page_size".into()));
    }
    if q.latency_ms.median > q.latency_ms.p99 {
        return Err(invalid("latency median above p99".into()));
    }
    if q.maintenance.start_hour > 23 || q.maintenance.hours == 0 || q.maintenance.hours > 24 {
        return Err(invalid("maintenance window must start at 0-23 h and last 1-24 h".into()));
    }
    let mix = &bank.product_mix;
    if [mix.savings, mix.credit_card, mix.mortgage, mix.auto_loan, mix.cd].iter().any(|p| *p > 100) {
        return Err(invalid("product mix shares are percentages".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_are_four_valid_banks() {
        let banks = parse_profiles(DEFAULT_PROFILES).unwrap();
        assert_eq!(banks.len(), 4);
        assert!(banks.iter().all(|b| aba_checksum_valid(&b.routing_number)));
        assert!(banks.iter().any(|b| b.sharing.refuse_offplatform_transactions));
        assert!(banks.iter().any(|b| !b.sharing.refused_clients.is_empty()));
        assert!(banks.iter().any(|b| b.sharing.refused_clients.iter().any(|r| !r.clusters.is_empty())));
    }

    #[test]
    fn aba_checksum() {
        assert!(aba_checksum_valid("011903743"));
        assert!(!aba_checksum_valid("011903744"));
        assert!(!aba_checksum_valid("01190374"));
        assert!(!aba_checksum_valid("01190374a"));
    }

    fn harbor() -> BankProfile {
        parse_profiles(DEFAULT_PROFILES).unwrap().into_iter().find(|b| b.id == "harbor").unwrap()
    }

    fn parties<'a>(recipient: &'a str, platform: Option<&'a str>) -> SharingParties<'a> {
        SharingParties { recipient, is_third_party: true, platform }
    }

    #[test]
    fn purpose_refusals_match_client_globs() {
        let harbor = harbor();
        assert!(harbor.sharing.refuses("acme-social-app", "targeted_advertising"));
        assert!(!harbor.sharing.refuses("budget-app", "targeted_advertising"));
        assert!(!harbor.sharing.refuses("acme-social-app", "personal_finance"));
    }

    #[test]
    fn refusals_match_the_recipient_or_the_platform_and_name_bank_item_and_party() {
        let policy = harbor().sharing;
        let ads = ["personal_finance".to_owned(), "targeted_advertising".to_owned()];
        let refusal = policy.refusal(parties("acme-social-app", None), &ads, &[]).expect("refused");
        assert_eq!(refusal.item, RefusedItem::Purpose("targeted_advertising".into()));
        assert_eq!(
            refusal.describe("Harbor Trust"),
            "Harbor Trust's data-sharing policy does not allow sharing data for targeted advertising with the app \
             acme-social-app"
        );
        // A recipient that does not match, on a platform that does: refused to the platform.
        let on_platform = policy.refusal(parties("Xy7_budget", Some("chirp-social")), &ads, &[]).expect("refused");
        assert_eq!(on_platform.party, RefusedParty::Platform("chirp-social".into()));
        assert!(on_platform.describe("Harbor Trust").ends_with("with apps of the platform chirp-social"));
        assert_eq!(policy.refusal(parties("budget-app", Some("chatapp")), &ads, &[]), None);
        let caller = SharingParties { recipient: "gateway-client", is_third_party: false, platform: None };
        assert_eq!(policy.refusal(caller, &ads, &[]), None, "the aggregator itself is no social app");
    }

    #[test]
    fn cluster_refusals_apply_to_matching_parties_and_to_everyone() {
        let policy = harbor().sharing;
        let contact = [DataCluster::AccountBasic, DataCluster::CustomerContact];
        let refusal = policy.refusal(parties("acme-social-app", None), &[], &contact).expect("refused");
        assert_eq!(refusal.item, RefusedItem::Cluster(DataCluster::CustomerContact));
        assert!(refusal.describe("Harbor Trust").contains("sharing your contact information with the app"));
        assert_eq!(policy.refusal(parties("budget-app", None), &[], &contact), None);
        assert_eq!(policy.refusal(parties("acme-social-app", None), &[], &[DataCluster::Transactions]), None);
        let strict = SharingPolicy { refused_clusters: vec![DataCluster::Statements], ..policy };
        let everyone = strict.refusal(parties("budget-app", None), &[], &[DataCluster::Statements]).expect("refused");
        assert_eq!(everyone.party, RefusedParty::Everyone);
        assert!(everyone.describe("Harbor Trust").ends_with("sharing your monthly account statements with any app"));
    }

    #[test]
    fn refusal_lists_default_to_empty() {
        let policy: SharingPolicy = toml::from_str(
            "refuse_offplatform_transactions = false\nrefused_clients = [{ client = \"x*\", purposes = [\"a\"] }]",
        )
        .unwrap();
        assert!(policy.refused_clusters.is_empty() && policy.refused_clients[0].clusters.is_empty());
    }

    #[test]
    fn maintenance_window_wraps_the_week() {
        let w = MaintenanceWindow { weekday: WeekdayName::Saturday, start_hour: 23, hours: 3 };
        let sat_23 = time::macros::datetime!(2026-11-28 23:30 UTC);
        let sun_01 = time::macros::datetime!(2026-11-29 01:59 UTC);
        let sun_02 = time::macros::datetime!(2026-11-29 02:00 UTC);
        assert!(w.contains(sat_23) && w.contains(sun_01));
        assert!(!w.contains(sun_02));
    }

    #[test]
    fn the_latest_window_start_is_found_from_any_instant() {
        use time::macros::datetime;
        let w = MaintenanceWindow { weekday: WeekdayName::Saturday, start_hour: 23, hours: 3 };
        let start = datetime!(2026-11-28 23:00 UTC);
        assert_eq!(w.latest_start_at_or_before(start), start);
        assert_eq!(w.latest_start_at_or_before(datetime!(2026-11-29 01:00 UTC)), start);
        assert_eq!(w.latest_start_at_or_before(datetime!(2026-12-05 22:59 UTC)), start);
        assert_eq!(w.latest_start_at_or_before(datetime!(2026-11-28 22:59 UTC)), datetime!(2026-11-21 23:00 UTC));
        for hours in 0..(24 * 14) {
            let at = datetime!(2026-11-20 00:30 UTC) + time::Duration::hours(hours);
            let found = w.latest_start_at_or_before(at);
            assert!(found <= at && at - found < time::Duration::weeks(1), "{at} -> {found}");
            assert!(w.contains(found) && !w.contains(found - time::Duration::minutes(1)), "{found} starts a window");
        }
        assert_eq!(w.length(), time::Duration::hours(3));
    }

    #[test]
    fn the_end_of_the_window_holding_an_instant() {
        use time::macros::datetime;
        let w = MaintenanceWindow { weekday: WeekdayName::Saturday, start_hour: 23, hours: 3 };
        let end = datetime!(2026-11-29 02:00 UTC);
        assert_eq!(w.end_of_window_holding(datetime!(2026-11-28 23:00 UTC)), Some(end));
        assert_eq!(w.end_of_window_holding(datetime!(2026-11-29 01:59:59 UTC)), Some(end));
        assert_eq!(w.end_of_window_holding(end), None, "the end is outside");
        assert_eq!(w.end_of_window_holding(datetime!(2026-11-28 22:59:59 UTC)), None);
    }
}
