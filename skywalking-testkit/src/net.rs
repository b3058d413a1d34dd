//! Sockets: binding a reusable listener, and connections that can be cut at once.
//!
//! A graceful gRPC shutdown waits for open calls, and an agent's client stream may
//! stay open forever. To make [`stop`](crate::MockCollector::stop) behave like a
//! collector going away, every accepted connection is wrapped in [`KillableIo`]:
//! once the kill token is cancelled, its next read or write fails (and a pending one
//! is woken to fail), so hyper drops the connection and the peer sees it closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::Error;

/// How long [`bind`] keeps retrying while the address is still in use.
const BIND_RETRY_FOR: Duration = Duration::from_secs(3);
const BIND_RETRY_EVERY: Duration = Duration::from_millis(25);

/// Binds `addr` with `SO_REUSEADDR`, retrying for a few seconds on `AddrInUse` (the
/// previous listener of a restart may still be closing).
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    let deadline = tokio::time::Instant::now() + BIND_RETRY_FOR;
    loop {
        match try_bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e)
                if e.kind() == io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(BIND_RETRY_EVERY).await;
            }
            Err(source) => return Err(Error::Bind { addr, source }),
        }
    }
}

fn try_bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The accepted connections of one server generation, as tonic wants them.
#[derive(Debug)]
pub(crate) struct Incoming {
    listener: TcpListener,
    kill: CancellationToken,
}

impl Incoming {
    pub(crate) fn new(listener: TcpListener, kill: CancellationToken) -> Self {
        Self { listener, kill }
    }
}

impl Stream for Incoming {
    type Item = io::Result<KillableIo>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.listener.poll_accept(cx).map(|accepted| {
            Some(accepted.map(|(stream, _peer)| {
                // Small gRPC frames should not wait for Nagle.
                let _ = stream.set_nodelay(true);
                KillableIo::new(stream, this.kill.clone())
            }))
        })
    }
}

/// A TCP connection that fails all I/O once its kill token is cancelled.
#[derive(Debug)]
pub(crate) struct KillableIo {
    stream: TcpStream,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl KillableIo {
    fn new(stream: TcpStream, kill: CancellationToken) -> Self {
        Self {
            stream,
            killed: Box::pin(kill.cancelled_owned()),
        }
    }

    /// Polls the kill token (registering the waker), and fails if it fired.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.killed.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "mock collector stopped",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Connected for KillableIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_pending_read_fails_when_killed() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let kill = CancellationToken::new();
        let mut incoming = Incoming::new(listener, kill.clone());
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut server = incoming.next().await.unwrap().unwrap();

        client.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");

        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1];
            server.read(&mut buf).await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        kill.cancel();
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
    }

    #[tokio::test]
    async fn rebinding_a_just_closed_port_works() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = first.local_addr().unwrap();
        drop(first);
        let again = bind(addr).await.unwrap();
        assert_eq!(again.local_addr().unwrap(), addr);
    }
}
