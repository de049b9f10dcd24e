//! A TCP listener whose connections a request handler can sever without answering.
//!
//! Fault injection needs "the connection dropped mid-request" — what a client sees when a load
//! balancer resets it. axum handlers must return a response, so instead each accepted stream
//! carries a kill switch that the handler reaches through `ConnectInfo`: once flipped, reads see
//! EOF and writes fail, so hyper abandons the response and closes the socket. This keeps the
//! server on plain `axum::serve` instead of a hand-rolled hyper loop.
//!
//! Each stream also keeps a [`ConnClock`]: when the current request's first bytes were read and when
//! its response's last bytes were written. The benchmark times an AWS call from the one to the other,
//! so the twin's own HTTP parsing and writing count as the service's time, as they would in AWS,
//! instead of as the caller's.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
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
    clock: Arc<ConnClock>,
}

/// Socket-side times of the request being served on one connection (HTTP/1.1: one at a time), on
/// the measurement clock ([`crate::measure::mono_us`]).
#[derive(Debug, Default)]
pub struct ConnClock(Mutex<ConnTimes>);

#[derive(Debug, Default)]
struct ConnTimes {
    /// Reading a request (bytes came in since the last response was written).
    reading: bool,
    request_started_us: Option<u64>,
    /// Where the time of the current response's latest write goes.
    response_end: Option<Arc<AtomicU64>>,
}

impl ConnClock {
    fn times(&self) -> std::sync::MutexGuard<'_, ConnTimes> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the request now being served started to arrive.
    pub fn request_started_us(&self) -> Option<u64> {
        self.times().request_started_us
    }

    /// `end` is set to the time of each write of the response from now on, so it ends up holding
    /// when its last bytes left.
    pub fn track_response_end(&self, end: Arc<AtomicU64>) {
        self.times().response_end = Some(end);
    }

    fn read(&self, now_us: u64) {
        let mut t = self.times();
        if !t.reading {
            t.reading = true;
            t.request_started_us = Some(now_us);
            t.response_end = None;
        }
    }

    fn wrote(&self, now_us: u64) {
        let mut t = self.times();
        t.reading = false;
        if let Some(end) = &t.response_end {
            end.store(now_us, Ordering::Relaxed);
        }
    }
}

/// Handle to one connection, available to handlers as `ConnectInfo<ConnHandle>`.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    killed: Arc<AtomicBool>,
    pub clock: Arc<ConnClock>,
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
                            clock: Arc::default(),
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
            clock: stream.io().clock.clone(),
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
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read(crate::measure::mono_us());
        }
        read
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dead()));
        }
        let wrote = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(wrote, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.wrote(crate::measure::mono_us());
        }
        wrote
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_timed_from_its_first_bytes_in_to_its_last_bytes_out() {
        let clock = ConnClock::default();
        clock.read(10);
        clock.read(12); // the rest of the same request
        assert_eq!(clock.request_started_us(), Some(10));
        let end = Arc::new(AtomicU64::new(15));
        clock.track_response_end(end.clone());
        clock.wrote(17);
        clock.wrote(19);
        assert_eq!(end.load(Ordering::Relaxed), 19);
        // The next request on the connection starts its own time; its writes are not the last call's.
        clock.read(30);
        assert_eq!(clock.request_started_us(), Some(30));
        clock.wrote(31);
        assert_eq!(end.load(Ordering::Relaxed), 19);
    }
}
