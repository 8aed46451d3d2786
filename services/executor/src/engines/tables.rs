//! Counting the tables a SQL dump creates, as it streams past, so that a
//! restore can be checked against it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts lines starting with `CREATE TABLE` or `CREATE UNLOGGED TABLE`.
#[derive(Debug, Default)]
pub struct TableCounter {
    line: Vec<u8>,
    at_line_start: bool,
    count: Arc<AtomicU64>,
}

const PREFIXES: [&[u8]; 2] = [b"CREATE TABLE ", b"CREATE UNLOGGED TABLE "];
const LONGEST: usize = 22;

impl TableCounter {
    /// A counter publishing into `count`.
    pub fn new(count: Arc<AtomicU64>) -> TableCounter {
        TableCounter {
            line: Vec::with_capacity(LONGEST),
            at_line_start: true,
            count,
        }
    }

    /// Feeds the next block of the dump.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.at_line_start {
                let want = LONGEST - self.line.len();
                let take = data
                    .iter()
                    .take(want)
                    .position(|&b| b == b'\n')
                    .unwrap_or(want.min(data.len()));
                self.line.extend_from_slice(&data[..take]);
                data = &data[take..];
                let ended = data.first() == Some(&b'\n');
                if ended || self.line.len() >= LONGEST {
                    if PREFIXES.iter().any(|p| self.line.starts_with(p)) {
                        self.count.fetch_add(1, Ordering::Relaxed);
                    }
                    self.line.clear();
                    self.at_line_start = ended;
                    if ended {
                        data = &data[1..];
                    }
                }
                continue;
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    data = &data[i + 1..];
                    self.at_line_start = true;
                }
                None => data = &[],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in_blocks(text: &[u8], block: usize) -> u64 {
        let n = Arc::new(AtomicU64::new(0));
        let mut c = TableCounter::new(n.clone());
        for b in text.chunks(block) {
            c.feed(b);
        }
        n.load(Ordering::Relaxed)
    }

    #[test]
    fn counts_create_table_lines_whatever_the_block_size() {
        let dump = b"-- CREATE TABLE in a comment\nCREATE TABLE public.a (\n id int\n);\nINSERT INTO a VALUES ('CREATE TABLE x');\nCREATE UNLOGGED TABLE b (x int);\n/*!50001 CREATE TABLE `v` */;\nCREATE TABLE `c` (\n";
        for block in [1, 2, 3, 7, 13, 64, 4096] {
            assert_eq!(count_in_blocks(dump, block), 3, "block size {block}");
        }
    }

    proptest::proptest! {
        #[test]
        fn block_boundaries_never_change_the_count(tables in 0usize..20, noise in "[a-zA-Z ();\n]{0,200}", block in 1usize..50) {
            let mut dump = String::new();
            for i in 0..tables {
                dump.push_str(&format!("{noise}\nCREATE TABLE t{i} (id int);\n"));
            }
            let expected = dump.lines().filter(|l| l.starts_with("CREATE TABLE ") || l.starts_with("CREATE UNLOGGED TABLE ")).count() as u64;
            proptest::prop_assert_eq!(count_in_blocks(dump.as_bytes(), block), expected);
        }
    }
}
