//! Pagination: page sizes and opaque page tokens.
//!
//! A token is URL-safe base64 of a small JSON cursor that names the list it
//! belongs to, so a token from one list is refused by another. Lists are
//! keyset-paginated: the cursor holds the sort key of the last row returned.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Page size when the request leaves it at zero.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest page; bigger requests are clamped.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Where a page starts: the sort key of the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Which list the token belongs to.
    #[serde(rename = "l")]
    list: String,
    /// Text part of the key (a name or an id).
    #[serde(rename = "k")]
    pub key: String,
    /// Integer part of the key (a time), when the list sorts by time.
    #[serde(rename = "t", default)]
    pub time: i64,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct Page {
    list: &'static str,
    /// Rows to return.
    pub size: usize,
    /// Where to start; `None` for the first page.
    pub after: Option<Cursor>,
}

impl Page {
    /// Validates `page_size` and `page_token` of a request for `list`.
    pub fn parse(list: &'static str, page_size: i32, page_token: &str) -> Result<Page> {
        let size = match page_size {
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode(list, page_token)?)
        };
        Ok(Page { list, size, after })
    }

    /// The SQL LIMIT: one more than the page, to learn whether another page follows.
    pub fn limit(&self) -> i64 {
        self.size as i64 + 1
    }

    /// Cuts `rows` to the page and returns the next token (empty on the last page).
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (String, i64),
    ) -> (Vec<T>, String) {
        if rows.len() <= self.size {
            return (rows, String::new());
        }
        rows.truncate(self.size);
        let token = rows.last().map(|last| {
            let (key, time) = key(last);
            encode(&Cursor {
                list: self.list.to_owned(),
                key,
                time,
            })
        });
        (rows, token.unwrap_or_default())
    }
}

fn encode(cursor: &Cursor) -> String {
    // Serialising a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode(list: &str, token: &str) -> Result<Cursor> {
    let bad = || Error::invalid("page_token", "is not a token returned by this list");
    if token.len() > 4096 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if cursor.list != list {
        return Err(bad());
    }
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_and_clamp() {
        assert_eq!(Page::parse("jobs", 0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::parse("jobs", 5000, "").unwrap().size, MAX_PAGE_SIZE);
        assert_eq!(Page::parse("jobs", 7, "").unwrap().size, 7);
        let err = Page::parse("jobs", -1, "").unwrap_err();
        assert_eq!(err.to_string(), "page_size: must not be negative");
    }

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_list() {
        let page = Page::parse("jobs", 2, "").unwrap();
        let (rows, token) = page.finish(vec![1, 2, 3], |n| (n.to_string(), *n as i64 * 10));
        assert_eq!(rows, vec![1, 2]);
        let next = Page::parse("jobs", 2, &token).unwrap();
        assert_eq!(next.after.as_ref().unwrap().key, "2");
        assert_eq!(next.after.as_ref().unwrap().time, 20);
        assert!(Page::parse("alerts", 2, &token).is_err());
        assert!(Page::parse("jobs", 2, "garbage!").is_err());
    }

    #[test]
    fn last_page_has_no_token() {
        let page = Page::parse("jobs", 3, "").unwrap();
        let (rows, token) = page.finish(vec![1, 2, 3], |n| (n.to_string(), 0));
        assert_eq!(rows.len(), 3);
        assert!(token.is_empty());
    }
}
