-- The mock bank's books: only what changes the generated base is stored here (the generated ledger itself is a pure
-- function of seed, bank and customer and is never written).

-- Small key/value facts about this bank: the pinned start instant, the simulated clock, the cursor-signing key.
CREATE TABLE bank_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Transactions injected through the admin API (including raised suspected fraud). `body` is the JSON of
-- `ledger::model::Transaction`; `seq` (AUTOINCREMENT: never reused, even after a reset) names the transaction.
CREATE TABLE injected_transactions (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    customer_index INTEGER NOT NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE INDEX injected_transactions_by_customer ON injected_transactions (customer_index, seq);
