//! An in-process transport: each connection is a tokio duplex pipe whose
//! server half is handed to the gRPC server like an accepted socket.

use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use super::Conn;

/// Bytes buffered in each direction of a pipe.
const PIPE_BUFFER: usize = 1 << 20;

/// Makes in-process channels to a server that has not started yet.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    sender: mpsc::UnboundedSender<Conn>,
    receiver: Arc<Mutex<Option<mpsc::UnboundedReceiver<Conn>>>>,
}

impl Default for LocalTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalTransport {
    /// A transport whose connections wait until a server takes them.
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Arc::new(Mutex::new(Some(receiver))),
        }
    }

    /// A lazily connecting channel; each connection is a new pipe.
    pub fn channel(&self) -> Channel {
        let sender = self.sender.clone();
        Endpoint::from_static("http://in-process.vigil").connect_with_connector_lazy(
            tower::service_fn(move |_: http::Uri| {
                let sender = sender.clone();
                async move {
                    let (client, server) = tokio::io::duplex(PIPE_BUFFER);
                    sender.send(Conn::Local(server)).map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::ConnectionRefused,
                            "the in-process server is gone",
                        )
                    })?;
                    Ok::<_, std::io::Error>(TokioIo::new(client))
                }
            }),
        )
    }

    /// The server's end: taken once by the server that serves it.
    pub(crate) fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Conn>> {
        self.receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
