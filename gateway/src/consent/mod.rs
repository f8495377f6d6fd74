//! The consent rules of the gateway, pure and testable directly: FDX data clusters and their scopes
//! ([`DataCluster`]), purposes and secondary use ([`Purpose`]), durations and lookback ([`ConsentDuration`],
//! [`LookbackWindow`]), the consent request in both syntaxes ([`ConsentRequest`]: FDX 6.2 ConsentRequest and
//! RFC 9396 `authorization_details`), and the consent lifecycle ([`Consent`]).
//!
//! This module must never do I/O or read the wall clock: time is always a `now` passed in, storage is `store`'s
//! job, HTTP is the endpoints' job.

pub mod cluster;
pub mod duration;
pub mod lifecycle;
pub mod purpose;
pub mod request;

pub use cluster::{DataCluster, UnknownCluster};
pub use duration::{
    ConsentDuration, DEFAULT_LOOKBACK_DAYS, DurationError, DurationType, LookbackPeriod, LookbackWindow,
    MAX_DURATION_DAYS, MAX_LOOKBACK_DAYS, ONE_TIME_WINDOW,
};
pub use lifecycle::{
    Authorization, Consent, ConsentStatus, ConsentSubject, Initiator, LifecycleError, Revocation, RevocationReason,
    whole_seconds,
};
pub use purpose::{Purpose, UnknownPurpose};
pub use request::{AUTHORIZATION_DETAILS_TYPE, ConsentRequest, ConsentRequestError, RequestProblem, RequestSyntax};
