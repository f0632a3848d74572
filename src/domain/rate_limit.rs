//! In-memory fixed-window rate limits, per server instance. Good enough to blunt password guessing
//! and QR-code spam; a fleet behind a load balancer would move these counters into Postgres.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Above this many keys, expired windows are swept on the next write, bounding memory.
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`, failing with `rate_limited` once the limit is used up.
    pub fn hit(&self, key: &str) -> AppResult<()> {
        self.check(key)?;
        self.record(key);
        Ok(())
    }

    /// Fails if `key` has used up its limit, without counting anything.
    pub fn check(&self, key: &str) -> AppResult<()> {
        let now = Instant::now();
        let windows = self.windows.lock().expect("rate limiter lock");
        match windows.get(key) {
            Some(w) if now < w.started + self.window && w.count >= self.limit => {
                let left = (w.started + self.window).saturating_duration_since(now);
                Err(AppError::rate_limited(left.as_secs().max(1)))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| now < w.started + self.window);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now >= window.started + self.window {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        window.count += 1;
    }

    /// Forgets `key`, e.g. after a successful sign-in.
    pub fn reset(&self, key: &str) {
        self.windows.lock().expect("rate limiter lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn allows_the_limit_then_refuses_with_a_retry_time() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            limiter.hit("ip").unwrap();
        }
        let error = limiter.hit("ip").unwrap_err();
        assert_eq!(error.code, ErrorCode::RateLimited);
        assert!((1..=60).contains(&error.retry_after.unwrap()));
        limiter.hit("other ip").unwrap();
    }

    #[test]
    fn window_resets_after_it_ends_and_reset_forgets() {
        let limiter = RateLimiter::new(1, Duration::from_millis(30));
        limiter.hit("k").unwrap();
        assert!(limiter.hit("k").is_err());
        std::thread::sleep(Duration::from_millis(40));
        limiter.hit("k").unwrap();
        limiter.reset("k");
        limiter.hit("k").unwrap();
    }
}
