//! The bounded pool for CPU- and memory-heavy work (image decoding, password hashing).
//!
//! Such work never runs on the async executor and never while holding a database
//! connection: a request that needs both takes its turn here first, then a connection.
//! At most one task per core runs at a time, so a burst of uploads or logins costs a
//! bounded amount of memory and leaves the database pool (and `/healthz`) free.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::AppError;

#[derive(Clone)]
pub struct CpuPool {
    turns: Arc<Semaphore>,
}

impl CpuPool {
    /// A pool running `threads` tasks at a time (at least one).
    pub fn new(threads: usize) -> CpuPool {
        CpuPool {
            turns: Arc::new(Semaphore::new(threads.max(1))),
        }
    }

    /// One task per core.
    pub fn per_core() -> CpuPool {
        CpuPool::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Runs `work` when a turn is free, off the async executor.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _turn = self
            .turns
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("cpu turn: {e}")))?;
        actix_web::web::block(work)
            .await
            .map_err(|e| AppError::internal(format!("cpu task: {e}")))
    }
}
