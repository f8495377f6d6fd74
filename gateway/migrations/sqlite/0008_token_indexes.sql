-- Fewer index entries per issued token (issue 3: pages written per commit on the token endpoint and the consent
-- flow). `tokens_by_parent_code` served one statement, the revocation of the tokens issued from a replayed code
-- (RFC 6749 §4.1.2); the code row names its consent, and a consent's tokens are few, so that statement now reads
-- through `tokens_by_consent` (`consent_id = ? AND parent_code = ?`) and the index is dropped. `tokens_by_consent`
-- becomes partial: tokens without a consent (`client_credentials`) never need it, and each one wrote a NULL entry.
-- Every reader of it compares `consent_id = ?`, which implies `consent_id IS NOT NULL`, so SQLite still uses it.
DROP INDEX tokens_by_parent_code;
DROP INDEX tokens_by_consent;
CREATE INDEX tokens_by_consent ON tokens (consent_id) WHERE consent_id IS NOT NULL;
