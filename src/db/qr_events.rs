//! Wakes the long polls waiting on a QR code when its row changes, on any server instance: one
//! `LISTEN qr_login` connection per instance fans each notification out to the local waiters of
//! that code. Waiting costs no database work at all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

pub const CHANNEL: &str = "qr_login";

#[derive(Clone, Default)]
pub struct QrEvents {
    waiters: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    closing: Arc<AtomicBool>,
}

/// A registration to be woken when code `id` changes. Dropping it unregisters.
pub struct Subscription {
    pub notify: Arc<Notify>,
    id: String,
    events: QrEvents,
}

impl QrEvents {
    pub fn subscribe(&self, id: &str) -> Subscription {
        let mut waiters = self.waiters.lock().expect("qr waiters lock");
        let notify = waiters.entry(id.to_owned()).or_default().clone();
        Subscription {
            notify,
            id: id.to_owned(),
            events: self.clone(),
        }
    }

    pub fn wake(&self, id: &str) {
        if let Some(notify) = self.waiters.lock().expect("qr waiters lock").get(id) {
            notify.notify_waiters();
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
        for notify in self.waiters.lock().expect("qr waiters lock").values() {
            notify.notify_waiters();
        }
    }

    /// Listens for as long as the server runs. If the connection drops, sqlx reconnects; since
    /// notifications sent meanwhile are lost, every waiter is woken to re-read its code.
    pub async fn listen(self, pool: PgPool) {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::error!(%error, "cannot open the LISTEN connection; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen(CHANNEL).await {
                tracing::error!(%error, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            self.wake_all();
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => self.wake(notification.payload()),
                    Ok(None) => {
                        tracing::warn!("LISTEN connection lost; reconnecting");
                        self.wake_all();
                    }
                    Err(error) => {
                        tracing::error!(%error, "LISTEN connection failed; reconnecting");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiters = self.events.waiters.lock().expect("qr waiters lock");
        // The map holds one reference and this subscription another: nobody else is waiting.
        if Arc::strong_count(&self.notify) == 2 {
            waiters.remove(&self.id);
        }
    }
}
