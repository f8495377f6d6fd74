//! `cargo run --release -p mock-bank --example ledger_stats -- [bank] [customers] [seed]`: generate the first
//! customers of a bank and print what a household holds on average (accounts, transactions, generation time), the
//! figures the ledger benchmark is read against.

use mock_bank::ledger::LedgerGenerator;
use mock_bank::profile::load_profiles;
use std::{sync::Arc, time::Instant};
use time::macros::date;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bank = args.next().unwrap_or_else(|| "continental".into());
    let customers: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(42);
    let profile =
        load_profiles(None)?.into_iter().find(|p| p.id == bank).ok_or_else(|| anyhow::anyhow!("no bank `{bank}`"))?;
    let generator = LedgerGenerator::new(seed, Arc::new(profile), customers, date!(2024 - 11 - 01));
    let (mut accounts, mut transactions) = (0usize, 0usize);
    let started = Instant::now();
    for index in 7..customers {
        let ledger = generator.generate(index, date!(2026 - 11 - 01)).expect("customer exists");
        accounts += ledger.accounts.len();
        transactions += ledger.accounts.iter().map(|a| a.transactions.len()).sum::<usize>();
    }
    let elapsed = started.elapsed();
    let households = (customers - 7) as f64;
    println!(
        "{bank}: {households} households, {:.2} accounts and {:.0} transactions each over 24 months; \
         {:.3} ms per household, {:.3} ms per account",
        accounts as f64 / households,
        transactions as f64 / households,
        elapsed.as_secs_f64() * 1000.0 / households,
        elapsed.as_secs_f64() * 1000.0 / accounts as f64,
    );
    Ok(())
}
