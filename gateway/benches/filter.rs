//! `cargo bench -p gateway --bench filter`: the resource API's field filter ([`gateway::fdx::filter`]) on a bank's
//! page of 25 transactions and on an accounts list, against the baseline every tree-based proxy pays for the same
//! bytes: parse into a `serde_json::Value` and serialize it again (measured in the same run; report the ratio).
//! Runs on mimalloc, the allocator of the `bankgate` binary.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway::consent::DataCluster;
use gateway::fdx::filter::{Allowed, filter};
use gateway::fdx::table::Endpoint;
use serde_json::{Value, json};
use std::hint::black_box;
use time::macros::date;

#[global_allocator]
static ALLOCATOR: heap::Heap = heap::Heap;

/// A page as the mock bank writes it (its field order and shapes), 25 card and ACH transactions.
fn transactions_page() -> Vec<u8> {
    let items: Vec<Value> = (0..25)
        .map(|i| {
            json!({
                "accountCategory": "DEPOSIT_ACCOUNT",
                "accountId": "acc-continental-0000042-chk",
                "transactionId": format!("tx-continental-0000042-chk-{i:06}"),
                "postedTimestamp": format!("2026-02-{:02}T18:04:11Z", 1 + i % 27),
                "transactionTimestamp": format!("2026-02-{:02}T16:31:52Z", 1 + i % 27),
                "description": if i % 3 == 0 { "PAYROLL ACME CORP PPD ID: 1234567890" } else { "SQ *BLUE BOTTLE COFFEE SAN FRANCISCO CA" },
                "debitCreditMemo": if i % 3 == 0 { "CREDIT" } else { "DEBIT" },
                "category": "5814",
                "subCategory": "MCC",
                "status": "POSTED",
                "amount": 4.75 + f64::from(i),
                "transactionType": "POSDEBIT",
                "fiAttributes": [{"name": "categoryName", "value": "Food and Drink"}, {"name": "channel", "value": "CARD_PRESENT"}],
                "merchantInternalId": "unlisted: never passed on"
            })
        })
        .collect();
    json!({
        "page": {"nextOffset": "eyJhIjoxfQ", "totalElements": 1432},
        "links": {"next": {"href": "/fdx/v6/accounts/acc-continental-0000042-chk/transactions?offset=eyJhIjoxfQ&limit=25"}},
        "transactions": items
    })
    .to_string()
    .into_bytes()
}

fn accounts_list() -> Vec<u8> {
    let items: Vec<Value> = (0..4)
        .map(|i| {
            json!({
                "accountCategory": "DEPOSIT_ACCOUNT", "accountId": format!("acc-{i}"), "accountType": "CHECKING",
                "accountNumberDisplay": "...4821", "productName": "Everyday Checking", "nickname": "Bills",
                "status": "OPEN", "accountOpenDate": "2019-05-14", "currency": {"currencyCode": "USD"},
                "balanceType": "ASSET", "currentBalance": 2431.17, "availableBalance": 2399.02,
                "balanceAsOf": "2026-03-04T15:00:00Z", "routingTransitNumber": "021000021", "interestRate": 0.01
            })
        })
        .collect();
    json!({"page": {"totalElements": 4}, "links": {}, "accounts": items}).to_string().into_bytes()
}

fn bench(c: &mut Criterion) {
    let accounts: Vec<String> =
        (0..4).map(|i| format!("acc-{i}")).chain(["acc-continental-0000042-chk".into()]).collect();
    let granted = [DataCluster::AccountBasic, DataCluster::AccountDetailed, DataCluster::Transactions];
    let base = "https://127.0.0.1:9443";
    let earliest = date!(2025 - 03 - 04);
    let page = transactions_page();
    let list = accounts_list();

    let mut group = c.benchmark_group("filter");
    group.throughput(Throughput::Bytes(page.len() as u64));
    let one_account = Allowed {
        granted: &granted,
        accounts: &accounts,
        account: Some("acc-continental-0000042-chk"),
        earliest,
        base,
    };
    group.bench_function("transactions_25", |b| {
        b.iter(|| black_box(filter(Endpoint::Transactions, black_box(&page), &one_account).expect("filtered")))
    });
    group.bench_function("transactions_25_baseline_value_roundtrip", |b| {
        b.iter(|| black_box(serde_json::to_vec(&serde_json::from_slice::<Value>(black_box(&page)).expect("json"))))
    });
    group.throughput(Throughput::Bytes(list.len() as u64));
    let all = Allowed { account: None, ..one_account };
    group.bench_function("accounts_4", |b| {
        b.iter(|| black_box(filter(Endpoint::Accounts, black_box(&list), &all).expect("filtered")))
    });
    group.bench_function("accounts_4_baseline_value_roundtrip", |b| {
        b.iter(|| black_box(serde_json::to_vec(&serde_json::from_slice::<Value>(black_box(&list)).expect("json"))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
