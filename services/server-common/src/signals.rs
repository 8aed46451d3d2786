//! Graceful shutdown: SIGINT and SIGTERM start a drain bounded by a grace
//! period; a second signal exits at once.
//!
//! A [`Shutdown`] is a cancellation token plus the grace period. Servers pass
//! [`Shutdown::requested`] to `serve_with_incoming_shutdown`; background
//! tasks select on [`Shutdown::token`]; the binary bounds its final wait
//! with [`Shutdown::drain`].

use std::future::Future;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tracing::{info, warn};

/// Shared shutdown state: a cancellation token and the drain grace period.
#[derive(Debug, Clone)]
pub struct Shutdown {
    token: CancellationToken,
    grace: Duration,
}

impl Shutdown {
    /// A shutdown that nothing has requested yet.
    pub fn new(grace: Duration) -> Self {
        Self {
            token: CancellationToken::new(),
            grace,
        }
    }

    /// A shutdown that starts with this one, and can also be triggered on
    /// its own without affecting this one (e.g. one server of several).
    pub fn child(&self) -> Self {
        Self {
            token: self.token.child_token(),
            grace: self.grace,
        }
    }

    /// The token background tasks watch; cancelled when shutdown starts.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The grace period of the drain.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Starts the drain (what the first signal does).
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// True once the drain has started.
    pub fn is_requested(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the drain starts; owned, so it can be handed to
    /// `serve_with_incoming_shutdown`.
    pub fn requested(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// Resolves `grace` after the drain started.
    pub fn deadline(&self) -> impl Future<Output = ()> + Send + 'static {
        let token = self.token.clone();
        let grace = self.grace;
        async move {
            token.cancelled().await;
            tokio::time::sleep(grace).await;
        }
    }

    /// Runs `work` to completion, or until the grace period after the drain
    /// started runs out; `None` means the grace period ran out first.
    pub async fn drain<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            () = self.deadline() => {
                warn!(grace = %humantime::format_duration(self.grace), "drain grace period elapsed");
                None
            }
        }
    }

    /// Installs the SIGINT and SIGTERM handlers: the first signal triggers
    /// the drain, a second one exits the process at once with 128 + signal.
    ///
    /// Must be called inside a tokio runtime.
    pub fn listen_for_signals(&self) -> std::io::Result<JoinHandle<()>> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let shutdown = self.clone();
        Ok(tokio::spawn(async move {
            let first = next_signal(&mut interrupt, &mut terminate).await;
            info!(
                signal = first.name(),
                grace = %humantime::format_duration(shutdown.grace),
                "shutdown requested, draining"
            );
            shutdown.trigger();
            let second = next_signal(&mut interrupt, &mut terminate).await;
            warn!(signal = second.name(), "second signal, exiting at once");
            std::process::exit(128 + second.number());
        }))
    }
}

#[derive(Debug, Clone, Copy)]
enum Received {
    Interrupt,
    Terminate,
}

impl Received {
    fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    fn number(self) -> i32 {
        match self {
            Self::Interrupt => 2,
            Self::Terminate => 15,
        }
    }
}

async fn next_signal(
    interrupt: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
) -> Received {
    tokio::select! {
        _ = interrupt.recv() => Received::Interrupt,
        _ = terminate.recv() => Received::Terminate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drain_returns_work_output_when_it_finishes_in_time() {
        let shutdown = Shutdown::new(Duration::from_secs(30));
        shutdown.trigger();
        let out = shutdown.drain(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            7
        });
        assert_eq!(out.await, Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn drain_gives_up_after_grace() {
        let shutdown = Shutdown::new(Duration::from_secs(30));
        shutdown.trigger();
        let start = tokio::time::Instant::now();
        let out = shutdown.drain(futures::future::pending::<()>()).await;
        assert_eq!(out, None);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn grace_only_starts_when_shutdown_is_requested() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let trigger = shutdown.clone();
        let start = tokio::time::Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(100)).await;
            trigger.trigger();
        });
        let out = shutdown.drain(futures::future::pending::<()>()).await;
        assert_eq!(out, None);
        assert_eq!(start.elapsed(), Duration::from_secs(101));
        assert!(shutdown.is_requested());
    }
}
