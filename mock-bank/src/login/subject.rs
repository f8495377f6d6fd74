//! Pairwise subject identifiers: the `sub` in every token response of the bank, naming the person to one client
//! (OpenID Connect Core 1.0 §8.1, "pairwise" subject type; the derivation follows the spirit of §8.1's example,
//! a hash over the sector, the local account id and a salt).
//!
//! Derivation (stable across restarts and machines, because it is a pure function of the bank's seed):
//!
//! ```text
//! key = SHA-256("bankgate/mock-bank/pairwise-sub/v1" || seed as 8 bytes big-endian || bank id)
//! sub = first 32 hex characters of HMAC-SHA256(key, field(bank id) || field(client_id) || field(customerId))
//! field(x) = length of x as 8 bytes big-endian || x
//! ```
//!
//! `customerId` is the customer's FDX id (`ledger::ids::customer_id`), so one customer has one `sub` per client
//! however many consents, refreshes or sign-ins they go through, two clients get unrelated values for the same
//! person (they cannot correlate their users), and two customers never share one (128 bits). The value does not
//! show the customer id or index; it hides them from anyone without the bank's seed. In a sandbox whose seed is in
//! the configuration that is pseudonymity, not secrecy: someone with the seed can recompute every customer's `sub`.
//! A real bank would keep a random per-bank key instead; this one must be reproducible from the seed.
//!
//! Pure computation: no I/O, no clock, nothing logged. The key's `Debug` prints `<hidden>`.

use crate::books::CursorKey;
use crate::ledger::{LedgerGenerator, ids};
use sha2::{Digest as _, Sha256};

/// Domain separation of the key derivation (a new version changes every `sub`: never change it silently).
const KEY_LABEL: &[u8] = b"bankgate/mock-bank/pairwise-sub/v1";
/// Hex characters of a `sub` (128 bits).
pub const SUB_LEN: usize = 32;

/// One bank's pairwise-subject key and its id.
#[derive(Clone)]
pub struct PairwiseSubjects {
    /// HMAC-SHA256 (RFC 2104) keyed with the derived key; the bank's one HMAC lives in `books::CursorKey`.
    key: CursorKey,
    bank_id: String,
}

impl std::fmt::Debug for PairwiseSubjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairwiseSubjects").field("bank_id", &self.bank_id).field("key", &"<hidden>").finish()
    }
}

fn field(out: &mut Vec<u8>, value: &str) {
    out.extend_from_slice(&(value.len() as u64).to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

impl PairwiseSubjects {
    /// The key of bank `bank_id` run with `seed`.
    pub fn new(seed: u64, bank_id: &str) -> Self {
        let key: [u8; 32] = Sha256::new()
            .chain_update(KEY_LABEL)
            .chain_update(seed.to_be_bytes())
            .chain_update(bank_id)
            .finalize()
            .into();
        Self { key: CursorKey::new(key), bank_id: bank_id.to_owned() }
    }

    /// The key of the bank whose ledger this is (its seed and profile id).
    pub fn of(ledger: &LedgerGenerator) -> Self {
        Self::new(ledger.seed(), &ledger.profile().id)
    }

    /// The `sub` of customer `customer_index` for client `client_id` (module docs).
    pub fn sub(&self, client_id: &str, customer_index: u32) -> String {
        let mut message = Vec::with_capacity(64);
        field(&mut message, &self.bank_id);
        field(&mut message, client_id);
        field(&mut message, &ids::customer_id(customer_index));
        let mut sub = hex::encode(self.key.mac(&message));
        sub.truncate(SUB_LEN);
        sub
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_bank_client_and_customer_and_pinned_across_releases() {
        let bank = PairwiseSubjects::new(11, "continental");
        let sub = bank.sub("bankgate-gateway", 0);
        assert_eq!(sub.len(), SUB_LEN);
        assert!(sub.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{sub}");
        // Recomputed from scratch (a restart, another machine): the same value.
        assert_eq!(PairwiseSubjects::new(11, "continental").sub("bankgate-gateway", 0), sub);
        // Pinned (computed independently from the module docs' formula with Python's hmac/hashlib): a change here
        // changes every person's identity at every client.
        assert_eq!(sub, "9670c007b0b30d3e4ed7e5b2f26e1fe0");
        // Another client, customer, bank or seed: another value.
        assert_ne!(bank.sub("budget-app", 0), sub);
        assert_ne!(bank.sub("bankgate-gateway", 1), sub);
        assert_ne!(PairwiseSubjects::new(11, "liberty").sub("bankgate-gateway", 0), sub);
        assert_ne!(PairwiseSubjects::new(12, "continental").sub("bankgate-gateway", 0), sub);
        // Field boundaries are unambiguous: moving characters between client id and bank id changes the value.
        assert_ne!(PairwiseSubjects::new(11, "continentalb").sub("ankgate-gateway", 0), sub);
    }

    #[test]
    fn the_sub_does_not_show_the_customer() {
        let bank = PairwiseSubjects::new(7, "harbor");
        for index in [0u32, 5, 1234, 0x00ab_cdef] {
            let sub = bank.sub("bankgate-gateway", index);
            let customer_id = ids::customer_id(index);
            assert!(!sub.contains(&customer_id[3..11]), "{sub} shows {customer_id}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", PairwiseSubjects::new(1, "harbor"));
        assert!(shown.contains("<hidden>") && shown.contains("harbor"), "{shown}");
    }
}
