//! Export archives crafted byte by byte, for the hostile-archive tests.

use serde_json::{Value, json};

/// A manifest and a body, to be encoded (and tampered with) by tests.
pub(crate) struct Raw {
    pub manifest: Value,
    pub body: Vec<u8>,
}

/// A file member with honest size, stored size and hash.
pub(crate) fn file(path: &str, content: &[u8]) -> (Value, Vec<u8>) {
    let frame = zstd::encode_all(content, 3).unwrap();
    let m = json!({
        "path": path, "type": "file", "mode": 0o644, "mtime": 1, "size": content.len(),
        "stored_size": frame.len(), "blake3": blake3::hash(content).to_hex().to_string(),
    });
    (m, frame)
}

/// A symlink member.
pub(crate) fn link(path: &str, target: &str) -> (Value, Vec<u8>) {
    (
        json!({"path": path, "type": "symlink", "target": target, "mode": 0o777}),
        Vec::new(),
    )
}

/// An archive of `members`.
pub(crate) fn raw(members: Vec<(Value, Vec<u8>)>) -> Raw {
    let (ms, bodies): (Vec<_>, Vec<_>) = members.into_iter().unzip();
    Raw {
        manifest: json!({"format": "vigil-export", "version": 1, "created": "2025-01-01T00:00:00Z", "members": ms}),
        body: bodies.concat(),
    }
}

/// The archive's bytes: header, manifest, body, trailer.
pub(crate) fn encode(r: &Raw) -> Vec<u8> {
    let json = serde_json::to_vec(&r.manifest).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(b"VIGILEXP");
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(&json).as_bytes());
    out.extend_from_slice(&(r.body.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&r.body);
    let total = out.len() as u64;
    out.extend_from_slice(b"VGXEND01");
    out.extend_from_slice(&total.to_le_bytes());
    out
}
