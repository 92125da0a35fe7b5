//! Real proxies for the upstream-proxy tests, in-process on free ports: an HTTP proxy (CONNECT
//! tunnels, with optional Basic credentials) and a SOCKS5 proxy (no authentication; domain names
//! resolved by the proxy). Both send every connection for `host` to `target`, so a name that
//! resolves nowhere else (`gemini.test`) is reachable only through them, and count tunnels.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy: where it listens and how many tunnels it opened.
pub struct Proxy {
    pub addr: SocketAddr,
    pub tunnels: Arc<AtomicUsize>,
    /// Requests refused for missing or wrong credentials.
    pub refused: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }
}

async fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// An HTTP proxy that opens CONNECT tunnels to `host:*` (sent to `target`'s IP, same port);
/// with `basic` set, only for a `Proxy-Authorization: Basic` of it (`user:password`).
pub async fn http_connect(host: &'static str, target: SocketAddr, basic: Option<&str>) -> Proxy {
    let (listener, addr) = listen().await;
    let tunnels = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let expected = basic.map(|b| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(b)
        )
    });
    let (t, r) = (tunnels.clone(), refused.clone());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (t, r, expected) = (t.clone(), r.clone(), expected.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() || head.len() > 16 * 1024 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let first = text.lines().next().unwrap_or("");
                let mut parts = first.split(' ');
                let (method, authority) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let auth_ok = expected.as_ref().is_none_or(|want| {
                    text.lines().any(|l| {
                        l.to_ascii_lowercase().starts_with("proxy-authorization:")
                            && l.split_once(':').map(|(_, v)| v.trim()) == Some(want.as_str())
                    })
                });
                if !auth_ok {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let Some((name, port)) = authority.rsplit_once(':') else {
                    return;
                };
                if method != "CONNECT" || name != host {
                    let _ = client
                        .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let port: u16 = port.parse().unwrap_or(0);
                let Ok(mut upstream) = TcpStream::connect((target.ip(), port)).await else {
                    let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                t.fetch_add(1, Ordering::SeqCst);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    Proxy {
        addr,
        tunnels,
        refused,
    }
}

/// A SOCKS5 proxy (RFC 1928, no authentication, CONNECT only) that sends `host` (by name) and
/// 127.0.0.1 to `target`'s IP, at the port asked.
pub async fn socks5(host: &'static str, target: SocketAddr) -> Proxy {
    let (listener, addr) = listen().await;
    let tunnels = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let (t, r) = (tunnels.clone(), refused.clone());
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let (t, r) = (t.clone(), r.clone());
            tokio::spawn(async move {
                let mut greet = [0u8; 2];
                if c.read_exact(&mut greet).await.is_err() || greet[0] != 5 {
                    return;
                }
                let mut methods = vec![0u8; greet[1] as usize];
                if c.read_exact(&mut methods).await.is_err() || !methods.contains(&0) {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = c.write_all(&[5, 0xff]).await;
                    return;
                }
                let _ = c.write_all(&[5, 0]).await;
                let mut req = [0u8; 4];
                if c.read_exact(&mut req).await.is_err() || req[1] != 1 {
                    return;
                }
                let name = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        let _ = c.read_exact(&mut ip).await;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        let _ = c.read_exact(&mut len).await;
                        let mut n = vec![0u8; len[0] as usize];
                        let _ = c.read_exact(&mut n).await;
                        String::from_utf8_lossy(&n).to_string()
                    }
                    _ => return,
                };
                let mut port = [0u8; 2];
                let _ = c.read_exact(&mut port).await;
                let port = u16::from_be_bytes(port);
                let reply = |code: u8| [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
                if name != host && name != "127.0.0.1" {
                    let _ = c.write_all(&reply(4)).await;
                    return;
                }
                let Ok(mut upstream) = TcpStream::connect((target.ip(), port)).await else {
                    let _ = c.write_all(&reply(5)).await;
                    return;
                };
                t.fetch_add(1, Ordering::SeqCst);
                let _ = c.write_all(&reply(0)).await;
                let _ = tokio::io::copy_bidirectional(&mut c, &mut upstream).await;
            });
        }
    });
    Proxy {
        addr,
        tunnels,
        refused,
    }
}
