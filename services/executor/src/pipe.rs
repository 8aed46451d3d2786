//! A bounded pipe of byte chunks between a producer (an async task or a
//! blocking thread) and a blocking reader, so a stream passes through with at
//! most `slots` chunks in memory. A producer ends the stream by dropping its
//! sender, or fails it by sending an error, which the reader returns instead
//! of a silent end.

use std::io::{self, Read, Write};

use bytes::{Buf, Bytes};
use tokio::sync::mpsc;

/// Sending half: `send(..).await` from async code, `blocking_send` from a thread.
pub(crate) type PipeSender = mpsc::Sender<io::Result<Bytes>>;

/// Chunks a [`PipeWriter`] gathers before sending one.
const WRITE_CHUNK: usize = 256 << 10;

/// A pipe holding at most `slots` chunks.
pub(crate) fn pipe(slots: usize) -> (PipeSender, PipeReader) {
    let (tx, rx) = mpsc::channel(slots.max(1));
    (
        tx,
        PipeReader {
            rx,
            current: Bytes::new(),
        },
    )
}

/// The reading half; blocking, so use it outside the async runtime.
#[derive(Debug)]
pub(crate) struct PipeReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// A blocking `Write` into a pipe, in chunks of 256 KiB.
#[derive(Debug)]
pub(crate) struct PipeWriter {
    tx: PipeSender,
    buf: Vec<u8>,
}

impl PipeWriter {
    pub(crate) fn new(tx: PipeSender) -> Self {
        PipeWriter {
            tx,
            buf: Vec::with_capacity(WRITE_CHUNK),
        }
    }

    /// Fails the stream: the reader gets `e` instead of an end.
    pub(crate) fn fail(self, e: io::Error) {
        let _ = self.tx.blocking_send(Err(e));
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(WRITE_CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = (WRITE_CHUNK - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == WRITE_CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pass_through_and_an_error_is_not_an_end() {
        let (tx, mut reader) = pipe(2);
        let writer = std::thread::spawn(move || {
            let mut w = PipeWriter::new(tx);
            for i in 0..1000u32 {
                w.write_all(&i.to_le_bytes().repeat(300)).unwrap();
            }
            w.flush().unwrap();
            w.fail(io::Error::other("source failed"));
        });
        let mut got = vec![0u8; 1000 * 1200];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(&got[..4], &0u32.to_le_bytes());
        assert_eq!(&got[got.len() - 4..], &999u32.to_le_bytes());
        let e = reader.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.to_string(), "source failed");
        writer.join().unwrap();
    }

    #[test]
    fn a_dropped_reader_stops_the_writer() {
        let (tx, reader) = pipe(1);
        drop(reader);
        let mut w = PipeWriter::new(tx);
        let e = w.write_all(&vec![0u8; 4 * WRITE_CHUNK]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
