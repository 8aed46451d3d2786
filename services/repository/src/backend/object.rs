//! The object-store backend: a repository under a prefix of an S3 bucket
//! (or any S3-compatible server), on the `object_store` crate.
//!
//! Credentials, region and endpoint come from the standard `AWS_*`
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`)
//! and whatever credential chain `object_store` offers (web identity,
//! container and instance metadata). Nothing secret is kept in this type's
//! `Debug` output or in its errors: they name the `s3://` location only.
//!
//! Every object is written with one PUT, so a killed writer leaves either no
//! object or the whole one, and never an incomplete multipart upload. Packs,
//! index files and snapshots are written with `If-None-Match: *`: an object,
//! once named, is never changed in place.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};

use super::{Backend, FileKind, ObjectInfo, ReadCoalescing};
use crate::error::{Error, Result};

/// Pack uploads at once: an object store answers each request after a
/// round trip, so several overlap. Each holds one pack (16 MiB by default).
const WRITE_PARALLELISM: usize = 6;
/// Ranged reads at once during a restore; each holds one merged read.
const READ_PARALLELISM: usize = 16;
/// Merged reads: a request costs a round trip (tens of milliseconds on a
/// busy server), so gaps up to 1 MiB are read through; 4 MiB per read keeps
/// the reads in flight under 64 MiB.
const READ_COALESCING: ReadCoalescing = ReadCoalescing {
    max_gap: 1 << 20,
    max_span: 4 << 20,
};

/// A repository in an object store.
#[derive(Clone)]
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    location: String,
}

impl std::fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectStoreBackend({})", self.location)
    }
}

/// The runtime that drives object-store requests for the blocking
/// [`Backend`] calls. It lives for the whole process, so it is never
/// dropped inside an async context.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vigil-object-store")
            .enable_all()
            .build()
            .expect("object store runtime")
    })
}

/// Runs `fut` on the object-store runtime and waits for it; callable from
/// any thread, including `spawn_blocking` threads of another runtime.
fn run<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .expect("object store task ended without an answer")
}

/// Splits `s3://bucket/prefix` into the bucket and the prefix (without
/// leading or trailing slashes).
pub(crate) fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let invalid = |reason: &str| Error::InvalidArgument {
        field: "repository",
        reason: format!("{reason} (expected s3://bucket/prefix)"),
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| invalid("not an s3:// URL"))?;
    if rest.contains(['?', '#', '@']) {
        return Err(invalid(
            "an s3:// URL takes no query, fragment or credentials; use the AWS_* variables",
        ));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !bucket_ok {
        return Err(invalid(&format!("{bucket:?} is not a bucket name")));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|s| s == "." || s == "..") {
        return Err(invalid("the prefix must not contain . or .. segments"));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

impl ObjectStoreBackend {
    /// A backend for `s3://bucket/prefix`, configured from the `AWS_*`
    /// environment variables. Makes no request.
    pub fn from_s3_url(url: &str) -> Result<ObjectStoreBackend> {
        ObjectStoreBackend::build(url, None)
    }

    /// Like [`ObjectStoreBackend::from_s3_url`], with the endpoint of an
    /// S3-compatible server given here rather than in `AWS_ENDPOINT_URL`.
    pub fn from_s3_url_at(url: &str, endpoint: &str) -> Result<ObjectStoreBackend> {
        ObjectStoreBackend::build(url, Some(endpoint))
    }

    fn build(url: &str, endpoint: Option<&str>) -> Result<ObjectStoreBackend> {
        let (bucket, prefix) = parse_s3_url(url)?;
        let retry = RetryConfig {
            max_retries: 4,
            retry_timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_retry(retry);
        if let Some(e) = endpoint {
            builder = builder
                .with_endpoint(e)
                .with_allow_http(e.starts_with("http://"));
        }
        let store = builder.build().map_err(|e| Error::InvalidArgument {
            field: "repository",
            reason: format!("cannot use s3://{bucket}: {e}"),
        })?;
        let location = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        Ok(ObjectStoreBackend::new(Arc::new(store), &prefix, location))
    }

    /// A backend over any object store, below `prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, location: String) -> ObjectStoreBackend {
        ObjectStoreBackend {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            location,
        }
    }

    /// Whether a repository config exists here; fails when the store
    /// cannot be reached or refuses the credentials.
    pub fn probe(&self) -> Result<bool> {
        self.exists(FileKind::Config, "config")
    }

    fn key(&self, kind: FileKind, name: &str) -> StorePath {
        let rel = match kind {
            FileKind::Config => "config".to_string(),
            _ => format!("{}/{name}", kind.dir()),
        };
        if self.prefix.is_empty() {
            StorePath::from(rel)
        } else {
            StorePath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn dir_key(&self, kind: FileKind) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(kind.dir())
        } else {
            StorePath::from(format!("{}/{}", self.prefix, kind.dir()))
        }
    }

    fn err(&self, kind: FileKind, name: &str, e: object_store::Error) -> Error {
        let what = format!("{}/{}", self.location, self.key_rel(kind, name));
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound(what),
            object_store::Error::AlreadyExists { .. } => Error::AlreadyExists(what),
            other => Error::io(what, std::io::Error::other(other.to_string())),
        }
    }

    fn key_rel(&self, kind: FileKind, name: &str) -> String {
        match kind {
            FileKind::Config => "config".into(),
            _ => format!("{}/{name}", kind.dir()),
        }
    }

    fn put(&self, kind: FileKind, name: &str, payload: PutPayload, mode: PutMode) -> Result<bool> {
        let (store, key) = (self.store.clone(), self.key(kind, name));
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match run(async move { store.put_opts(&key, payload, opts).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            // A PUT finds nothing missing but the bucket itself.
            Err(object_store::Error::NotFound { .. }) => Err(Error::io(
                format!("{}/{}", self.location, self.key_rel(kind, name)),
                std::io::Error::other("the bucket does not exist; create it first"),
            )),
            Err(e) => Err(self.err(kind, name, e)),
        }
    }

    /// Writes a never-changing object: created once, never replaced. An
    /// index file is named by its content, so finding it already there
    /// means the same bytes are stored.
    fn put_once(&self, kind: FileKind, name: &str, payload: PutPayload) -> Result<()> {
        let mode = match kind {
            FileKind::Config | FileKind::Lock => PutMode::Overwrite,
            _ => PutMode::Create,
        };
        if self.put(kind, name, payload, mode)? || kind == FileKind::Index {
            return Ok(());
        }
        Err(Error::AlreadyExists(format!(
            "{}/{}",
            self.location,
            self.key_rel(kind, name)
        )))
    }

    fn get_with(&self, kind: FileKind, name: &str, range: Option<GetRange>) -> Result<Vec<u8>> {
        let (store, key) = (self.store.clone(), self.key(kind, name));
        let opts = GetOptions {
            range,
            ..Default::default()
        };
        let res = run(async move {
            let r = store.get_opts(&key, opts).await?;
            r.bytes().await
        });
        match res {
            Ok(b) => Ok(Vec::from(b)),
            Err(e) => Err(self.err(kind, name, e)),
        }
    }
}

impl Backend for ObjectStoreBackend {
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        if kind == FileKind::Config {
            let (store, key) = (self.store.clone(), self.key(kind, "config"));
            return match run(async move { store.head(&key).await }) {
                Ok(m) => Ok(vec![ObjectInfo {
                    name: "config".into(),
                    size: m.size,
                }]),
                Err(object_store::Error::NotFound { .. }) => Ok(vec![]),
                Err(e) => Err(self.err(kind, "config", e)),
            };
        }
        let (store, dir) = (self.store.clone(), self.dir_key(kind));
        let metas = run(async move { store.list(Some(&dir)).try_collect::<Vec<_>>().await })
            .map_err(|e| self.err(kind, "", e))?;
        let mut out: Vec<ObjectInfo> = metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                Some(ObjectInfo { name, size: m.size })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        self.get_with(kind, name, None)
    }

    fn get_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let buf = self.get_with(kind, name, Some(GetRange::Bounded(offset..offset + len)))?;
        if buf.len() as u64 != len {
            return Err(Error::integrity(
                format!("{}/{}", self.location, self.key_rel(kind, name)),
                format!("short read: {} of {len} bytes", buf.len()),
            ));
        }
        Ok(buf)
    }

    fn put_atomic(&self, kind: FileKind, name: &str, parts: &[&[u8]]) -> Result<()> {
        let payload: PutPayload = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        self.put_once(kind, name, payload)
    }

    fn put_parts(&self, kind: FileKind, name: &str, parts: Vec<Vec<u8>>) -> Result<()> {
        let payload: PutPayload = parts.into_iter().map(Bytes::from).collect();
        self.put_once(kind, name, payload)
    }

    fn put_create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<bool> {
        self.put(
            kind,
            name,
            PutPayload::from(Bytes::copy_from_slice(data)),
            PutMode::Create,
        )
    }

    fn delete(&self, kind: FileKind, name: &str) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(kind, name));
        match run(async move { store.delete(&key).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(kind, name, e)),
        }
    }

    fn exists(&self, kind: FileKind, name: &str) -> Result<bool> {
        let (store, key) = (self.store.clone(), self.key(kind, name));
        match run(async move { store.head(&key).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(kind, name, e)),
        }
    }

    fn write_parallelism(&self) -> usize {
        WRITE_PARALLELISM
    }

    fn read_parallelism(&self) -> usize {
        READ_PARALLELISM
    }

    fn read_coalescing(&self) -> ReadCoalescing {
        READ_COALESCING
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_are_split_and_bad_ones_refused() {
        assert_eq!(
            parse_s3_url("s3://my-bucket/a/b/").unwrap(),
            ("my-bucket".into(), "a/b".into())
        );
        assert_eq!(
            parse_s3_url("s3://my-bucket").unwrap(),
            ("my-bucket".into(), "".into())
        );
        for bad in [
            "s3://",
            "s3://B/x",
            "s3://bucket/x?secret=1",
            "s3://key:secret@bucket/x",
            "s3://bucket/../x",
            "file:///x",
        ] {
            let e = parse_s3_url(bad).unwrap_err().to_string();
            assert!(e.contains("repository"), "{bad}: {e}");
            assert!(!e.contains("secret=1"), "{e}");
        }
    }
}
