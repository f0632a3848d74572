//! Wake-up hubs: long polls wait here, keyed by what they wait on (a QR code, a user, a device
//! code), and are woken when PostgreSQL announces a change of that key on its `NOTIFY` channel,
//! whichever instance made it. One `LISTEN` connection per hub and instance fans each
//! notification out to the local waiters, so waiting costs no database work at all.
//!
//! Every hub bounds the waiting the same way: at most `polls_per_network` waiting polls per client
//! network (more get 429), and at most `places_per_key` polls per key and holder that took a place
//! (a newer one displaces the oldest, which answers at once): a QR code's desktop, a session's
//! tabs. Not SQL, so not in `db/`.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::error::{AppError, AppResult};

pub struct Hub<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Hub<K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<K> {
    state: Mutex<State<K>>,
    closing: AtomicBool,
    polls_per_network: usize,
    places_per_key: usize,
}

struct State<K> {
    keys: HashMap<K, Waiters>,
    /// Waiting polls per client network.
    per_network: HashMap<String, usize>,
    next_ticket: u64,
}

#[derive(Default)]
struct Waiters {
    changed: Arc<Notify>,
    /// Subscriptions holding `changed`; the entry goes when the last one does.
    holders: usize,
    /// Polls that took a place, oldest first.
    places: VecDeque<Place>,
}

struct Place {
    ticket: u64,
    /// Polls compete for places only with polls of the same holder.
    holder: u128,
    /// Tells the poll it was displaced.
    displaced: Arc<Notify>,
}

/// A poll registered to be woken when its key changes. Dropping it unregisters.
pub struct Subscription<K: Eq + Hash + Clone> {
    /// Fires when the key changed (or may have: a reconnect, a shutdown).
    pub changed: Arc<Notify>,
    /// Fires once when a newer poll of the same key displaced this one.
    pub displaced: Arc<Notify>,
    key: K,
    ticket: Option<u64>,
    network: String,
    hub: Hub<K>,
}

impl<K: Eq + Hash + Clone> Hub<K> {
    pub fn new(polls_per_network: usize, places_per_key: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    keys: HashMap::new(),
                    per_network: HashMap::new(),
                    next_ticket: 0,
                }),
                closing: AtomicBool::new(false),
                polls_per_network,
                places_per_key,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.shared.state.lock().expect("hub lock")
    }

    /// Registers a waiting poll of `key` from client `network`; 429 when that network already
    /// holds its share. The poll takes one of the key's places only with `take_place`, once it
    /// has proved it may (a QR poll shows the code's secret first: someone who merely knows the
    /// id must not push the real desktop's poll out).
    pub fn subscribe(&self, key: K, network: &str) -> AppResult<Subscription<K>> {
        let mut state = self.lock();
        let held = state.per_network.get(network).copied().unwrap_or(0);
        if held >= self.shared.polls_per_network {
            return Err(AppError::rate_limited(5));
        }
        state.per_network.insert(network.to_owned(), held + 1);
        let waiters = state.keys.entry(key.clone()).or_default();
        waiters.holders += 1;
        Ok(Subscription {
            changed: waiters.changed.clone(),
            displaced: Arc::new(Notify::new()),
            key,
            ticket: None,
            network: network.to_owned(),
            hub: self.clone(),
        })
    }

    /// How many polls wait on this instance (for the metrics).
    pub fn waiting(&self) -> usize {
        self.lock().per_network.values().sum()
    }

    /// The most polls one network holds, and how many it may (for the metrics: a network near
    /// its limit is a crowd behind one address, or someone holding connections open).
    pub fn busiest_network(&self) -> (usize, usize) {
        let busiest = self.lock().per_network.values().copied().max();
        (busiest.unwrap_or(0), self.shared.polls_per_network)
    }

    pub fn wake(&self, key: &K) {
        if let Some(waiters) = self.lock().keys.get(key) {
            waiters.changed.notify_waiters();
        }
    }

    /// The server is stopping: every waiting poll answers now instead of holding shutdown up.
    pub fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::SeqCst)
    }

    fn wake_all(&self) {
        for waiters in self.lock().keys.values() {
            waiters.changed.notify_waiters();
        }
    }

    /// Listens on `channel` for as long as the server runs, waking the key each payload names
    /// (`parse`; payloads that name none are ignored). After every (re)connect all waiters are
    /// woken, since notifications sent meanwhile were lost.
    pub async fn listen(self, pool: PgPool, channel: &'static str, parse: fn(&str) -> Option<K>) {
        crate::db::listen_forever(
            pool,
            channel,
            |payload| {
                if let Some(key) = parse(payload) {
                    self.wake(&key);
                }
            },
            || self.wake_all(),
        )
        .await
    }
}

impl<K: Eq + Hash + Clone> Subscription<K> {
    /// Takes one of the places `holder` has at this key (once); when all are taken, the oldest
    /// poll of that holder is told through its `displaced` signal.
    pub fn take_place(&mut self, holder: u128) {
        if self.ticket.is_some() {
            return;
        }
        let places_per_key = self.hub.shared.places_per_key;
        let mut state = self.hub.lock();
        state.next_ticket += 1;
        let ticket = state.next_ticket;
        let waiters = state.keys.entry(self.key.clone()).or_default();
        let held = waiters.places.iter().filter(|p| p.holder == holder);
        if held.count() >= places_per_key
            && let Some(oldest) = waiters.places.iter().position(|p| p.holder == holder)
            && let Some(oldest) = waiters.places.remove(oldest)
        {
            oldest.displaced.notify_one();
        }
        waiters.places.push_back(Place {
            ticket,
            holder,
            displaced: self.displaced.clone(),
        });
        self.ticket = Some(ticket);
    }
}

impl<K: Eq + Hash + Clone> Drop for Subscription<K> {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        if let Some(waiters) = state.keys.get_mut(&self.key) {
            waiters
                .places
                .retain(|place| Some(place.ticket) != self.ticket);
            waiters.holders -= 1;
            if waiters.holders == 0 {
                state.keys.remove(&self.key);
            }
        }
        if let Some(held) = state.per_network.get_mut(&self.network) {
            *held -= 1;
            if *held == 0 {
                state.per_network.remove(&self.network);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::ErrorCode;

    const SOON: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn a_third_poll_that_takes_a_place_displaces_the_oldest() {
        let hub = Hub::new(20, 2);
        let mut first = hub.subscribe("code", "a").unwrap();
        first.take_place(0);
        let mut second = hub.subscribe("code", "a").unwrap();
        second.take_place(0);
        // Merely subscribing (a poll that has not shown the secret yet) displaces nobody.
        let mut third = hub.subscribe("code", "b").unwrap();
        let early = tokio::time::timeout(SOON, first.displaced.notified()).await;
        assert!(early.is_err());
        third.take_place(0);
        tokio::time::timeout(SOON, first.displaced.notified())
            .await
            .expect("the oldest poll is displaced");
        let second_told = tokio::time::timeout(SOON, second.displaced.notified()).await;
        assert!(second_told.is_err());
        assert_eq!(hub.waiting(), 3);
    }

    #[tokio::test]
    async fn places_are_counted_per_holder() {
        let hub = Hub::new(20, 2);
        let mut polls: Vec<_> = (0..4)
            .map(|_| hub.subscribe("alice", "a").unwrap())
            .collect();
        // Two holders (sessions) with two polls each: nobody is displaced.
        for (i, poll) in polls.iter_mut().enumerate() {
            poll.take_place(i as u128 % 2);
        }
        let mut third_of_holder_1 = hub.subscribe("alice", "a").unwrap();
        third_of_holder_1.take_place(1);
        tokio::time::timeout(SOON, polls[1].displaced.notified())
            .await
            .expect("holder 1's oldest poll is displaced");
        for untouched in [0, 2, 3] {
            let told = tokio::time::timeout(SOON, polls[untouched].displaced.notified()).await;
            assert!(told.is_err(), "poll {untouched} keeps its place");
        }
    }

    #[tokio::test]
    async fn a_wake_reaches_the_polls_of_that_key_only() {
        let hub = Hub::new(10, 2);
        let a1 = hub.subscribe("alice", "net").unwrap();
        let a2 = hub.subscribe("alice", "net").unwrap();
        let b = hub.subscribe("bob", "net").unwrap();
        {
            let (n1, n2, nb) = (
                a1.changed.notified(),
                a2.changed.notified(),
                b.changed.notified(),
            );
            tokio::pin!(n1, n2, nb);
            n1.as_mut().enable();
            n2.as_mut().enable();
            nb.as_mut().enable();
            hub.wake(&"alice");
            tokio::time::timeout(SOON, n1).await.expect("first woken");
            tokio::time::timeout(SOON, n2).await.expect("second woken");
            assert!(
                tokio::time::timeout(SOON, nb).await.is_err(),
                "bob not woken"
            );
        }
        drop((a1, a2, b));
        assert_eq!(hub.waiting(), 0);
        assert!(
            hub.lock().keys.is_empty(),
            "nothing is kept for keys nobody waits on"
        );
    }

    #[test]
    fn each_network_may_hold_only_so_many_waiting_polls() {
        let hub = Hub::new(2, 2);
        let first = hub.subscribe(1, "net").unwrap();
        let _second = hub.subscribe(2, "net").unwrap();
        assert_eq!(
            hub.subscribe(3, "net").err().map(|e| e.code),
            Some(ErrorCode::RateLimited)
        );
        hub.subscribe(3, "other net").unwrap();
        drop(first);
        hub.subscribe(3, "net").unwrap();
    }
}
