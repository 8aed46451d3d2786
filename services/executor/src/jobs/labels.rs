//! Label keys written into snapshots (encrypted in the repository) and
//! artifacts (in the catalog). None of them ever holds a secret.

/// Snapshot: the configuration the backup belongs to (retention filters on it).
pub const CONFIGURATION: &str = "vigil.configuration";
/// Snapshot: the job that wrote it.
pub const JOB: &str = "vigil.job";
/// Snapshot: `full`, `database`, `export`, `upload` or [`KIND_STAGED_UPLOAD`].
pub const KIND: &str = "vigil.kind";
/// `KIND` value of an upload staged in the repository, waiting for its
/// UPLOAD job; no artifact ever names such a snapshot.
pub const KIND_STAGED_UPLOAD: &str = "staged-upload";
/// Snapshot and artifact: `snapshot` (a tree) or `archive` (one stored archive stream).
pub const FORMAT: &str = "vigil.format";
/// Snapshot: for an uploaded archive, the configuration it was recorded under.
pub const UPLOAD_CONFIGURATION: &str = "vigil.upload.configuration";
/// Artifact: id of the repository holding it.
pub const REPOSITORY: &str = "vigil.repository";
/// Artifact: the dump's engine.
pub const DB_ENGINE: &str = "vigil.database.engine";
/// Artifact: the dump's stream name.
pub const DB_STREAM: &str = "vigil.database.stream";
/// Artifact: tables the dump creates, checked after a restore.
pub const DB_TABLES: &str = "vigil.database.tables";
/// Artifact: size of the export archive in bytes.
pub const ARCHIVE_SIZE: &str = "vigil.archive.size";
/// Artifact: file name an archive was uploaded as.
pub const ARCHIVE_FILE: &str = "vigil.archive.file_name";

/// Stream name of a stored archive.
pub const ARCHIVE_STREAM: &str = "archive.vgx";
/// `FORMAT` value of a tree snapshot.
pub const FORMAT_SNAPSHOT: &str = "snapshot";
/// `FORMAT` value of a stored archive.
pub const FORMAT_ARCHIVE: &str = "archive";
