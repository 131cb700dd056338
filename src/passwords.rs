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

use std::sync::{Arc, Mutex, mpsc};

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
}

/// How much nicer than the process the hashing threads are (Unix nice
/// values). Measured under a login storm beside a full load of page views
/// (bench/RESULTS.md): at 0 the pages' p99 rose 1.8–2.3×, at 10 it rose
/// 1.3–1.5× while logins slowed from ~47/s to ~19/s (nothing else competing,
/// logins are as fast as before).
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
/// next login: the server's resident memory stayed 19 MiB higher, often for
/// good. Done after every hash, the next hash had to fault the memory in
/// again (a third more CPU per login), so it is done when the queue is empty
/// (measured: bench/RESULTS.md).
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
    /// Starts `threads` hashing threads; they end when the last clone of
    /// this hasher is dropped.
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
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
                        job();
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        Self {
            inner: Arc::new(Inner {
                jobs: tx,
                dummy_hash: OnceCell::new(),
            }),
        }
    }

    /// One hashing thread per two CPUs (at least one): a storm of logins
    /// then leaves half the machine to everything else, so pages stay quick
    /// while logins queue.
    pub fn per_cpu() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new((cpus / 2).max(1))
    }

    /// A PHC string with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let password = password.expose().to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await
        .context("Failed to hash a password")
    }

    /// Checks `input` against `phc`, or against a dummy hash when there is no
    /// account, so that both cases do the same work.
    pub async fn verify(&self, input: &PasswordInput, phc: Option<String>) -> anyhow::Result<bool> {
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
            .await
            .context("Failed to verify a password")?;
        Ok(real && matches)
    }

    async fn dummy_hash(&self) -> anyhow::Result<&String> {
        self.inner
            .dummy_hash
            .get_or_try_init(|| async {
                let random = crate::domain::SessionSecret::generate()?.encode();
                let dummy = Password::parse(PasswordInput::new(random))?;
                self.hash(&dummy).await
            })
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("the hashing threads are gone"))?;
        result
            .await
            .map_err(|_| anyhow::anyhow!("a hashing thread stopped mid-job"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse(PasswordInput::new(s)).unwrap()
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::new(1);
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
        let hasher = PasswordHasher::new(2);
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
        let hasher = PasswordHasher::new(1);
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
        let hasher = PasswordHasher::new(1);
        assert!(
            !hasher
                .verify(&PasswordInput::new("anything at all"), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_does_not_verify() {
        let hasher = PasswordHasher::new(1);
        let ok = hasher
            .verify(&PasswordInput::new("x"), Some("not a phc".into()))
            .await
            .unwrap();
        assert!(!ok);
    }
}
