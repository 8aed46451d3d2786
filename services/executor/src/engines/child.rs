//! Running dump and restore tools: the password goes in through the child's
//! environment (never its command line), stderr is kept (bounded) and
//! scrubbed before it reaches an error, a cancel kills the child, and a
//! dump that exits non-zero turns the end of its output into an error so a
//! truncated dump can never become a snapshot.

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::secret::{Secret, scrub};

/// Bytes of stderr kept for the error message (the tail).
const STDERR_KEEP: usize = 8 << 10;

/// A running tool.
pub struct Tool {
    name: String,
    child: Arc<Mutex<Child>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    done: Arc<AtomicBool>,
    cancel: Arc<AtomicBool>,
    secrets: Vec<Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool").field("name", &self.name).finish()
    }
}

/// What to start.
#[derive(Debug)]
pub struct Spawn<'a> {
    /// Short name for errors, e.g. `pg_dump`.
    pub name: &'a str,
    /// The command, arguments set, no password anywhere in it.
    pub command: Command,
    /// `(variable, secret)` to put in the child's environment.
    pub secret_env: Option<(&'a str, &'a Secret)>,
    /// More of the executor's own credential variables to keep from the
    /// child, besides `VIGIL_*` and `AWS_*` (the repository passphrase's).
    pub hidden_env: &'a [String],
    /// Pipe stdin (restores) or not.
    pub stdin: bool,
    /// Pipe stdout (dumps and queries) or discard it.
    pub stdout: bool,
    /// Kills the child when set.
    pub cancel: Arc<AtomicBool>,
    /// How long to wait for the exit after the data has ended.
    pub timeout: Duration,
}

impl Tool {
    /// Starts the child; returns it with its stdin and stdout when piped.
    pub fn spawn(s: Spawn<'_>) -> Result<(Tool, Option<ChildStdin>, Option<ChildStdout>)> {
        let Spawn {
            name,
            mut command,
            secret_env,
            hidden_env,
            stdin,
            stdout,
            cancel,
            timeout,
        } = s;
        command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        // Dump and restore tools never see the executor's own credentials.
        for (var, _) in std::env::vars_os() {
            if var.to_str().is_some_and(crate::policy::is_credential_env) {
                command.env_remove(&var);
            }
        }
        for var in hidden_env {
            command.env_remove(var);
        }
        let mut secrets = Vec::new();
        if let Some((var, secret)) = secret_env {
            command.env(var, secret.expose());
            secrets.push(secret.clone());
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::engine(name, format!("cannot start: {e}")))?;
        let (child_in, child_out) = (child.stdin.take(), child.stdout.take());
        let stderr = child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > 2 * STDERR_KEEP {
                        kept.drain(..kept.len() - STDERR_KEEP);
                    }
                }
                kept
            })
        });
        let child = Arc::new(Mutex::new(child));
        let done = Arc::new(AtomicBool::new(false));
        {
            let (child, done, cancel) = (child.clone(), done.clone(), cancel.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if cancel.load(Ordering::Relaxed) {
                        let _ = child.lock().map(|mut c| c.kill());
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let tool = Tool {
            name: name.to_owned(),
            child,
            stderr,
            done,
            cancel,
            secrets,
            timeout,
        };
        Ok((tool, child_in, child_out))
    }

    /// Waits for the exit; an error carries the scrubbed stderr.
    pub fn finish(mut self) -> Result<()> {
        let status = self.wait()?;
        let stderr = self.stderr_text();
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if status.success() {
            if !stderr.trim().is_empty() {
                tracing::debug!(tool = %self.name, stderr = %stderr.trim(), "tool finished with messages");
            }
            return Ok(());
        }
        let detail = stderr.trim();
        let msg = match (status.code(), detail.is_empty()) {
            (Some(c), true) => format!("exited with status {c}"),
            (Some(c), false) => format!("exited with status {c}: {detail}"),
            (None, _) => format!("was killed ({status})"),
        };
        Err(Error::engine(&self.name, msg))
    }

    fn wait(&mut self) -> Result<ExitStatus> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let polled = self
                .child
                .lock()
                .map_err(|_| Error::Internal("child lock poisoned".into()))?
                .try_wait();
            match polled {
                Ok(Some(status)) => {
                    self.done.store(true, Ordering::Relaxed);
                    return Ok(status);
                }
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.lock().map(|mut c| c.kill());
                    self.done.store(true, Ordering::Relaxed);
                    return Err(Error::engine(
                        &self.name,
                        format!("did not exit within {:?}", self.timeout),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(Error::engine(&self.name, format!("wait failed: {e}"))),
            }
        }
    }

    fn stderr_text(&mut self) -> String {
        let raw = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let start = raw.len().saturating_sub(STDERR_KEEP);
        let text = String::from_utf8_lossy(&raw[start..]);
        let refs: Vec<&Secret> = self.secrets.iter().collect();
        scrub(&text, &refs)
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        if !self.done.load(Ordering::Relaxed) {
            if let Ok(mut c) = self.child.lock() {
                let _ = c.kill();
                let _ = c.wait();
            }
            self.done.store(true, Ordering::Relaxed);
        }
    }
}

/// A look at each block of a dump as it passes.
type Inspect = Box<dyn FnMut(&[u8]) + Send>;

/// The stdout of a dump tool as a `Read`. At the end of the output it waits
/// for the tool: a failed tool makes the final read an error, so whatever
/// consumes the dump (the repository) never records a truncated one.
pub struct DumpReader {
    out: ChildStdout,
    tool: Option<Tool>,
    failure: Arc<Mutex<Option<Error>>>,
    inspect: Option<Inspect>,
}

impl std::fmt::Debug for DumpReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpReader")
            .field("tool", &self.tool)
            .finish()
    }
}

impl DumpReader {
    /// Wraps a started tool and its stdout. The error of a failed tool is
    /// also left in `failure`, for the job to report instead of the
    /// repository's wrapping of it.
    pub fn new(tool: Tool, out: ChildStdout, failure: Arc<Mutex<Option<Error>>>) -> DumpReader {
        DumpReader {
            out,
            tool: Some(tool),
            failure,
            inspect: None,
        }
    }

    /// Calls `f` with every block of the dump as it passes.
    pub fn inspect(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> DumpReader {
        self.inspect = Some(Box::new(f));
        self
    }
}

impl Read for DumpReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.out.read(buf)?;
        if n > 0 {
            if let Some(f) = self.inspect.as_mut() {
                f(&buf[..n]);
            }
            return Ok(n);
        }
        if let Some(tool) = self.tool.take() {
            let name = tool.name.clone();
            if let Err(e) = tool.finish() {
                let text = e.to_string();
                if let Ok(mut slot) = self.failure.lock() {
                    slot.get_or_insert(e);
                }
                return Err(io::Error::other(format!("{name}: {text}")));
            }
        }
        Ok(0)
    }
}

/// The stdin of a restore tool as a `Write`; [`RestoreWriter::finish`]
/// closes it and waits for the tool.
pub struct RestoreWriter {
    input: Option<ChildStdin>,
    tool: Tool,
    cancel: Arc<AtomicBool>,
}

impl std::fmt::Debug for RestoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoreWriter")
            .field("tool", &self.tool)
            .finish()
    }
}

impl RestoreWriter {
    /// Wraps a started tool and its stdin.
    pub fn new(tool: Tool, input: ChildStdin, cancel: Arc<AtomicBool>) -> RestoreWriter {
        RestoreWriter {
            input: Some(input),
            tool,
            cancel,
        }
    }

    /// Closes the input and waits for the tool.
    pub fn finish(mut self) -> Result<()> {
        drop(self.input.take());
        self.tool.finish()
    }

    /// Ends after a failure of the writer side: the tool's own error, if
    /// it has one, explains more than a broken pipe does.
    pub fn abandon(mut self, cause: Error) -> Error {
        drop(self.input.take());
        match self.tool.finish() {
            Err(tool_error @ Error::Engine { .. }) => tool_error,
            _ => cause,
        }
    }
}

impl Write for RestoreWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        match self.input.as_mut() {
            Some(i) => i.write(buf),
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "input closed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.input.as_mut().map_or(Ok(()), |i| i.flush())
    }
}

/// Runs a tool to completion with `input` on stdin; returns its stdout.
pub fn run_capture(s: Spawn<'_>, input: &[u8]) -> Result<String> {
    let name = s.name.to_owned();
    let (tool, child_in, child_out) = Tool::spawn(Spawn {
        stdin: true,
        stdout: true,
        ..s
    })?;
    let reader = child_out.map(|mut out| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        })
    });
    if let Some(mut i) = child_in {
        // A tool that exits early closes the pipe; its stderr says why.
        let _ = i.write_all(input);
    }
    let out = reader.and_then(|h| h.join().ok()).unwrap_or_default();
    tool.finish()?;
    String::from_utf8(out).map_err(|_| Error::engine(name, "printed output that is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_never_inherits_a_hidden_variable() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "env"])
            .env("REPO_PASS_OF_THIS_TEST", "passphrase-value-7f3a")
            .env("PLAIN_VAR_OF_THIS_TEST", "plain-value-7f3a");
        let hidden = vec!["REPO_PASS_OF_THIS_TEST".to_owned()];
        let out = run_capture(
            Spawn {
                name: "env",
                command,
                secret_env: None,
                hidden_env: &hidden,
                stdin: false,
                stdout: true,
                cancel: Arc::new(AtomicBool::new(false)),
                timeout: Duration::from_secs(30),
            },
            b"",
        )
        .unwrap();
        assert!(out.contains("plain-value-7f3a"), "{out}");
        assert!(!out.contains("passphrase-value-7f3a"), "{out}");
    }
}
