//! `--relay ADDR`: the least a proxy can do, for `bench/floor.py` to measure beside the floor.
//! Each connection it accepts is copied byte for byte, both ways, to a connection of its own to
//! `ADDR` — no HTTP, no parsing, no pooling. A gateway must at least receive and send on two
//! connections; what this costs in CPU and in added latency on one connection is the physical
//! limit the gateway's own figures are set against.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running relay: where it listens, and its accept loop (aborted when dropped).
pub struct Relay {
    addr: SocketAddr,
    accepting: JoinHandle<()>,
}

impl Relay {
    /// Listens on `addr` and relays every connection to `upstream`.
    pub async fn start(addr: SocketAddr, upstream: SocketAddr) -> io::Result<Relay> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream));
            }
        });
        Ok(Relay { addr, accepting })
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Copies `client` to a new connection to `upstream` and back until either side closes.
async fn relay(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_go_through_both_ways_on_a_connection_of_its_own() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        let relay = Relay::start("127.0.0.1:0".parse().unwrap(), upstream_addr)
            .await
            .unwrap();
        let mut client = TcpStream::connect(relay.addr).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let (mut server, from) = upstream.accept().await.unwrap();
        assert_ne!(from, client.local_addr().unwrap());
        let mut got = [0; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        server.write_all(b"pong").await.unwrap();
        drop(server);
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"pong");
    }
}
