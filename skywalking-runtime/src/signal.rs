//! [`shutdown_signal`]: the future a server awaits to shut down gracefully, so that the
//! agent's guard is dropped (and flushes) before the process is killed.

use std::future::Future;

/// A future that resolves when the process is asked to stop: `SIGTERM` (what Kubernetes,
/// Docker and systemd send first) or `SIGINT` (Ctrl-C); Ctrl-C only where there are no
/// Unix signals. Feature `signal`.
///
/// Give it to a server's graceful shutdown and keep the [`Agent`](crate::Agent) alive
/// until the server returns: the agent is dropped after the last request finished and
/// sends what is still queued (within its shutdown timeout, 5 s by default) before the
/// process exits. Kubernetes waits `terminationGracePeriodSeconds` (30 s by default)
/// after `SIGTERM` before it kills the pod.
///
/// ```no_run
/// use skywalking_runtime as sw;
/// # async fn serve(shutdown: impl std::future::Future<Output = ()>) { shutdown.await }
///
/// #[tokio::main]
/// async fn main() -> Result<(), sw::Error> {
///     let _agent = sw::init()?;
///     // With axum: axum::serve(listener, app).with_graceful_shutdown(sw::shutdown_signal())
///     // With tonic: Server::builder().add_service(..).serve_with_shutdown(addr, sw::shutdown_signal())
///     serve(sw::shutdown_signal()).await;
///     Ok(()) // `_agent` drops here: what is still queued is sent
/// }
/// ```
///
/// The signal handlers are installed when this is called inside a tokio runtime (or
/// else when the future is first polled), so a signal that arrives after the call is
/// never missed. If they cannot be installed, the future never resolves and a line says
/// so on stderr; the process then keeps the signal's default behaviour.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let early = tokio::runtime::Handle::try_current()
        .ok()
        .map(|_| Handlers::install());
    async move {
        let handlers = match early {
            Some(handlers) => handlers,
            None => Handlers::install(),
        };
        handlers.recv().await;
    }
}

/// The installed handlers (each `None` if it could not be installed).
struct Handlers {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl Handlers {
    #[cfg(unix)]
    fn install() -> Handlers {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(e) => {
                eprintln!("skywalking-agent WARN: shutdown_signal cannot handle {name}: {e}");
                None
            }
        };
        Handlers {
            terminate: install(SignalKind::terminate(), "SIGTERM"),
            interrupt: install(SignalKind::interrupt(), "SIGINT"),
        }
    }

    #[cfg(not(unix))]
    fn install() -> Handlers {
        Handlers {}
    }

    #[cfg(unix)]
    async fn recv(mut self) {
        std::future::poll_fn(|cx| {
            for signal in [&mut self.terminate, &mut self.interrupt]
                .into_iter()
                .flatten()
            {
                if signal.poll_recv(cx).is_ready() {
                    return std::task::Poll::Ready(());
                }
            }
            std::task::Poll::Pending
        })
        .await;
    }

    #[cfg(not(unix))]
    async fn recv(self) {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("skywalking-agent WARN: shutdown_signal cannot handle Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    }
}
