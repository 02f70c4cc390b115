//! Ctrl-C (SIGINT) while a client command runs: the handler is installed before the command
//! starts, so the signal never kills the client half-way; the command is dropped and the
//! caller says what became of the job (see `resume`).

/// SIGINT, caught.
pub struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    /// Installs the handler (from here on SIGINT no longer ends the process by itself).
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            let kind = tokio::signal::unix::SignalKind::interrupt();
            Ok(Self {
                signal: tokio::signal::unix::signal(kind)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves at the next Ctrl-C.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
