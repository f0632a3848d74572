//! Wakes the long polls waiting for "new sign-in" notices, on any server instance: the notices
//! INSERT trigger sends `NOTIFY notice, '<user id>'`, and one `LISTEN notice` connection per
//! instance wakes that user's local waiters. Waiting costs no database work. At most
//! `polls_per_network` polls wait per client network (more get 429).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::poll_shares::PollShares;
use crate::error::AppResult;
use crate::proto::UserId;

pub const CHANNEL: &str = "notice";

#[derive(Clone)]
pub struct NoticeEvents {
    state: Arc<Mutex<State>>,
    closing: Arc<AtomicBool>,
    polls_per_network: usize,
}

#[derive(Default)]
struct State {
    /// Per user with waiting polls: the signal, and how many polls hold it.
    users: HashMap<UserId, (Arc<Notify>, usize)>,
    per_network: PollShares,
}

/// A poll registered to be woken when its user gets a notice. Dropping it unregisters.
pub struct Subscription {
    /// Fires when the user may have a new notice (or on a reconnect or a shutdown).
    pub changed: Arc<Notify>,
    user: UserId,
    network: String,
    events: NoticeEvents,
}

impl NoticeEvents {
    pub fn new(polls_per_network: usize) -> Self {
        Self {
            state: Arc::default(),
            closing: Arc::default(),
            polls_per_network,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("notice waiters lock")
    }

    /// Registers a waiting poll of `user` from client `network`; 429 when that network already
    /// has its share of waiting polls.
    pub fn subscribe(&self, user: UserId, network: &str) -> AppResult<Subscription> {
        let mut state = self.lock();
        state.per_network.take(network, self.polls_per_network)?;
        let (changed, holders) = state.users.entry(user).or_default();
        *holders += 1;
        Ok(Subscription {
            changed: changed.clone(),
            user,
            network: network.to_owned(),
            events: self.clone(),
        })
    }

    /// How many notice polls wait on this instance (for the `sesame_notice_polls_waiting` gauge).
    pub fn waiting(&self) -> usize {
        self.lock().per_network.total()
    }

    /// Wakes the waiting polls of the user named in a notification payload.
    pub fn wake(&self, payload: &str) {
        let Ok(id) = payload.parse::<Uuid>() else {
            return;
        };
        if let Some((changed, _)) = self.lock().users.get(&UserId(id)) {
            changed.notify_waiters();
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
        for (changed, _) in self.lock().users.values() {
            changed.notify_waiters();
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

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.events.lock();
        if let Some((_, holders)) = state.users.get_mut(&self.user) {
            *holders -= 1;
            if *holders == 0 {
                state.users.remove(&self.user);
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
    async fn a_wake_reaches_the_polls_of_that_user_only() {
        let events = NoticeEvents::new(10);
        let alice = UserId(Uuid::new_v4());
        let bob = UserId(Uuid::new_v4());
        let a1 = events.subscribe(alice, "net").unwrap();
        let a2 = events.subscribe(alice, "net").unwrap();
        let b = events.subscribe(bob, "net").unwrap();
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
            events.wake(&alice.to_string());
            events.wake("not a uuid");
            let soon = Duration::from_millis(100);
            tokio::time::timeout(soon, n1)
                .await
                .expect("first poll woken");
            tokio::time::timeout(soon, n2)
                .await
                .expect("second poll woken");
            assert!(
                tokio::time::timeout(soon, nb).await.is_err(),
                "bob not woken"
            );
        }
        assert_eq!(events.waiting(), 3);
        drop((a1, a2, b));
        assert_eq!(events.waiting(), 0);
        assert!(events.lock().users.is_empty());
    }

    #[test]
    fn each_network_may_hold_only_so_many_waiting_polls() {
        let events = NoticeEvents::new(2);
        let user = UserId(Uuid::new_v4());
        let first = events.subscribe(user, "net").unwrap();
        let _second = events.subscribe(user, "net").unwrap();
        assert_eq!(
            events.subscribe(user, "net").err().map(|e| e.code),
            Some(crate::error::ErrorCode::RateLimited)
        );
        events.subscribe(user, "other net").unwrap();
        drop(first);
        events.subscribe(user, "net").unwrap();
    }
}
