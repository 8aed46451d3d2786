//! The one page loop, with its guard against a repeated page token.

use std::collections::HashSet;
use std::future::Future;

use crate::error::{Error, Result};

/// Collects every page of a listing of `rpc`: `fetch` takes a page token
/// (empty for the first page) and returns that page's items and the next
/// token, empty after the last page. A token handed out twice stops the
/// loop with [`Error::RepeatedPageToken`].
pub(crate) async fn collect<T, F, Fut>(rpc: &'static str, fetch: F) -> Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String)>>,
{
    let mut items = Vec::new();
    for_each(rpc, fetch, |page| items.extend(page)).await?;
    Ok(items)
}

/// Like [`collect`], but hands each page to `each` as it arrives, so that a
/// long listing is never held whole.
pub(crate) async fn for_each<T, F, Fut>(
    rpc: &'static str,
    mut fetch: F,
    mut each: impl FnMut(Vec<T>),
) -> Result<()>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String)>>,
{
    let mut seen = HashSet::new();
    let mut token = String::new();
    loop {
        let (page, next) = fetch(token).await?;
        each(page);
        if next.is_empty() {
            return Ok(());
        }
        if !seen.insert(next.clone()) {
            return Err(Error::RepeatedPageToken { rpc, token: next });
        }
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing that answers the tokens in `pages` in turn; each page
    /// holds its number.
    async fn list(pages: &[&str]) -> (Result<Vec<usize>>, Vec<String>) {
        let asked = std::cell::RefCell::new(Vec::new());
        let result = collect("ListJobs", |token| {
            asked.borrow_mut().push(token);
            let n = asked.borrow().len();
            let next = pages[n - 1].to_owned();
            async move { Ok((vec![n], next)) }
        })
        .await;
        (result, asked.into_inner())
    }

    #[tokio::test]
    async fn pages_are_followed_to_the_last() {
        let (items, asked) = list(&["a", "b", ""]).await;
        assert_eq!(items.unwrap(), [1, 2, 3]);
        assert_eq!(asked, ["", "a", "b"]);
    }

    #[tokio::test]
    async fn a_repeated_token_stops_the_loop_naming_the_rpc() {
        // The server loops back to a page it already gave: a, b, a, …
        let (result, asked) = list(&["a", "b", "a", "b", ""]).await;
        match result {
            Err(Error::RepeatedPageToken { rpc, token }) => {
                assert_eq!((rpc, token.as_str()), ("ListJobs", "a"));
            }
            other => panic!("expected a repeated token error, got {other:?}"),
        }
        assert_eq!(asked, ["", "a", "b"], "no page is asked twice");
    }

    #[tokio::test]
    async fn the_same_token_twice_in_a_row_is_caught() {
        let (result, asked) = list(&["a", "a", ""]).await;
        assert!(matches!(result, Err(Error::RepeatedPageToken { .. })));
        assert_eq!(asked.len(), 2);
    }
}
