-- The access log keeps one index, the person's (issue 4: pages written per commit). Every record appended on the
-- resource API's hot path was inserted into the table and into two indexes, so each commit of access records wrote
-- three pages of the write-ahead log (the last leaf of each B-tree, more once persons spread over the index). The
-- only reader of `audit_log_by_consent` was a consent's own history, and a consent's records are a subset of its
-- person's: `Store::audit_of_consent` now takes the consent's subject and reads through `audit_log_by_person`,
-- keeping the consent's rows (a person has few consents, so the walk over their other records is short).
DROP INDEX audit_log_by_consent;
