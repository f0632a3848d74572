//! How many long polls each client network holds waiting on this instance, capped, so one
//! network cannot tie up the server's sockets and memory. Shared by the QR and notice hubs.

use std::collections::HashMap;

use crate::error::{AppError, AppResult};

#[derive(Default)]
pub struct PollShares(HashMap<String, usize>);

impl PollShares {
    /// Counts one more waiting poll of `network`; 429 when it already holds `max`.
    pub fn take(&mut self, network: &str, max: usize) -> AppResult<()> {
        let held = self.0.get(network).copied().unwrap_or(0);
        if held >= max {
            return Err(AppError::rate_limited(5));
        }
        *self.0.entry(network.to_owned()).or_default() += 1;
        Ok(())
    }

    /// A poll of `network` stopped waiting.
    pub fn give_back(&mut self, network: &str) {
        if let Some(held) = self.0.get_mut(network) {
            *held -= 1;
            if *held == 0 {
                self.0.remove(network);
            }
        }
    }

    /// All waiting polls (for the metrics).
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}
