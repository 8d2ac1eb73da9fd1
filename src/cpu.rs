//! The bounded pool for CPU- and memory-heavy work (image decoding, password hashing).
//!
//! Such work never runs on the async executor and never while holding a database
//! connection: a request that needs both takes its turn here first, then a connection.
//! The pool has its own threads, one per core, so a burst of uploads or logins costs a
//! bounded amount of memory (at most one task's worth per thread, and no more allocator
//! arenas than threads) and leaves the database pool, and `/healthz`, free.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::AppError;

type Task = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct CpuPool {
    tasks: Sender<Task>,
}

impl CpuPool {
    /// A pool of `threads` threads (at least one); they end when the last clone is dropped.
    pub fn new(threads: usize) -> CpuPool {
        let (tasks, queue) = channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("accolade-cpu-{n}"))
                .spawn(move || work_off(&queue))
                .expect("spawning a CPU pool thread");
        }
        CpuPool { tasks }
    }

    /// One thread per core.
    pub fn per_core() -> CpuPool {
        CpuPool::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Runs `work` on the pool when a thread is free; the caller waits without blocking
    /// the async executor. A panic in `work` becomes an internal error.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let task: Task = Box::new(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
        });
        self.tasks
            .send(task)
            .map_err(|_| AppError::internal("cpu pool: stopped"))?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(AppError::internal("cpu task panicked")),
            Err(_) => Err(AppError::internal("cpu pool: task dropped")),
        }
    }
}

fn work_off(queue: &Mutex<Receiver<Task>>) {
    loop {
        // The lock is held only while waiting for the next task, never while running it.
        let task = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(task) = task else { return };
        task();
    }
}

/// Sets the allocator so that memory freed after a burst goes back to the operating
/// system. glibc raises its mmap threshold each time a large block is freed (up to
/// 32 MiB), after which argon2's 19 MiB blocks and the buffers of image decoding come from
/// the heap arenas of whichever thread ran them, and stay there: 200 failed logins left a
/// server 343 MiB larger for good. A fixed threshold keeps every block of 1 MiB or more in
/// its own mapping, unmapped when freed. Called by `Application::build`, so the binary and
/// the in-process test servers run the same way.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn runs_tasks_and_survives_a_panic() {
        let pool = CpuPool::new(2);
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| "still here").await.unwrap(), "still here");
    }
}
