//! A TCP listener whose connections a request handler can sever without answering.
//!
//! Fault injection needs "the connection dropped mid-request" — what a client sees when a load
//! balancer resets it. axum handlers must return a response, so instead each accepted stream
//! carries a kill switch that the handler reaches through `ConnectInfo`: once flipped, reads see
//! EOF and writes fail, so hyper abandons the response and closes the socket. This keeps the
//! server on plain `axum::serve` instead of a hand-rolled hyper loop.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts [`KillableStream`]s.
pub struct KillableListener(pub TcpListener);

/// A TCP stream with a kill switch.
pub struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

/// Handle to one connection, available to handlers as `ConnectInfo<ConnHandle>`.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    killed: Arc<AtomicBool>,
    /// The twin's end and the client's end (the benchmark's timing finds the client process by them).
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

impl ConnHandle {
    /// Makes the connection fail: the response being produced is never written.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    return (
                        KillableStream {
                            inner,
                            killed: Arc::new(AtomicBool::new(false)),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    // Usually EMFILE; back off instead of spinning, like axum's own listener.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        let peer = *stream.remote_addr();
        Self {
            killed: stream.io().killed.clone(),
            local: stream.io().inner.local_addr().unwrap_or(peer),
            peer,
        }
    }
}

fn dead() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "connection dropped by fault injection")
}

impl AsyncRead for KillableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dead()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dead()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dead()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
