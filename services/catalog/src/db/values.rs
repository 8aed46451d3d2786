//! Reading columns out of `AnyRow`s, and the integer encodings the schema uses.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Result;

/// Stores a `u64` in a BIGINT column, bit for bit.
pub fn u64_to_db(v: u64) -> i64 {
    v as i64
}

/// Reads back a `u64` written by [`u64_to_db`].
pub fn u64_from_db(v: i64) -> u64 {
    v as u64
}

/// Typed column access with the catalog's error type.
pub trait RowExt {
    /// An integer column.
    fn int(&self, col: &str) -> Result<i64>;
    /// A nullable integer column.
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    /// A text column.
    fn text(&self, col: &str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    /// A nullable text column, empty when NULL.
    fn text_or_empty(&self, col: &str) -> Result<String>;
    /// A nullable blob column, empty when NULL.
    fn blob(&self, col: &str) -> Result<Vec<u8>>;
    /// A 0/1 column.
    fn flag(&self, col: &str) -> Result<bool>;
}

impl RowExt for AnyRow {
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get::<i64, _>(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get::<Option<i64>, _>(col)?)
    }
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get::<String, _>(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(col)?)
    }
    fn text_or_empty(&self, col: &str) -> Result<String> {
        Ok(self.opt_text(col)?.unwrap_or_default())
    }
    fn blob(&self, col: &str) -> Result<Vec<u8>> {
        Ok(self.try_get::<Option<Vec<u8>>, _>(col)?.unwrap_or_default())
    }
    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_round_trips_through_i64() {
        for v in [0, 1, u64::MAX, i64::MAX as u64 + 1] {
            assert_eq!(u64_from_db(u64_to_db(v)), v);
        }
    }
}
