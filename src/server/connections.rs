//! Accepting and serving connections, with the protections `axum::serve` does not offer: a
//! client must send its first bytes, then its request headers, within the client timeout
//! (slowloris, and sockets opened and left silent), an idle keep-alive connection is closed
//! after it, and on shutdown in-flight requests finish (up to a grace period) while idle
//! connections close. TCP_NODELAY on every socket.
//!
//! The protocol is told from the first bytes, peeked rather than read: HTTP/2's preface starts
//! `PRI`, which no HTTP/1 method does. hyper then reads the socket itself with nothing in
//! between (hyper-util's version sniffing reads the bytes and replays them, which doubles each
//! connection's read buffer).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// How long in-flight requests (streams included) get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The protocols a connection may speak, configured once.
struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    client_timeout: Duration,
}

/// What a connection's first bytes say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    client_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout)
        .keep_alive(true);
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(client_timeout))
        .keep_alive_timeout(client_timeout);
    let protocols = Arc::new(Protocols {
        http1,
        http2,
        client_timeout,
    });
    // Each connection holds a receiver: a send asks them to wind down, and the channel closes
    // when the last one is gone.
    let (stop, stopping) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_one(
            protocols.clone(),
            stream,
            app.clone(),
            stopping.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    tokio::select! {
        () = stop.closed() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("shutdown grace period over; closing the remaining connections");
        }
    }
}

/// One connection, from its first bytes to its end.
async fn serve_one(
    protocols: Arc<Protocols>,
    stream: TcpStream,
    app: Router,
    mut stopping: watch::Receiver<()>,
) {
    let protocol = tokio::select! {
        told = tokio::time::timeout(protocols.client_timeout, protocol_of(&stream)) => match told {
            Ok(Ok(protocol)) => protocol,
            // Silent for the client timeout, closed before a byte, or broken: nothing to serve.
            _ => return,
        },
        _ = stopping.changed() => return,
    };
    // Each request's head copied out of hyper's read buffer, so a stream does not keep it.
    let service = TowerToHyperService::new(app.map_request(|mut req: Request<Incoming>| {
        super::head::detach(&mut req);
        req
    }));
    let io = TokioIo::new(stream);
    let ended = match protocol {
        Protocol::Http1 => {
            let conn = protocols
                .http1
                .serve_connection(io, service)
                .with_upgrades();
            until_done(conn, &mut stopping, |c| c.graceful_shutdown()).await
        }
        Protocol::Http2 => {
            let conn = protocols.http2.serve_connection(io, service);
            until_done(conn, &mut stopping, |c| c.graceful_shutdown()).await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Drives `conn` to its end; when shutdown begins, asks it to finish what is in flight first.
async fn until_done<C>(
    conn: C,
    stopping: &mut watch::Receiver<()>,
    wind_down: impl FnOnce(Pin<&mut C>),
) -> Result<(), hyper::Error>
where
    C: std::future::Future<Output = Result<(), hyper::Error>>,
{
    tokio::pin!(conn);
    // In order, not in a random one: this is polled on every wake of the connection (each
    // chunk of a stream), and the connection is what is usually ready.
    tokio::select! {
        biased;
        ended = conn.as_mut() => return ended,
        _ = stopping.changed() => wind_down(conn.as_mut()),
    }
    conn.await
}

/// The protocol `stream`'s first bytes speak, once there are some; an error when the client
/// closed before sending any.
async fn protocol_of(stream: &TcpStream) -> std::io::Result<Protocol> {
    let mut first = [0u8; 3];
    let n = stream.peek(&mut first).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(protocol_from(&first[..n]))
}

/// HTTP/2 when the bytes begin its preface (`PRI * HTTP/2.0…`), HTTP/1 otherwise — also when
/// fewer than three bytes have come, since HTTP/2 clients send their 24-byte preface at once.
fn protocol_from(first: &[u8]) -> Protocol {
    if first.starts_with(b"PRI") {
        Protocol::Http2
    } else {
        Protocol::Http1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_says_http2_and_anything_else_http1() {
        assert_eq!(
            protocol_from(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Protocol::Http2
        );
        assert_eq!(protocol_from(b"PRI"), Protocol::Http2);
        for first in [
            &b"POST /v1/messages"[..],
            b"PUT",
            b"GET",
            b"PR",
            b"P",
            b"\x16\x03",
        ] {
            assert_eq!(protocol_from(first), Protocol::Http1, "{first:?}");
        }
    }
}
