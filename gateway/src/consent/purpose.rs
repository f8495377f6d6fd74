//! Why a third-party app wants the data: the documented list of purposes a consent can name.
//!
//! CFPB 1033 principle (DESIGN.md "Standards"): no secondary use (targeted advertising, cross-selling, sale of
//! data) without a separate, explicit opt-in. This module only classifies purposes; it must never grant a secondary
//! use on its own (the consent lifecycle demands the person's separate opt-in).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A stated purpose of data use. Wire form: lowercase snake case (`personal_finance_management`), the same strings
/// the mock banks' data-sharing policies name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Budgeting and spending insights shown to the person.
    PersonalFinanceManagement,
    /// Showing the person their balances inside the app.
    BalanceDisplay,
    /// Alerting the person to suspected fraud on their accounts.
    FraudAlerts,
    /// Confirming the person owns an account (e.g. before a transfer).
    AccountVerification,
    /// Assessing creditworthiness for a loan the person applied for.
    CreditUnderwriting,
    /// Preparing the person's tax return.
    TaxPreparation,
    /// Secondary use: choosing advertisements for the person.
    TargetedAdvertising,
    /// Secondary use: offering the person other products.
    CrossSelling,
    /// Secondary use: selling the data to third parties.
    SaleOfData,
}

/// A string that names no documented purpose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown purpose {0:?}")]
pub struct UnknownPurpose(pub String);

impl Purpose {
    /// Every documented purpose.
    pub const ALL: [Purpose; 9] = [
        Self::PersonalFinanceManagement,
        Self::BalanceDisplay,
        Self::FraudAlerts,
        Self::AccountVerification,
        Self::CreditUnderwriting,
        Self::TaxPreparation,
        Self::TargetedAdvertising,
        Self::CrossSelling,
        Self::SaleOfData,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PersonalFinanceManagement => "personal_finance_management",
            Self::BalanceDisplay => "balance_display",
            Self::FraudAlerts => "fraud_alerts",
            Self::AccountVerification => "account_verification",
            Self::CreditUnderwriting => "credit_underwriting",
            Self::TaxPreparation => "tax_preparation",
            Self::TargetedAdvertising => "targeted_advertising",
            Self::CrossSelling => "cross_selling",
            Self::SaleOfData => "sale_of_data",
        }
    }

    /// True for the secondary uses CFPB 1033 singles out (targeted advertising, cross-selling, sale of data): they
    /// need a separate, explicit opt-in by the person.
    pub fn is_secondary_use(self) -> bool {
        matches!(self, Self::TargetedAdvertising | Self::CrossSelling | Self::SaleOfData)
    }

    /// Plain words for a consent page ("… to …").
    pub fn description(self) -> &'static str {
        match self {
            Self::PersonalFinanceManagement => "show you budgeting and spending insights",
            Self::BalanceDisplay => "show you your balances",
            Self::FraudAlerts => "alert you to suspected fraud",
            Self::AccountVerification => "confirm that you own the account",
            Self::CreditUnderwriting => "decide on a loan you applied for",
            Self::TaxPreparation => "prepare your tax return",
            Self::TargetedAdvertising => "choose advertisements to show you",
            Self::CrossSelling => "offer you other products",
            Self::SaleOfData => "sell your data to other companies",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = UnknownPurpose;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownPurpose(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_three_cfpb_secondary_uses_need_a_separate_opt_in() {
        let secondary: Vec<_> = Purpose::ALL.into_iter().filter(|p| p.is_secondary_use()).collect();
        assert_eq!(secondary, [Purpose::TargetedAdvertising, Purpose::CrossSelling, Purpose::SaleOfData]);
        assert!(!Purpose::FraudAlerts.is_secondary_use());
    }

    #[test]
    fn wire_names_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::Value::String(p.as_str().into()));
        }
        assert!("advertising".parse::<Purpose>().is_err());
    }
}
