#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// What the test server does with each request on a connection: the bytes it answers with,
/// and what then becomes of the connection.
type Script = fn(usize) -> (&'static [u8], After);

#[derive(Clone, Copy, PartialEq)]
enum After {
    Keep,
    Close,
    /// Closed once the test says so (after the client put it back in its pool).
    CloseWhenReleased,
}

/// A test server: its base URL, the connections it accepted, and a signal for each it closed.
struct Server {
    base: String,
    accepted: Arc<AtomicUsize>,
    closed: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

/// A server on a free port answering by `script`.
async fn server(script: Script) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let (count, signal, released) = (accepted.clone(), closed.clone(), release.clone());
    tokio::spawn(async move {
        let mut served = 0;
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            served = serve(socket, script, served, &released).await;
            signal.notify_one();
        }
    });
    Server {
        base,
        accepted,
        closed,
        release,
    }
}

impl Server {
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Lets the server close a connection it holds, and waits until it has closed it and this
    /// side's reactor has seen that.
    async fn close_one(&self) {
        self.release.notify_one();
        self.closed.notified().await;
        // tokio wakes a yielding task after its I/O driver has run.
        tokio::task::yield_now().await;
    }
}

/// Answers requests on one connection until the script closes it; the requests served so far.
async fn serve(
    mut socket: TcpStream,
    script: Script,
    mut served: usize,
    release: &tokio::sync::Notify,
) -> usize {
    let mut read = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        while !read.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return served,
                Ok(n) => read.extend_from_slice(&buf[..n]),
            }
        }
        read.clear();
        let (answer, after) = script(served);
        served += 1;
        socket.write_all(answer).await.unwrap();
        match after {
            After::Keep => {}
            After::Close => return served,
            After::CloseWhenReleased => {
                release.notified().await;
                return served;
            }
        }
    }
}

fn pool(base: &str) -> Arc<PlainPool<Full<Bytes>>> {
    Arc::new(PlainPool::new(base, HttpConnector::new()).unwrap())
}

fn get(pool: &PlainPool<Full<Bytes>>) -> Request<Full<Bytes>> {
    Request::builder()
        .uri("/v1beta/models")
        .header(http::header::HOST, pool.host().clone())
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn body_of(pool: &Arc<PlainPool<Full<Bytes>>>) -> Vec<Bytes> {
    let response = pool.send(get(pool)).await.unwrap();
    response
        .into_body()
        .map(|chunk| chunk.unwrap())
        .collect()
        .await
}

fn three_chunks(_: usize) -> (&'static [u8], After) {
    let answer = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                  5\r\nfirst\r\n6\r\nsecond\r\n5\r\nthird\r\n0\r\n\r\n";
    (answer.as_bytes(), After::Keep)
}

#[tokio::test]
async fn chunks_read_together_come_as_one_and_the_connection_is_used_again() {
    let server = server(three_chunks).await;
    let pool = pool(&server.base);
    assert_eq!(
        body_of(&pool).await,
        [Bytes::from_static(b"firstsecondthird")]
    );
    assert_eq!(
        body_of(&pool).await,
        [Bytes::from_static(b"firstsecondthird")]
    );
    assert_eq!(server.accepted(), 1);
}

fn once_then_close(_: usize) -> (&'static [u8], After) {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    (answer, After::CloseWhenReleased)
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_not_used() {
    let server = server(once_then_close).await;
    let pool = pool(&server.base);
    assert_eq!(body_of(&pool).await, [Bytes::from_static(b"ok")]);
    assert_eq!(pool.idle.lock().unwrap().len(), 1);
    server.close_one().await;
    // Closed while in the pool: taking it finds it closed, and the pool is left empty.
    assert!(pool.checkout().is_none());
    assert!(pool.idle.lock().unwrap().is_empty());
    assert_eq!(body_of(&pool).await, [Bytes::from_static(b"ok")]);
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_request_a_reused_connection_gives_back_unsent_goes_on_a_new_one() {
    let server = server(once_then_close).await;
    let pool = pool(&server.base);
    assert_eq!(body_of(&pool).await, [Bytes::from_static(b"ok")]);
    server.close_one().await;
    // Taken without the check a checkout makes: hyper finds it closed and gives the request back.
    let Idle { conn, .. } = pool.idle.lock().unwrap().pop().unwrap();
    let response = pool.send_on(conn, true, get(&pool)).await.unwrap();
    let body: Vec<Bytes> = response.into_body().map(|c| c.unwrap()).collect().await;
    assert_eq!(body, [Bytes::from_static(b"ok")]);
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_body_dropped_before_its_end_closes_its_connection() {
    fn partial_then_whole(served: usize) -> (&'static [u8], After) {
        if served == 0 {
            let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";
            (head, After::Keep)
        } else {
            three_chunks(served)
        }
    }
    let server = server(partial_then_whole).await;
    let pool = pool(&server.base);
    let mut body = pool.send(get(&pool)).await.unwrap().into_body();
    assert_eq!(body.next().await.unwrap().unwrap(), "first");
    drop(body);
    assert_eq!(
        body_of(&pool).await,
        [Bytes::from_static(b"firstsecondthird")]
    );
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_body_cut_short_gives_its_bytes_then_an_error() {
    fn cut(_: usize) -> (&'static [u8], After) {
        let answer = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";
        (answer.as_bytes(), After::Close)
    }
    let server = server(cut).await;
    let pool = pool(&server.base);
    let mut body = pool.send(get(&pool)).await.unwrap().into_body();
    assert_eq!(body.next().await.unwrap().unwrap(), "first");
    assert!(body.next().await.unwrap().is_err());
    assert!(body.next().await.is_none());
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_and_https_is_not_plain() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let pool = pool(&base);
    let e = pool.send(get(&pool)).await.err().unwrap();
    assert!(e.to_string().contains("refused"), "{e}");
    assert!(PlainPool::<Full<Bytes>>::new("https://example.com", HttpConnector::new()).is_err());
    let prefixed = PlainPool::<Full<Bytes>>::new("http://127.0.0.1:9/relay/", HttpConnector::new());
    assert_eq!(prefixed.unwrap().path_prefix(), "/relay");
}
