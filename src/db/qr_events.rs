//! Wakes the long polls waiting on a QR code when its row changes, on any server instance: one
//! `LISTEN qr_login` connection per instance fans each notification out to the local waiters of
//! that code. Waiting costs no database work at all. It also bounds the waiting: at most
//! `POLLS_PER_CODE` polls per code (a newer one displaces the oldest, which answers at once) and
//! a configurable number per client network.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::Notify;

use super::poll_shares::PollShares;
use crate::error::AppResult;
use crate::proto::QrId;

pub const CHANNEL: &str = "qr_login";
/// One desktop tab polls one code; two allow a reload to overlap the poll it replaces.
pub const POLLS_PER_CODE: usize = 2;

#[derive(Clone)]
pub struct QrEvents {
    state: Arc<Mutex<State>>,
    closing: Arc<AtomicBool>,
    polls_per_network: usize,
}

#[derive(Default)]
struct State {
    codes: HashMap<QrId, Code>,
    per_network: PollShares,
    next_ticket: u64,
}

#[derive(Default)]
struct Code {
    changed: Arc<Notify>,
    /// Oldest first: (ticket, its "you were displaced" signal).
    polls: VecDeque<(u64, Arc<Notify>)>,
}

/// A poll registered to be woken when its code changes. Dropping it unregisters.
pub struct Subscription {
    /// Fires when the code's row changed (or may have: a reconnect, a shutdown).
    pub changed: Arc<Notify>,
    /// Fires once when a newer poll of the same code displaced this one.
    pub displaced: Arc<Notify>,
    id: QrId,
    /// Set once the poll proved it holds the code's secret and took one of its places.
    ticket: Option<u64>,
    network: String,
    events: QrEvents,
}

impl QrEvents {
    pub fn new(polls_per_network: usize) -> Self {
        Self {
            state: Arc::default(),
            closing: Arc::default(),
            polls_per_network,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("qr waiters lock")
    }

    /// Registers a waiting poll of code `id` from client `network`; 429 when that network already
    /// has its share of waiting polls. The poll takes one of the code's places only later, with
    /// `Subscription::take_place`, once it proved it holds the secret: someone who merely knows
    /// the id must not be able to push the real desktop's poll out.
    pub fn subscribe(&self, id: &QrId, network: &str) -> AppResult<Subscription> {
        let mut state = self.lock();
        state.per_network.take(network, self.polls_per_network)?;
        let code = state.codes.entry(id.clone()).or_default();
        Ok(Subscription {
            changed: code.changed.clone(),
            displaced: Arc::new(Notify::new()),
            id: id.clone(),
            ticket: None,
            network: network.to_owned(),
            events: self.clone(),
        })
    }

    /// How many polls wait on this instance (for the metrics).
    pub fn waiting(&self) -> usize {
        self.lock().per_network.total()
    }

    pub fn wake(&self, id: &str) {
        if let Some(code) = self.lock().codes.get(&QrId(id.to_owned())) {
            code.changed.notify_waiters();
        }
    }

    /// The server is stopping: every waiting poll answers now instead of holding shutdown up.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    fn wake_all(&self) {
        for code in self.lock().codes.values() {
            code.changed.notify_waiters();
        }
    }

    /// Listens for as long as the server runs (see `db::listen_forever`).
    pub async fn listen(self, pool: PgPool) {
        super::listen_forever(
            pool,
            CHANNEL,
            |payload| self.wake(payload),
            || self.wake_all(),
        )
        .await
    }
}

impl Subscription {
    /// Takes one of the code's `POLLS_PER_CODE` places (once); the oldest holder, if all are
    /// taken, is told through its `displaced` signal.
    pub fn take_place(&mut self) {
        if self.ticket.is_some() {
            return;
        }
        let mut state = self.events.lock();
        state.next_ticket += 1;
        let ticket = state.next_ticket;
        let code = state.codes.entry(self.id.clone()).or_default();
        if code.polls.len() >= POLLS_PER_CODE
            && let Some((_, oldest)) = code.polls.pop_front()
        {
            oldest.notify_one();
        }
        code.polls.push_back((ticket, self.displaced.clone()));
        self.ticket = Some(ticket);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.events.lock();
        if let Some(code) = state.codes.get_mut(&self.id) {
            code.polls
                .retain(|(ticket, _)| Some(*ticket) != self.ticket);
            // Nobody else holds this code's `changed` signal: forget the code.
            if code.polls.is_empty() && Arc::strong_count(&code.changed) == 2 {
                state.codes.remove(&self.id);
            }
        }
        state.per_network.give_back(&self.network);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_third_poll_of_one_code_displaces_the_oldest() {
        let events = QrEvents::new(20);
        let id = QrId("code".into());
        let mut first = events.subscribe(&id, "a").unwrap();
        first.take_place();
        let mut second = events.subscribe(&id, "a").unwrap();
        second.take_place();
        // Merely subscribing (a poll that has not shown the secret yet) displaces nobody.
        let mut third = events.subscribe(&id, "b").unwrap();
        let early =
            tokio::time::timeout(Duration::from_millis(50), first.displaced.notified()).await;
        assert!(early.is_err());
        third.take_place();
        // The first was told at once (the permit waits for it); the second was not.
        tokio::time::timeout(Duration::from_millis(100), first.displaced.notified())
            .await
            .expect("the oldest poll is displaced");
        let second_told =
            tokio::time::timeout(Duration::from_millis(50), second.displaced.notified()).await;
        assert!(second_told.is_err());
        assert_eq!(events.waiting(), 3);
    }

    #[test]
    fn each_network_may_hold_only_so_many_waiting_polls() {
        let events = QrEvents::new(2);
        let a = events.subscribe(&QrId("1".into()), "net").unwrap();
        let _b = events.subscribe(&QrId("2".into()), "net").unwrap();
        let refused = events.subscribe(&QrId("3".into()), "net");
        assert_eq!(
            refused.err().map(|e| e.code),
            Some(crate::error::ErrorCode::RateLimited)
        );
        events.subscribe(&QrId("3".into()), "other net").unwrap();
        drop(a);
        events.subscribe(&QrId("3".into()), "net").unwrap();
    }
}
