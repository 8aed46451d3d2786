//! Browsing what a snapshot holds: its entries, page by page, and one
//! file's bytes as stored.

use futures::stream::BoxStream;
use vigil_proto::executor::v1::{
    ListSnapshotEntriesRequest, ReadSnapshotFileRequest, ReadSnapshotFileResponse, SnapshotEntry,
};

use crate::client::{Shape, VigilClient};
use crate::error::Result;
use crate::pagination::paginate;
use crate::retry::Idempotency::Idempotent;

impl VigilClient {
    /// Streams the entries of a snapshot artifact matching `filter` (its
    /// `artifact`, `path`, `recursive` and `glob`), sorted by path, following
    /// page tokens.
    pub fn list_snapshot_entries(
        &self,
        filter: ListSnapshotEntriesRequest,
    ) -> BoxStream<'static, Result<SnapshotEntry>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListSnapshotEntriesRequest {
                page_token: token,
                ..filter.clone()
            };
            async move {
                let resp = client
                    .call(
                        &client.executor,
                        "ListSnapshotEntries",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_snapshot_entries(r).await },
                    )
                    .await?;
                Ok((resp.entries, resp.next_page_token))
            }
        })
    }

    /// Opens the bytes of one file (or database dump) of a snapshot
    /// artifact. A wrong artifact or path fails here, before any byte.
    pub async fn read_snapshot_file(
        &self,
        artifact: &str,
        path: &str,
    ) -> Result<tonic::Streaming<ReadSnapshotFileResponse>> {
        let req = ReadSnapshotFileRequest {
            artifact: artifact.to_owned(),
            path: path.to_owned(),
        };
        self.call(
            &self.executor,
            "ReadSnapshotFile",
            Idempotent,
            Shape::Stream,
            req,
            |mut c, r| async move { c.read_snapshot_file(r).await },
        )
        .await
    }
}
