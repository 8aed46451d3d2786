//! Turns page-token list calls into one stream of items.

use std::future::Future;

use futures::stream::BoxStream;

use crate::error::{Error, Result};

/// Streams items from `fetch(page_token) -> (items, next_page_token)`,
/// starting with an empty token and stopping at an empty next token.
///
/// A server that hands back the token it was given would loop forever; that
/// is reported as a protocol error instead.
pub(crate) fn paginate<T, F, Fut>(mut fetch: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: FnMut(String) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, String)>> + Send + 'static,
{
    Box::pin(async_stream::try_stream! {
        let mut token = String::new();
        loop {
            let (items, next) = fetch(token.clone()).await?;
            for item in items {
                yield item;
            }
            if next.is_empty() {
                break;
            }
            if next == token {
                Err(Error::Protocol(format!("next_page_token {next:?} repeats the request's token")))?;
            }
            token = next;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn follows_tokens_until_the_last_page() {
        let pages = paginate(|token: String| async move {
            Ok(match token.as_str() {
                "" => (vec![1, 2], "a".to_owned()),
                "a" => (vec![3], "b".to_owned()),
                "b" => (vec![4, 5], String::new()),
                other => panic!("unexpected token {other}"),
            })
        });
        let all: Vec<i32> = pages.try_collect().await.unwrap();
        assert_eq!(all, vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_loop() {
        let pages = paginate(|_token: String| async move { Ok((vec![1], "same".to_owned())) });
        let err = pages.try_collect::<Vec<i32>>().await.unwrap_err();
        assert!(err.to_string().contains("repeats"), "{err}");
    }
}
