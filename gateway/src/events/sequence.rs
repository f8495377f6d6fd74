//! Keeps a bank's order across overlapping deliveries: the ingress sequencer.
//!
//! A bank sends the notifications of one callback URL (here: one `(bank, consent)`) in order but several at once
//! (`mock_bank::events::outbox`), each with its place: `x-bankgate-lane` (a random id of one run of the bank's lane
//! worker) and `x-bankgate-sequence` (1, 2, 3, ...). Requests that overlap may reach the gateway, or finish their
//! checks, in another order. Before a notification is queued in the store (the store's enqueue order is the order
//! apps get it in), its handler takes its [`Turn`]: it waits until every earlier place of its lane has been queued
//! (or has been refused), then holds the turn until the store has placed its write in the commit order
//! ([`crate::store::Store::enqueue_event`] drops it then), so writes of one lane are queued in lane order while their
//! commits still share a batch (one disk flush for many notifications).
//!
//! Decisions, written down because the bank cannot wait for the gateway's order:
//! - A handler waits for a missing predecessor at most [`WAIT_FOR_PREDECESSOR`]: a predecessor that was lost on the
//!   way (reset connection, refused before its turn) is retried by the bank later or never comes; the lane goes on
//!   without it, and a late predecessor is accepted out of order (at least once beats in order).
//! - A lane id the gateway has not seen (a new run of the bank's worker, a restarted gateway) starts at whatever
//!   place arrives first: right after a gateway restart two overlapping notifications may swap.
//! - Deliveries without the two headers (a bank that sends one at a time) are queued in arrival order, as before.
//! - At most [`MAX_LANES`] lanes are remembered; when full, all are forgotten (the next arrival of each starts anew).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::sync::Notify;

/// Header naming the run of a bank's lane worker.
pub const LANE_HEADER: &str = "x-bankgate-lane";
/// Header with a notification's 1-based place in its lane.
pub const SEQUENCE_HEADER: &str = "x-bankgate-sequence";
/// Longest wait for an earlier place of the same lane.
pub const WAIT_FOR_PREDECESSOR: Duration = Duration::from_millis(250);
/// Lanes remembered at once.
pub const MAX_LANES: usize = 100_000;
/// Longest lane id accepted (the bank sends a UUID).
const MAX_LANE_ID: usize = 64;

/// A notification's place in its bank's lane, read from the request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub lane: String,
    pub sequence: u64,
}

impl Place {
    /// The place named by `headers`; `None` when either header is missing or malformed (arrival order applies).
    pub fn from_headers(headers: &HeaderMap) -> Option<Place> {
        let lane = headers.get(LANE_HEADER)?.to_str().ok()?;
        if lane.is_empty() || lane.len() > MAX_LANE_ID || !lane.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let sequence = headers.get(SEQUENCE_HEADER)?.to_str().ok()?.parse::<u64>().ok().filter(|n| *n > 0)?;
        Some(Place { lane: lane.to_owned(), sequence })
    }
}

/// One `(bank, consent)`'s progress: which run of the bank's worker, and which places were queued.
#[derive(Debug)]
struct Lane {
    id: String,
    /// Every place below this one has been queued (or given up on).
    next: u64,
    /// Places at or above `next` already queued (they overtook a slower predecessor).
    done: BTreeSet<u64>,
    changed: Arc<Notify>,
}

impl Lane {
    fn new(id: &str, first: u64) -> Lane {
        Lane { id: id.to_owned(), next: first, done: BTreeSet::new(), changed: Arc::new(Notify::new()) }
    }

    fn finish(&mut self, sequence: u64) {
        if sequence >= self.next {
            self.done.insert(sequence);
        }
        while self.done.remove(&self.next) {
            self.next += 1;
        }
        self.changed.notify_waiters();
    }

    /// Gives up on every place below `sequence` (waited long enough).
    fn skip_to(&mut self, sequence: u64) {
        if sequence > self.next {
            self.next = sequence;
            self.done.retain(|n| *n >= sequence);
        }
    }
}

type Key = (String, String);

/// The sequencer of every bank lane (held in [`crate::app::AppState`]).
#[derive(Debug)]
pub struct IngressSequencer {
    lanes: Mutex<HashMap<Key, Lane>>,
    /// Longest wait for a missing predecessor.
    wait: Duration,
    /// Handlers waiting for a predecessor right now.
    waiting: AtomicUsize,
}

impl Default for IngressSequencer {
    fn default() -> Self {
        Self::with_wait(WAIT_FOR_PREDECESSOR)
    }
}

impl IngressSequencer {
    /// A sequencer waiting at most `wait` for a missing predecessor ([`WAIT_FOR_PREDECESSOR`] by default).
    pub fn with_wait(wait: Duration) -> Self {
        Self { lanes: Mutex::new(HashMap::new()), wait, waiting: AtomicUsize::new(0) }
    }

    /// How many deliveries wait for an earlier place of their lane right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Lane>> {
        self.lanes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for the turn of `place` in the lane of `(bank, consent)` (module docs); with no place, at once.
    pub async fn turn(self: &Arc<Self>, bank: &str, consent: &str, place: Option<Place>) -> Turn {
        let Some(place) = place else { return Turn::unordered() };
        let key = (bank.to_owned(), consent.to_owned());
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let changed = {
                let mut lanes = self.lock();
                if !lanes.contains_key(&key) && lanes.len() >= MAX_LANES {
                    lanes.clear();
                }
                let lane = lanes.entry(key.clone()).or_insert_with(|| Lane::new(&place.lane, place.sequence));
                if lane.id != place.lane {
                    *lane = Lane::new(&place.lane, place.sequence);
                }
                if place.sequence <= lane.next {
                    break;
                }
                lane.changed.clone()
            };
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Re-check after registering, so a finish between the check above and here is not missed.
            if self.is_turn_of(&key, &place) {
                break;
            }
            self.waiting.fetch_add(1, Ordering::AcqRel);
            let waited = tokio::time::timeout_at(deadline, notified).await;
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            if waited.is_err() {
                if let Some(lane) = self.lock().get_mut(&key).filter(|lane| lane.id == place.lane) {
                    lane.skip_to(place.sequence);
                }
                tracing::debug!(bank, "a bank notification's predecessor did not come in time: the lane goes on");
                break;
            }
        }
        Turn { held: Some((self.clone(), key, place)) }
    }

    fn is_turn_of(&self, key: &Key, place: &Place) -> bool {
        self.lock().get(key).is_none_or(|lane| lane.id != place.lane || place.sequence <= lane.next)
    }
}

/// The right to queue the next write of a lane; dropping it (once the write is placed, or on any refusal) lets the
/// next place of the lane go.
#[derive(Debug)]
pub struct Turn {
    held: Option<(Arc<IngressSequencer>, Key, Place)>,
}

impl Turn {
    /// No place in any lane: the write goes in arrival order.
    pub fn unordered() -> Turn {
        Turn { held: None }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some((sequencer, key, place)) = self.held.take() else { return };
        if let Some(lane) = sequencer.lock().get_mut(&key).filter(|lane| lane.id == place.lane) {
            lane.finish(place.sequence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(lane: &str, sequence: u64) -> Option<Place> {
        Some(Place { lane: lane.to_owned(), sequence })
    }

    /// Waits (bounded) until `n` deliveries wait for a predecessor.
    async fn until_waiting(sequencer: &IngressSequencer, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sequencer.waiting() != n {
            assert!(std::time::Instant::now() < deadline, "{n} deliveries should be waiting");
            tokio::task::yield_now().await;
        }
    }

    /// `turn` of a sequencer whose bound is a minute: finishing within 10 s means it did not wait for the bound.
    async fn prompt(sequencer: &Arc<IngressSequencer>, consent: &str, place: Option<Place>) -> Turn {
        tokio::time::timeout(Duration::from_secs(10), sequencer.turn("b", consent, place)).await.expect("no wait")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_later_place_waits_for_the_earlier_one_to_be_queued() {
        let sequencer = Arc::new(IngressSequencer::with_wait(Duration::from_secs(60)));
        let first = prompt(&sequencer, "c", place("L", 1)).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for n in [3u64, 2] {
            let (sequencer, tx) = (sequencer.clone(), tx.clone());
            tokio::spawn(async move {
                let turn = sequencer.turn("b", "c", place("L", n)).await;
                tx.send(n).unwrap();
                drop(turn);
            });
        }
        until_waiting(&sequencer, 2).await;
        assert!(rx.try_recv().is_err(), "2 and 3 wait while 1 holds its turn");
        drop(first);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(sequencer.waiting(), 0);
    }

    #[tokio::test]
    async fn a_missing_predecessor_is_waited_for_a_bounded_time_and_a_late_one_goes_at_once() {
        let bound = Duration::from_millis(50);
        let sequencer = Arc::new(IngressSequencer::with_wait(bound));
        drop(sequencer.turn("b", "c", place("L", 1)).await);
        let started = std::time::Instant::now();
        drop(sequencer.turn("b", "c", place("L", 3)).await);
        assert!(started.elapsed() >= bound, "3 waited for 2 as long as the bound");
        let key = ("b".to_owned(), "c".to_owned());
        assert_eq!(sequencer.lock()[&key].next, 4, "then the lane went on without 2");
        // The late 2 and the next place 4 are both at or below `next`: neither waits.
        assert!(sequencer.is_turn_of(&key, &place("L", 2).unwrap()));
        assert!(sequencer.is_turn_of(&key, &place("L", 4).unwrap()));
        drop(sequencer.turn("b", "c", place("L", 2)).await);
        drop(sequencer.turn("b", "c", place("L", 4)).await);
        assert_eq!(sequencer.lock()[&key].next, 5);
    }

    #[tokio::test]
    async fn a_new_lane_id_other_consents_and_unnumbered_deliveries_never_wait() {
        let sequencer = Arc::new(IngressSequencer::with_wait(Duration::from_secs(60)));
        drop(prompt(&sequencer, "c", place("L", 5)).await);
        drop(prompt(&sequencer, "c", place("M", 9)).await);
        drop(prompt(&sequencer, "other", place("L", 7)).await);
        drop(prompt(&sequencer, "c", None).await);
        drop(prompt(&sequencer, "c", place("M", 10)).await);
        assert_eq!(sequencer.waiting(), 0);
    }

    #[test]
    fn places_are_read_from_both_headers_or_not_at_all() {
        let mut headers = HeaderMap::new();
        assert_eq!(Place::from_headers(&headers), None);
        headers.insert(LANE_HEADER, "lane-1".parse().unwrap());
        assert_eq!(Place::from_headers(&headers), None, "no sequence");
        for bad in ["0", "-1", "x", "18446744073709551616"] {
            headers.insert(SEQUENCE_HEADER, bad.parse().unwrap());
            assert_eq!(Place::from_headers(&headers), None, "{bad}");
        }
        headers.insert(SEQUENCE_HEADER, "42".parse().unwrap());
        assert_eq!(Place::from_headers(&headers), Some(Place { lane: "lane-1".into(), sequence: 42 }));
        headers.insert(LANE_HEADER, "x".repeat(MAX_LANE_ID + 1).parse().unwrap());
        assert_eq!(Place::from_headers(&headers), None, "lane id too long");
    }
}
