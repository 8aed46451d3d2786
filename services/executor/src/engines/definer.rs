//! Restoring a MariaDB/MySQL dump as another user: `mariadb-dump` writes
//! `DEFINER=user@host` into views, triggers and routines, and creating an
//! object for another definer needs the SUPER privilege. This filter drops
//! those clauses on the way into the client, so restored objects belong to
//! the restoring user. Only the short versioned-comment lines that carry
//! them are buffered; data lines pass straight through.

use std::io::{self, Write};

/// Longest line looked at; longer ones pass through unchanged.
const MAX_LINE: usize = 64 << 10;

/// A `Write` that removes `DEFINER=...` clauses from dump lines starting
/// with a versioned comment (`/*!5`) or `CREATE`.
#[derive(Debug)]
pub struct DefinerFilter<W: Write> {
    inner: W,
    line: Vec<u8>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line, deciding.
    Start,
    /// Buffering a candidate line.
    Buffer,
    /// Passing the rest of the line through.
    Pass,
}

impl<W: Write> DefinerFilter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        DefinerFilter {
            inner,
            line: Vec::new(),
            state: State::Start,
        }
    }

    /// Flushes what is buffered and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush_line()?;
        Ok(self.inner)
    }

    fn flush_line(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let out = if self.state == State::Buffer {
                strip_definer(&line)
            } else {
                line
            };
            self.inner.write_all(&out)?;
        }
        Ok(())
    }
}

fn candidate(prefix: &[u8]) -> Option<bool> {
    const MARKERS: [&[u8]; 3] = [b"/*!5", b"CREATE", b"DELIMITER"];
    let n = prefix.len();
    if MARKERS
        .iter()
        .any(|m| n >= m.len() && prefix.starts_with(m))
    {
        return Some(true);
    }
    if MARKERS.iter().any(|m| n < m.len() && m.starts_with(prefix)) {
        return None;
    }
    Some(false)
}

/// Removes every `DEFINER=<user>@<host>` (with backquoted or quoted parts).
pub fn strip_definer(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(b"DEFINER=")
            && let Some(end) = definer_end(&line[i + 8..])
        {
            i += 8 + end;
            while out.last() == Some(&b' ') && line.get(i) == Some(&b' ') {
                i += 1;
            }
            continue;
        }
        out.push(line[i]);
        i += 1;
    }
    out
}

/// Length of `user@host` where each part is quoted with ` ' or ".
fn definer_end(s: &[u8]) -> Option<usize> {
    let user = quoted_len(s)?;
    if s.get(user) != Some(&b'@') {
        return None;
    }
    let host = quoted_len(&s[user + 1..])?;
    Some(user + 1 + host)
}

fn quoted_len(s: &[u8]) -> Option<usize> {
    let q = *s.first()?;
    if !matches!(q, b'`' | b'\'' | b'"') {
        return None;
    }
    let mut i = 1;
    while i < s.len() {
        if s[i] == q {
            if s.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

impl<W: Write> Write for DefinerFilter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            match self.state {
                State::Start => {
                    let take = rest
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(rest.len(), |p| p + 1);
                    let want = 12usize.saturating_sub(self.line.len()).min(take);
                    self.line.extend_from_slice(&rest[..want]);
                    rest = &rest[want..];
                    let ended = self.line.last() == Some(&b'\n');
                    match candidate(&self.line) {
                        Some(true) => self.state = State::Buffer,
                        Some(false) => self.state = State::Pass,
                        None if ended => self.state = State::Pass,
                        None => continue,
                    }
                    if ended {
                        self.flush_line()?;
                        self.state = State::Start;
                    } else if self.state == State::Pass {
                        self.flush_line()?;
                    }
                }
                State::Buffer => {
                    let end = rest.iter().position(|&b| b == b'\n');
                    let take = end.map_or(rest.len(), |p| p + 1);
                    self.line.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if end.is_some() {
                        self.flush_line()?;
                        self.state = State::Start;
                    } else if self.line.len() > MAX_LINE {
                        // Not a definer line after all: give up on it.
                        self.state = State::Pass;
                        let line = std::mem::take(&mut self.line);
                        self.inner.write_all(&line)?;
                    }
                }
                State::Pass => {
                    let end = rest.iter().position(|&b| b == b'\n');
                    let take = end.map_or(rest.len(), |p| p + 1);
                    self.inner.write_all(&rest[..take])?;
                    rest = &rest[take..];
                    if end.is_some() {
                        self.state = State::Start;
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(input: &[u8], block: usize) -> Vec<u8> {
        let mut f = DefinerFilter::new(Vec::new());
        for b in input.chunks(block) {
            f.write_all(b).unwrap();
        }
        f.into_inner().unwrap()
    }

    #[test]
    fn definers_are_removed_and_data_lines_are_untouched() {
        let dump = b"INSERT INTO t VALUES ('DEFINER=`a`@`b`');\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`127.0.0.1`*/ /*!50003 TRIGGER x */;;\n/*!50013 DEFINER=`ro``ot`@`%` SQL SECURITY DEFINER */\nCREATE DEFINER='u'@'h' PROCEDURE p() BEGIN END;;\n";
        let want = b"INSERT INTO t VALUES ('DEFINER=`a`@`b`');\n/*!50003 CREATE*/ /*!50017 */ /*!50003 TRIGGER x */;;\n/*!50013 SQL SECURITY DEFINER */\nCREATE PROCEDURE p() BEGIN END;;\n";
        for block in [1, 2, 5, 11, 4096] {
            assert_eq!(
                String::from_utf8_lossy(&filter(dump, block)),
                String::from_utf8_lossy(want),
                "block {block}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn text_without_definers_passes_unchanged(text in "[a-zA-Z0-9 ;'`/*!\n]{0,400}", block in 1usize..40) {
            proptest::prop_assume!(!text.contains("DEFINER="));
            proptest::prop_assert_eq!(filter(text.as_bytes(), block), text.as_bytes().to_vec());
        }
    }
}
