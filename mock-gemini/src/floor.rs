//! `--floor`: the benchmark's physical floor, the least an HTTP server can do — a bare hyper
//! HTTP/1.1 connection per socket and one service function, no router, no layers, no
//! middleware. It reads each request's body and answers with the bytes the strict mock gave the
//! first request of the same kind (same path and `alt`; a whole answer, or an SSE stream frame
//! by frame), checking, scripting and recording nothing. What a gateway costs is measured as a
//! multiple of this (`bench/floor.py`, which also checks that it costs no more than the mock).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::State as AxumState;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::State;

/// One recorded answer: its status, headers and body frames.
struct Canned {
    status: StatusCode,
    headers: HeaderMap,
    frames: Vec<Bytes>,
}

/// The floor's state: the strict mock (for the first answer of each kind) and the answers.
pub struct Floor {
    mock: Arc<State>,
    canned: Mutex<HashMap<String, Arc<Canned>>>,
}

type Frames = futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>;
type FloorBody = Either<Full<Bytes>, StreamBody<Frames>>;

impl Floor {
    pub(crate) fn new(mock: Arc<State>) -> Floor {
        Floor {
            mock,
            canned: Mutex::new(HashMap::new()),
        }
    }

    /// Answers with the canned bytes for the request's kind, recording them on first sight.
    async fn answer(&self, request: Request<Incoming>) -> Response<FloorBody> {
        let sse = request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
        let kind = format!("{} {} {sse}", request.method(), request.uri().path());
        let found = self
            .canned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kind)
            .cloned();
        let canned = match found {
            Some(c) => {
                let _ = request.into_body().collect().await;
                c
            }
            None => {
                let request = request.map(axum::body::Body::new);
                let answer = crate::api::handle(AxumState(self.mock.clone()), request).await;
                let (parts, body) = answer.into_parts();
                let mut frames = Vec::new();
                let mut stream = body.into_data_stream();
                while let Some(Ok(frame)) = stream.next().await {
                    frames.push(frame);
                }
                let canned = Arc::new(Canned {
                    status: parts.status,
                    headers: parts.headers,
                    frames,
                });
                self.canned
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(kind, canned.clone());
                canned
            }
        };
        respond(&canned)
    }
}

fn respond(canned: &Canned) -> Response<FloorBody> {
    let body = match canned.frames.as_slice() {
        [one] => Either::Left(Full::new(one.clone())),
        frames => {
            let owned: Vec<Result<Frame<Bytes>, Infallible>> =
                frames.iter().cloned().map(|f| Ok(Frame::data(f))).collect();
            Either::Right(StreamBody::new(futures_util::stream::iter(owned)))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = canned.status;
    for (name, value) in &canned.headers {
        if name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// Serves `floor` on `listener` until `stopped` says so: one HTTP/1.1 connection task per socket.
pub(crate) async fn serve(
    listener: TcpListener,
    floor: Arc<Floor>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(_) => continue,
            },
            _ = stopped.wait_for(|down| *down) => return,
        };
        let _ = socket.set_nodelay(true);
        let floor = floor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let floor = floor.clone();
                async move { Ok::<_, Infallible>(floor.answer(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}
