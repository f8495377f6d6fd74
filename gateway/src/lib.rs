//! The bankgate consent gateway: the FAPI 2.0 authorization server, the consent flow, the consent-enforced FDX
//! resource proxy, bank event intake and delivery, and the person's dashboard.
//!
//! Not built yet: the issues "Consent gateway: FAPI 2.0 authorization server and the consent flow" and
//! "Consent-enforced FDX resource API, audit log and the person's dashboard" fill this crate. It must never depend
//! on `mock_bank`: the gateway talks to banks over HTTPS only, exactly as a real aggregator would.
