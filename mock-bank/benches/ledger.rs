//! `cargo bench -p mock-bank --bench ledger`: cost of generating customers of a typical bank.
//!
//! "ledger/generate_customer" walks a customer's 24 months of history (all accounts); the budget is well under a
//! millisecond. "ledger/customer_profile_only" is the cheap path (`customer()` + `accounts()`). Both run on mimalloc,
//! the allocator of the `bankgate` binary.

use criterion::{Criterion, criterion_group, criterion_main};
use mock_bank::ledger::LedgerGenerator;
use mock_bank::profile::load_profiles;
use std::hint::black_box;
use std::sync::Arc;
use time::macros::date;

/// The allocator the `bankgate` binary ships with, so the figure is the one a running bank sees.
#[global_allocator]
static ALLOCATOR: heap::Heap = heap::Heap;

fn generator() -> LedgerGenerator {
    let profile = load_profiles(None).expect("shipped profiles").swap_remove(0);
    LedgerGenerator::new(42, Arc::new(profile), 1000, date!(2024 - 11 - 01))
}

fn bench(c: &mut Criterion) {
    let generator = generator();
    let until = date!(2026 - 11 - 01);
    let mut index = 7;
    c.bench_function("ledger/generate_customer", |b| {
        b.iter(|| {
            index = if index >= 40 { 7 } else { index + 1 };
            black_box(generator.generate(black_box(index), until))
        })
    });
    c.bench_function("ledger/customer_profile_only", |b| {
        b.iter(|| {
            index = if index >= 40 { 7 } else { index + 1 };
            black_box((generator.customer(black_box(index)), generator.accounts(black_box(index))))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
