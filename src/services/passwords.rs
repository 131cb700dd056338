//! Password hashing with argon2id, off the async workers.
//!
//! Hashing is deliberately slow and memory-hungry (19 MiB each with the OWASP
//! parameters), so it runs on a few threads of its own, one per two CPUs, fed
//! by a queue. A storm of logins then waits its turn instead of multiplying memory
//! (a fixed set of threads also keeps the allocator from holding a 19 MiB
//! block for every thread that ever hashed), and never stalls the async
//! workers that serve pages. The hashing threads also run at a lower
//! priority than the rest: when page views and logins compete for the CPU,
//! page views go first and logins wait longer; when there is CPU to spare,
//! hashing takes it as before.

use std::sync::{
    Arc, Condvar, Mutex,
    atomic::{AtomicUsize, Ordering},
    mpsc,
};

use anyhow::Context;
use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher as _, PasswordVerifier as _},
};
use tokio::sync::{OnceCell, oneshot};

use crate::domain::{Password, PasswordInput};

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

type Job = Box<dyn FnOnce() + Send>;

struct Inner {
    jobs: mpsc::Sender<Job>,
    /// Verified against when a username does not exist, so that an unknown
    /// name costs exactly the work of a wrong password.
    dummy_hash: OnceCell<String>,
    /// Hashes queued or running.
    pending: AtomicUsize,
    /// At most this many pending (0: no bound). Beyond it a hash is refused
    /// at once rather than queued: each waiting login holds its request, its
    /// password and a client, and a queue that only grows makes every
    /// login wait longer.
    max_pending: usize,
    /// While true, the hashing threads take no new job (see [`PasswordHasher::pause`]).
    paused: Mutex<bool>,
    resumed: Condvar,
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are waiting: try again in a moment.
    #[error("too many passwords are waiting to be checked")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Counts a job as pending from the moment it is queued until it has run
/// or been skipped.
struct PendingJob(Arc<Inner>);

impl Drop for PendingJob {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Keeps the hashing threads from taking new jobs until dropped.
#[must_use = "the hashing threads resume when this is dropped"]
pub struct Paused(Arc<Inner>);

impl Drop for Paused {
    fn drop(&mut self) {
        *self.0.paused.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.0.resumed.notify_all();
    }
}

/// How much nicer than the process the hashing threads are (Unix nice
/// values): under a storm of logins, page views keep most of the CPU and
/// their latency, and logins slow down instead; with nothing else to run,
/// logins are as fast as ever (bench/RESULTS.md has the measurements).
const HASHING_NICENESS: i32 = 10;

/// Lowers the calling thread's priority by [`HASHING_NICENESS`] (on Linux the
/// nice value belongs to the thread, not the process).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread (who = 0); no memory
    // of ours is read or written.
    let result = unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        libc::setpriority(libc::PRIO_PROCESS, 0, (current + HASHING_NICENESS).min(19))
    };
    if result != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "could not lower the priority of a hashing thread"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Returns what this thread freed to the system now. A hash's 19 MiB is
/// freed when it ends, but mimalloc hands freed memory back only on a later
/// call from the same thread, and a hashing thread then sleeps until the
/// next login, so the memory would stay with the process. It is done when
/// the queue is empty rather than after every hash, which would make each
/// hash of a busy queue fault its memory in again.
fn hand_back_freed_memory() {
    // SAFETY: mi_collect only walks the calling thread's own heap; it is a
    // no-op for memory mimalloc did not allocate (as in tests, where the
    // system allocator is the global one).
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// argon2id v1.3, m = 19 MiB, t = 2, p = 1: OWASP's recommended minimum.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

impl PasswordHasher {
    /// Starts `threads` hashing threads, which accept at most `max_pending`
    /// hashes at once (0: no bound); they end when the last clone of this
    /// hasher is dropped.
    pub fn new(threads: usize, max_pending: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let inner = Arc::new(Inner {
            jobs: tx,
            dummy_hash: OnceCell::new(),
            pending: AtomicUsize::new(0),
            max_pending,
            paused: Mutex::new(false),
            resumed: Condvar::new(),
        });
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            // The threads hold the gate, not the hasher: dropping the last
            // hasher closes the queue and ends them.
            let gate = Arc::downgrade(&inner);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let Ok(queue) = rx.lock() else { return };
                        let job = match queue.try_recv() {
                            Ok(job) => job,
                            Err(mpsc::TryRecvError::Disconnected) => return,
                            Err(mpsc::TryRecvError::Empty) => {
                                // Nothing queued: hand the last hash's memory
                                // back before sleeping. (Within a storm the
                                // next hash reuses it instead.)
                                hand_back_freed_memory();
                                match queue.recv() {
                                    Ok(job) => job,
                                    Err(_) => return,
                                }
                            }
                        };
                        drop(queue);
                        if let Some(inner) = gate.upgrade() {
                            inner.wait_while_paused();
                        }
                        job();
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        Self { inner }
    }

    /// One hashing thread per two CPUs (at least one): a storm of logins
    /// then leaves half the machine to everything else, so pages stay quick
    /// while logins queue.
    pub fn per_cpu(max_pending: usize) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new((cpus / 2).max(1), max_pending)
    }

    /// Hashes queued or running now.
    pub fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::Acquire)
    }

    /// Holds every hash that has not started yet until the guard is dropped:
    /// a seam for tests that need a login to wait, on purpose, between
    /// reading a password hash and checking it.
    pub fn pause(&self) -> Paused {
        *self.inner.paused.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Paused(self.inner.clone())
    }

    /// A PHC string with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("Failed to hash a password")
        })
        .await
    }

    /// Checks `input` against `phc`, or against a dummy hash when there is no
    /// account, so that both cases do the same work.
    pub async fn verify(
        &self,
        input: &PasswordInput,
        phc: Option<String>,
    ) -> Result<bool, HashError> {
        let (phc, real) = match phc {
            Some(phc) => (phc, true),
            None => (self.dummy_hash().await?.clone(), false),
        };
        let input = input.expose().to_owned();
        let matches = self
            .run(move || {
                Ok(argon2()
                    .verify_password(input.as_bytes(), phc.as_str())
                    .is_ok())
            })
            .await?;
        Ok(real && matches)
    }

    async fn dummy_hash(&self) -> Result<&String, HashError> {
        self.inner
            .dummy_hash
            .get_or_try_init(|| async {
                let random = crate::domain::SessionSecret::generate()
                    .context("Failed to make a dummy password")?
                    .encode();
                self.hash(&Password::generated(random)).await
            })
            .await
    }

    /// Queues `work` for a hashing thread, unless too many wait already. A
    /// job whose caller has gone (the client hung up, so its request was
    /// dropped) is skipped rather than hashed for nobody.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let before = self.inner.pending.fetch_add(1, Ordering::AcqRel);
        let pending = PendingJob(self.inner.clone());
        if self.inner.max_pending > 0 && before >= self.inner.max_pending {
            return Err(HashError::Busy);
        }
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            let result = work();
            // No longer pending once done, before the caller hears of it.
            drop(pending);
            let _ = done.send(result);
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("the hashing threads are gone"))?;
        Ok(result
            .await
            .map_err(|_| anyhow::anyhow!("a hashing thread stopped mid-job"))??)
    }
}

impl Inner {
    fn wait_while_paused(&self) {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        while *paused {
            paused = self.resumed.wait(paused).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::generated(s.to_owned())
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::new(1, 0);
        let phc = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify(&PasswordInput::new("correct horse"), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&PasswordInput::new("correct horsE"), Some(phc))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn each_hash_has_its_own_salt() {
        let hasher = PasswordHasher::new(2, 0);
        let a = hasher.hash(&password("same password")).await.unwrap();
        let b = hasher.hash(&password("same password")).await.unwrap();
        assert_ne!(a, b);
    }

    /// Every hashing thread runs HASHING_NICENESS nicer than the process.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_nicer_than_the_process() {
        fn nice_in(stat: &str) -> i32 {
            // Field 19 of /proc/…/stat, the 17th after "pid (comm)".
            let rest = stat.rsplit_once(')').unwrap().1;
            rest.split_whitespace().nth(16).unwrap().parse().unwrap()
        }
        let hasher = PasswordHasher::new(1, 0);
        hasher.hash(&password("wake the thread")).await.unwrap();
        let process = nice_in(&std::fs::read_to_string("/proc/self/stat").unwrap());
        let mut seen = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
                continue; // the thread ended meanwhile
            };
            if comm.trim().starts_with("argon2-")
                && let Ok(stat) = std::fs::read_to_string(dir.join("stat"))
            {
                assert_eq!(nice_in(&stat), (process + HASHING_NICENESS).min(19));
                seen += 1;
            }
        }
        assert!(seen >= 1, "no hashing thread found");
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let hasher = PasswordHasher::new(1, 0);
        assert!(
            !hasher
                .verify(&PasswordInput::new("anything at all"), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_does_not_verify() {
        let hasher = PasswordHasher::new(1, 0);
        let ok = hasher
            .verify(&PasswordInput::new("x"), Some("not a phc".into()))
            .await
            .unwrap();
        assert!(!ok);
    }

    #[tokio::test]
    async fn beyond_the_bound_a_hash_is_refused_at_once() {
        let hasher = PasswordHasher::new(1, 2);
        let paused = hasher.pause();
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(&password("waiting in line")).await })
            })
            .collect();
        while hasher.pending() < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            hasher.hash(&password("one too many")).await,
            Err(HashError::Busy)
        ));
        assert_eq!(hasher.pending(), 2, "a refusal holds no place");
        drop(paused);
        for w in waiting {
            assert!(w.await.unwrap().is_ok());
        }
        assert_eq!(hasher.pending(), 0);
    }

    #[tokio::test]
    async fn a_job_whose_caller_has_gone_is_skipped() {
        let hasher = PasswordHasher::new(1, 0);
        let ran = Arc::new(AtomicUsize::new(0));
        let paused = hasher.pause();
        let abandoned = {
            let (h, ran) = (hasher.clone(), ran.clone());
            tokio::spawn(async move {
                h.run(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
            })
        };
        while hasher.pending() < 1 {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        let _ = abandoned.await;
        drop(paused);
        let kept = {
            let ran = ran.clone();
            hasher.run(move || {
                ran.fetch_add(10, Ordering::SeqCst);
                Ok(())
            })
        };
        kept.await.unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            10,
            "only the job still awaited ran"
        );
        assert_eq!(hasher.pending(), 0);
    }
}
