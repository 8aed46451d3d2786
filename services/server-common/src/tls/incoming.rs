//! The stream of connections a server serves: accepted TCP connections
//! (after their TLS handshake when TLS is on) and in-process pipes.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{Conn, ConnInfo, LocalTransport, ServerTls, peer};

/// Longest a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts on `listener` until `stop`, handshaking TLS when `tls` is set,
/// merged with the pipes of `local`.
pub fn incoming(
    listener: TcpListener,
    tls: Option<ServerTls>,
    local: Option<&LocalTransport>,
    stop: CancellationToken,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let (sender, receiver) = mpsc::unbounded_channel::<io::Result<Conn>>();
    if let Some(mut pipes) = local.and_then(LocalTransport::take_receiver) {
        let sender = sender.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    pipe = pipes.recv() => match pipe {
                        Some(pipe) => if sender.send(Ok(pipe)).is_err() { return },
                        None => return,
                    },
                }
            }
        });
    }
    tokio::spawn(accept_loop(listener, tls, sender, stop));
    UnboundedReceiverStream::new(receiver)
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<ServerTls>,
    sender: mpsc::UnboundedSender<io::Result<Conn>>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            _ = sender.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(tls) = &tls else {
            if sender.send(Ok(Conn::Tcp(stream))).is_err() {
                return;
            }
            continue;
        };
        let acceptor = TlsAcceptor::from(tls.current());
        let sender = sender.clone();
        tokio::spawn(async move {
            match handshake(acceptor, stream).await {
                Ok((stream, peer)) => {
                    let info = ConnInfo {
                        remote: Some(remote),
                        peer: peer.map(Arc::new),
                        in_process: false,
                    };
                    let _ = sender.send(Ok(Conn::Tls(Box::new(stream), info)));
                }
                Err(e) => debug!(%remote, error = %e, "tls handshake refused"),
            }
        });
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
) -> io::Result<(
    tokio_rustls::server::TlsStream<TcpStream>,
    Option<crate::auth::PeerIdentity>,
)> {
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "tls handshake timed out"))??;
    let peer = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| peer::identity(leaf));
    Ok((stream, peer))
}
