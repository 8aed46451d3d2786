//! Client certificates as callers: a verified certificate's subject common
//! name or subject alternative names, mapped to a role in the settings.

use std::collections::BTreeMap;

use serde::Deserialize;
use vigil_auth::{Caller, Role};

/// Names of a client certificate that the TLS handshake verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The subject common name and every DNS, e-mail or URI SAN.
    pub names: Vec<String>,
}

/// The `[auth] cert_roles` table: certificate name (subject CN or SAN) to role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct CertRoles(BTreeMap<String, RoleName>);

/// A role as written in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoleName(pub(crate) Role);

impl<'de> Deserialize<'de> for RoleName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(RoleName).map_err(serde::de::Error::custom)
    }
}

impl CertRoles {
    /// A mapping from `(name, role)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, Role)>) -> Self {
        Self(pairs.into_iter().map(|(n, r)| (n, RoleName(r))).collect())
    }

    /// Whether no certificate is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The caller a verified certificate names: the first of its names
    /// that the mapping knows.
    pub fn caller(&self, peer: &PeerIdentity) -> Option<Caller> {
        peer.names.iter().find_map(|name| {
            self.0.get(name).map(|role| Caller {
                name: format!("cert:{name}"),
                role: role.0,
            })
        })
    }
}
