//! Password rules, and argon2id hashing on a small pool of threads of its own.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::error::{AppError, AppResult};
use crate::proto::PASSWORD_CHARS;

/// Length only, counted in characters (ASVS 6.2): no composition rules and no truncation, so a
/// long passphrase in any script is accepted as typed.
pub fn check_password(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if !PASSWORD_CHARS.contains(&chars) {
        return Err(AppError::invalid_input(format!(
            "The password must be {} to {} characters long.",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    Ok(())
}

/// OWASP's argon2id parameters: m=19456 KiB, t=2, p=1.
fn params() -> Params {
    Params::new(19_456, 2, 1, None).expect("valid argon2 parameters")
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// argon2id hashing. Each hash needs ~19 MiB and tens of milliseconds of a core, so it runs on
/// `concurrency` threads of its own, each reusing one preallocated block buffer: a flood of
/// sign-ins queues here instead of starving request handling, and memory stays at
/// `concurrency` × 19 MiB instead of growing with every short-lived thread's malloc arena.
///
/// The queue is bounded: a sign-in first takes a `QueueSlot` (`slot`), before anything is counted
/// or hashed, and with every slot taken it is answered 503 `busy` at once. Unbounded, a few
/// hundred networks each under their own limit could outrun the hashing threads, and every real
/// sign-in would then wait in line until the proxy gave up.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    slots: Arc<tokio::sync::Semaphore>,
    /// Places only known browsers may take once `slots` are gone (`domain::known_browsers`).
    reserved: Arc<tokio::sync::Semaphore>,
    /// Verified against when the user does not exist, so both failures cost the same time.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// `concurrency` of 0 means one less than the number of cores (at least one), which keeps a
    /// core free for everything else during a sign-in flood.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = match concurrency {
            0 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
            }
            n => n,
        };
        // A few times the threads: a burst waits a moment; a flood is turned away at once.
        let slots = Arc::new(tokio::sync::Semaphore::new(match queue {
            0 => concurrency * 8,
            n => n,
        }));
        let reserved = Arc::new(tokio::sync::Semaphore::new(concurrency * 2));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    let mut blocks = vec![Block::default(); params().block_count()];
                    loop {
                        let job = queue.lock().expect("argon2 queue").recv();
                        match job {
                            Ok(job) => job(&mut blocks),
                            Err(_) => return, // every hasher is gone
                        }
                    }
                })
                .expect("start an argon2 thread");
        }
        let (done, dummy) = mpsc::channel();
        let job: Job = Box::new(move |blocks| {
            let _ = done.send(hash_with(blocks, "not the password of anyone"));
        });
        jobs.send(job).expect("argon2 threads run");
        let dummy_hash = dummy
            .recv()
            .expect("argon2 threads run")
            .expect("hashing works");
        Self {
            jobs,
            slots,
            reserved,
            dummy_hash: dummy_hash.into(),
        }
    }

    /// A place in the queue, or 503 `busy` when there is none. Take it before counting the
    /// attempt, so a refused one costs the person nothing; it is given back when dropped.
    pub fn slot(&self) -> AppResult<QueueSlot> {
        self.slot_for(false)
    }

    /// Like `slot`, but a `known` browser may also take one of the places kept for known
    /// browsers: a flood that fills the queue cannot turn the account's real users away. The
    /// queue is first come, first served, so their wait is at most the queue's length of hashes.
    pub fn slot_for(&self, known: bool) -> AppResult<QueueSlot> {
        let lanes = if known {
            [Some(&self.slots), Some(&self.reserved)]
        } else {
            [Some(&self.slots), None]
        };
        lanes
            .into_iter()
            .flatten()
            .find_map(|lane| lane.clone().try_acquire_owned().ok())
            .map(QueueSlot)
            .ok_or_else(AppError::busy)
    }

    /// Runs `work` on a hashing thread. Work whose caller has gone (a closed connection) is
    /// skipped, so abandoned requests cost nothing.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> AppResult<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |blocks| {
            if !reply.is_closed() {
                let _ = reply.send(work(blocks));
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| AppError::internal("argon2 threads stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("argon2 thread dropped a job"))
    }

    /// The password's memory is wiped once hashed (here and in `verify`): the server keeps no
    /// copy of it for a later memory dump or swapped page to reveal.
    pub async fn hash(&self, _slot: &QueueSlot, password: String) -> AppResult<String> {
        let password = Zeroizing::new(password);
        self.run(move |blocks| hash_with(blocks, &password)).await?
    }

    /// `stored` is `None` for an unknown user: the dummy hash is checked instead, and `false` returned.
    pub async fn verify(
        &self,
        _slot: &QueueSlot,
        password: String,
        stored: Option<String>,
    ) -> AppResult<bool> {
        let password = Zeroizing::new(password);
        let user_exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .run(move |blocks| verify_with(blocks, &password, &stored))
            .await?;
        Ok(user_exists && matches)
    }
}

/// A place in the hashing queue (`PasswordHasher::slot`).
pub struct QueueSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

fn hash_with(blocks: &mut [Block], password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AppError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    let mut salt_bytes = [0u8; 16];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(AppError::internal)?;
    let params = params();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut *blocks)
            .map_err(|_| argon2::password_hash::Error::Password)
    })
    .map_err(AppError::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(AppError::internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Recomputes the stored hash's parameters and salt over `password` and compares in constant
/// time (`Output`'s equality). A hash with bigger parameters than today's gets its own buffer.
fn verify_with(blocks: &mut [Block], password: &str, stored: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .ok()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut own;
        let blocks = if params.block_count() <= blocks.len() {
            blocks
        } else {
            own = vec![Block::default(); params.block_count()];
            &mut own[..]
        };
        let mut out = vec![0u8; expected.len()];
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            .ok()?;
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_is_counted_in_characters_not_bytes() {
        assert!(check_password("密码密码密码密码").is_ok()); // 8 characters, 24 bytes
        assert!(check_password("short12").is_err());
        assert!(check_password(&"x".repeat(128)).is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn password_has_no_composition_rules() {
        assert!(check_password("aaaaaaaa").is_ok());
        assert!(check_password("correct horse battery staple").is_ok());
    }

    #[tokio::test]
    async fn hash_verifies_only_the_right_password_and_every_hash_is_salted() {
        let hasher = PasswordHasher::new(1, 0);
        let slot = hasher.slot().unwrap();
        let hash = hasher.hash(&slot, "correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            hasher
                .verify(&slot, "correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&slot, "wrong horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert_ne!(
            hash,
            hasher.hash(&slot, "correct horse".into()).await.unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_made_by_the_standard_argon2_api_still_verify() {
        use argon2::PasswordHasher as _;
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let hasher = PasswordHasher::new(1, 0);
        let slot = hasher.slot().unwrap();
        assert!(
            hasher
                .verify(&slot, "correct horse".into(), Some(standard.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&slot, "correct horsf".into(), Some(standard))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&slot, "x".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(1, 0);
        let slot = hasher.slot().unwrap();
        assert!(
            !hasher
                .verify(&slot, "not the password of anyone".into(), None)
                .await
                .unwrap()
        );
    }
}

#[cfg(test)]
mod queue_tests {
    use super::*;

    #[test]
    fn with_every_slot_taken_the_next_sign_in_is_busy_and_a_returned_slot_is_free_again() {
        let hasher = PasswordHasher::new(1, 2);
        let first = hasher.slot().unwrap();
        let _second = hasher.slot().unwrap();
        let refused = hasher.slot().err().unwrap();
        assert_eq!(refused.code, crate::error::ErrorCode::Busy);
        assert_eq!(refused.retry_after, Some(1));
        drop(first);
        assert!(hasher.slot().is_ok());
    }

    #[test]
    fn a_known_browser_finds_a_place_when_the_queue_is_full_and_the_places_are_bounded_too() {
        let hasher = PasswordHasher::new(1, 2);
        let _flood: Vec<_> = (0..2).map(|_| hasher.slot().unwrap()).collect();
        assert!(hasher.slot_for(false).is_err());
        // One thread: two places kept for known browsers.
        let _known: Vec<_> = (0..2).map(|_| hasher.slot_for(true).unwrap()).collect();
        let refused = hasher.slot_for(true).err().unwrap();
        assert_eq!(refused.code, crate::error::ErrorCode::Busy);
    }
}
