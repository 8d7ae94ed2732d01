//! [`Threads`]: how many threads a kernel may use, the caller's choice (one by default).
//!
//! The kernels that take it split their work into contiguous pieces, and each piece computes
//! its outputs with the same operations in the same order as one thread would. So results
//! never depend on the thread count: the tests hold two and three threads to one bit for bit.
//! The training step's pieces and faer's products run on rayon's global pool (one thread per
//! core unless `RAYON_NUM_THREADS` says otherwise); batch norm's on [`run_pieces`]: the
//! caller's thread and a private pool of helpers.

use std::num::NonZeroUsize;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use faer::Par;
use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// How many threads a kernel may use: at least one.
///
/// ```
/// use dnn_proofs::Threads;
/// assert_eq!(Threads::new(2)?.get(), 2);
/// assert_eq!(Threads::default(), Threads::ONE);
/// assert!(Threads::new(0).is_err());
/// # Ok::<(), dnn_proofs::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads(NonZeroUsize);

impl Threads {
    /// One thread: everything on the caller's thread.
    pub const ONE: Self = Self(NonZeroUsize::MIN);

    /// `n` threads, n ≥ 1; 0 is [`Error::ParameterOutOfRange`].
    pub fn new(n: usize) -> Result<Self> {
        NonZeroUsize::new(n)
            .map(Self)
            .ok_or(Error::ParameterOutOfRange {
                name: "threads",
                value: n as f64,
                range: "at least 1",
            })
    }

    /// The number of threads.
    pub fn get(self) -> usize {
        self.0.get()
    }

    /// faer's parallelism for this count: sequential for one thread.
    pub(crate) fn par(self) -> Par {
        if self.get() == 1 {
            Par::Seq
        } else {
            Par::Rayon(self.0)
        }
    }

    /// Runs `f` on `self` contiguous pieces of `data`, each a whole number of `unit`s
    /// (a column, say); `f` gets the index of the piece's first unit. One piece: no rayon.
    pub(crate) fn split<T: Send>(
        self,
        data: &mut [T],
        unit: usize,
        f: impl Fn(usize, &mut [T]) -> Result<()> + Sync,
    ) -> Result<()> {
        let unit = unit.max(1);
        let units = data.len().div_ceil(unit);
        let per = units.div_ceil(self.get()).max(1);
        if self.get() == 1 || units <= 1 {
            f(0, data)
        } else {
            data.par_chunks_mut(per * unit)
                .enumerate()
                .try_for_each(|(i, piece)| f(i * per, piece))
        }
    }
}

impl Default for Threads {
    fn default() -> Self {
        Self::ONE
    }
}

/// Runs `work` on every piece and returns when all are done: the first piece on the caller's
/// thread, the others on a pool of helper threads (one fewer than the machine's cores), so
/// n pieces keep n threads busy, the caller among them. With one piece, when called from a
/// helper (a `work` that calls `run_pieces`), or if the pool cannot be built, everything runs
/// on the caller's thread, in order.
///
/// After a call that used them, the helpers stay awake for the next one, yielding the core,
/// for up to 100 µs (a helper woken from sleep can start its piece 10–50 µs late).
///
/// ```
/// use dnn_proofs::threads::run_pieces;
/// let mut data = vec![1.0f32; 1000];
/// let pieces: Vec<&mut [f32]> = data.chunks_mut(500).collect();
/// run_pieces(pieces, |piece| piece.iter_mut().for_each(|v| *v *= 2.0));
/// assert!(data.iter().all(|&v| v == 2.0));
/// ```
pub fn run_pieces<T: Send>(pieces: Vec<T>, work: impl Fn(T) + Sync) {
    let mut pieces = pieces.into_iter();
    let Some(first) = pieces.next() else {
        return;
    };
    let pool = helpers().filter(|pool| pool.current_thread_index().is_none());
    match (pieces.len(), pool) {
        (0, _) | (_, None) => {
            work(first);
            pieces.for_each(&work);
        }
        (_, Some(pool)) => {
            let pending = AtomicUsize::new(pieces.len());
            CALLS.fetch_add(1, Ordering::AcqRel);
            pool.in_place_scope(|scope| {
                let (work, pending) = (&work, &pending);
                for piece in pieces {
                    scope.spawn(move |_| {
                        work(piece);
                        pending.fetch_sub(1, Ordering::Release);
                    });
                }
                work(first);
                wait_awake(pending);
            });
            stay_awake(pool);
        }
    }
}

/// Waits until no piece is pending, yielding the core between looks rather than sleeping:
/// the helper typically finishes 8–10 µs after the caller (measured on the training forward
/// at 1 Mi on two cores), less than a sleeping thread takes to be woken here (handing work to
/// rayon from outside its pool and sleeping until it is done cost 12–16 µs, with empty work).
/// Yielding, not spinning, so that a helper the scheduler put on the caller's core can run.
fn wait_awake(pending: &AtomicUsize) {
    while pending.load(Ordering::Acquire) > 0 {
        std::thread::yield_now();
    }
}

/// How long the helpers stay awake after a call, for the next one: the tiles of one call
/// hand over pieces back to back, and so does a loop of calls. A helper that has gone to
/// sleep can take 10–50 µs to start its next piece. On the 2-core machine this was tuned on,
/// in some stretches 32–42% of the pieces of the training forward at 4096 × 256 (a call of
/// about 150 µs) started 10–50 µs late; with the helpers kept awake for 100 µs, 0.2–0.5%
/// did, and the median call ran 14–21% faster (five alternating runs of each).
const STAY_AWAKE: Duration = Duration::from_micros(100);

/// Calls that handed pieces to the helpers; a helper staying awake stops when it changes.
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Keeps each helper awake, yielding the core between looks, until the next call hands it
/// pieces or [`STAY_AWAKE`] has passed. Yielding, not spinning: a thread that wants the core
/// gets it.
fn stay_awake(pool: &ThreadPool) {
    let call = CALLS.load(Ordering::Acquire);
    for _ in 0..pool.current_num_threads() {
        pool.spawn(move || {
            let start = Instant::now();
            while CALLS.load(Ordering::Acquire) == call && start.elapsed() < STAY_AWAKE {
                std::thread::yield_now();
            }
        });
    }
}

/// A pool of one thread fewer than the machine's cores (at least one), built on first use,
/// for the pieces beside the caller's: with the caller working too, that is one busy thread
/// per core. Private, so the caller is never one of its threads: the pieces it spawns go to
/// the helpers' queue, never to the caller's own, and [`wait_awake`] cannot wait for work
/// only the caller could run (as it could from inside rayon's global pool). `None` if the
/// pool cannot be built.
fn helpers() -> Option<&'static ThreadPool> {
    static HELPERS: OnceLock<Option<ThreadPool>> = OnceLock::new();
    HELPERS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
            ThreadPoolBuilder::new()
                .num_threads(cores.saturating_sub(1).max(1))
                .thread_name(|i| format!("dnn-proofs-helper-{i}"))
                .build()
                .ok()
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece runs once, whether the pieces are fewer, as many as or more than the
    /// threads, and a `work` that itself calls `run_pieces` (from a helper) finishes.
    #[test]
    fn every_piece_runs_once_and_nested_calls_finish() {
        for n in [0, 1, 2, 3, 7] {
            let mut counts = vec![0u32; n];
            let pieces: Vec<&mut u32> = counts.iter_mut().collect();
            run_pieces(pieces, |c| *c += 1);
            assert!(counts.iter().all(|&c| c == 1), "{n} pieces: {counts:?}");
        }
        let mut outer = vec![[0u32; 4]; 3];
        let pieces: Vec<&mut [u32; 4]> = outer.iter_mut().collect();
        run_pieces(pieces, |inner| {
            run_pieces(inner.iter_mut().collect(), |c| *c += 1);
        });
        assert!(outer.iter().flatten().all(|&c| c == 1), "{outer:?}");
    }
}
