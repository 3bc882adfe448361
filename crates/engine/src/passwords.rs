//! Password hashes, and checking passwords against them a bounded few at a time.
//!
//! Passwords are argon2id hashes (PHC strings). Checking one fills 19 MiB of memory (the
//! default `m=19456`), on purpose: that is what makes guessing expensive. Run on whatever
//! thread is free, each check would allocate and free its 19 MiB, and glibc's malloc keeps
//! such freed blocks in per-thread arenas, so a burst of sign-ins on tokio's blocking pool
//! grew the hub by a gigabyte. [`PasswordChecks`] instead runs checks on a fixed set of worker
//! threads, each reusing one buffer for every check it makes (argon2's
//! `hash_password_into_with_memory`), behind a semaphore with as many permits as workers:
//! memory for checks is at most `workers × 19 MiB`, however many people sign in at once.
//!
//! A check for a name that has no password (unknown, a bot, a person without one) verifies
//! against [`DUMMY_HASH`], which costs the same, so the time an answer takes does not tell
//! which names exist.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::hub::EngineError;

/// The most memory a hash may ask for (in KiB, argon2's `m`): 256 MiB. A hash asking more is
/// refused rather than letting one check take the machine's memory.
pub const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// An argon2id hash with the default parameters (those [`hash_password`] uses) of a password
/// nobody knows: what a name without a password is checked against.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmQtZHVtbXk$6QR6TUmGszFC0RGx1YfS6kOJrF4oA2rdXrZXYp9/2VQ";

/// An argon2id hash of `password` with a fresh salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, EngineError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `hash` is an argon2 PHC string this hub can verify against.
pub fn check_password_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| format!("not a PHC password hash: {e}"))?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!("`{}` hashes are not supported; use argon2id", parsed.algorithm));
    }
    let params = Params::try_from(&parsed).map_err(|e| format!("not a usable argon2 hash: {e}"))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(format!(
            "the hash asks for {} KiB of memory per check; at most {MAX_MEMORY_KIB} KiB is allowed",
            params.m_cost()
        ));
    }
    Ok(())
}

/// Whether `password` matches `hash`, computed in `memory` (grown to what the hash needs and
/// kept for the next check). Anything unreadable in the hash is a mismatch.
pub(crate) fn verify_in(memory: &mut Vec<Block>, password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Some(salt), Some(expected)) = (Algorithm::try_from(parsed.algorithm), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        return false;
    }
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])?)
    })
    // `Output`'s equality is constant-time.
    .is_ok_and(|computed| computed == expected)
}

/// One password to check, and where to send the answer.
struct Job {
    password: String,
    hash: String,
    answer: oneshot::Sender<bool>,
}

/// The worker threads and their queue.
#[derive(Debug)]
struct Workers {
    /// Jobs for the workers. A std channel: the workers are OS threads that block on it. `None`
    /// once shut down, which ends the workers.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Joined at shutdown; a std mutex, only touched to push at start and drain at the end.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job { .. }")
    }
}

/// Checks passwords on a fixed number of worker threads (see the module doc).
#[derive(Debug)]
pub struct PasswordChecks {
    workers_wanted: usize,
    /// Admission, one permit per worker: a tokio semaphore because those waiting are requests
    /// (async tasks), and a permit held means a worker is free for the job.
    permits: Arc<Semaphore>,
    /// Started on the first check: most hubs (tests, the CLI) never check a password.
    workers: OnceLock<Workers>,
}

impl Default for PasswordChecks {
    fn default() -> Self {
        Self::new(NonZeroU32::new(2).expect("not zero"))
    }
}

/// A free worker, held until its check is done.
#[derive(Debug)]
pub struct CheckSlot<'a> {
    checks: &'a PasswordChecks,
    _permit: OwnedSemaphorePermit,
}

impl PasswordChecks {
    /// At most `at_once` checks run at the same time; the others wait their turn.
    pub fn new(at_once: NonZeroU32) -> Self {
        let workers = usize::try_from(at_once.get())
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Self {
            workers_wanted: workers,
            permits: Arc::new(Semaphore::new(workers)),
            workers: OnceLock::new(),
        }
    }

    /// Waits until a worker is free.
    pub async fn slot(&self) -> CheckSlot<'_> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        CheckSlot {
            checks: self,
            _permit: permit,
        }
    }

    fn workers(&self) -> &Workers {
        self.workers.get_or_init(|| {
            let (jobs, queue) = mpsc::channel::<Job>();
            // The workers share the one receiver; whoever holds the lock waits for the next job.
            let queue = Arc::new(Mutex::new(queue));
            let threads = (0..self.workers_wanted)
                .map(|n| {
                    let queue = queue.clone();
                    std::thread::Builder::new()
                        .name(format!("password-check-{n}"))
                        .spawn(move || work(&queue))
                        .expect("cannot start a password-check thread")
                })
                .collect();
            Workers {
                jobs: Mutex::new(Some(jobs)),
                threads: Mutex::new(threads),
            }
        })
    }

    /// Stops the workers once they finish the check in hand.
    pub async fn shutdown(&self) {
        let Some(workers) = self.workers.get() else { return };
        workers.jobs.lock().expect("not poisoned").take();
        let threads = std::mem::take(&mut *workers.threads.lock().expect("not poisoned"));
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl CheckSlot<'_> {
    /// Whether `password` matches `hash` (an argon2 PHC string).
    pub async fn verify(self, password: &str, hash: &str) -> bool {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            password: password.to_owned(),
            hash: hash.to_owned(),
            answer,
        };
        let sent = match &*self.checks.workers().jobs.lock().expect("not poisoned") {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        sent && answered.await.unwrap_or(false)
    }
}

/// A worker: checks jobs one after the other in its own, reused, argon2 memory.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        let next = queue.lock().expect("not poisoned").recv();
        let Ok(job) = next else { return };
        let matched = verify_in(&mut memory, job.password.as_bytes(), &job.hash);
        let _ = job.answer.send(matched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_the_memory_is_reused() {
        let hash = hash_password("switchboard-demo").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        check_password_hash(&hash).unwrap();
        let mut memory = Vec::new();
        assert!(verify_in(&mut memory, b"switchboard-demo", &hash));
        let buffer = memory.as_ptr();
        assert!(!verify_in(&mut memory, b"switchboard-demo ", &hash));
        assert_eq!(
            memory.as_ptr(),
            buffer,
            "the second check reuses the first one's memory"
        );
        assert_eq!(memory.len(), Params::default().block_count());
        assert!(check_password_hash("plain text").is_err());
        assert!(!verify_in(&mut memory, b"x", "plain text"));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_hash = hash_password("whatever").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.unwrap().len(), real.hash.unwrap().len());
        check_password_hash(DUMMY_HASH).unwrap();
        assert!(!verify_in(&mut Vec::new(), b"", DUMMY_HASH));
    }

    #[test]
    fn hashes_asking_for_too_much_memory_are_refused() {
        let greedy =
            "$argon2id$v=19$m=4194304,t=2,p=1$c3dpdGNoYm9hcmQtZHVtbXk$6QR6TUmGszFC0RGx1YfS6kOJrF4oA2rdXrZXYp9/2VQ";
        assert!(check_password_hash(greedy).unwrap_err().contains("at most"));
        let mut memory = Vec::new();
        assert!(!verify_in(&mut memory, b"x", greedy));
        assert!(memory.is_empty(), "nothing was allocated for it");
    }

    #[tokio::test]
    async fn checks_run_on_the_workers_and_answer_each_caller() {
        let checks = PasswordChecks::new(NonZeroU32::new(2).unwrap());
        let hash = hash_password("right").unwrap();
        let attempt = |password: &'static str| {
            let (checks, hash) = (&checks, &hash);
            async move { checks.slot().await.verify(password, hash).await }
        };
        let answers = tokio::join!(attempt("right"), attempt("wrong"), attempt("right"), attempt("nope"));
        assert_eq!(answers, (true, false, true, false));
        checks.shutdown().await;
        assert!(
            !checks.slot().await.verify("right", &hash).await,
            "after shutdown nothing matches"
        );
    }
}
