//! The names of a verified client certificate: subject CN and SANs.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::auth::PeerIdentity;

/// The names a DER certificate carries; empty when it cannot be parsed
/// (the handshake already verified it, so that is not expected).
pub(crate) fn identity(der: &[u8]) -> PeerIdentity {
    let mut names = Vec::new();
    if let Ok((_, cert)) = X509Certificate::from_der(der) {
        for cn in cert.subject().iter_common_name() {
            if let Ok(text) = cn.as_str() {
                names.push(text.to_owned());
            }
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(text)
                    | GeneralName::RFC822Name(text)
                    | GeneralName::URI(text) => names.push((*text).to_owned()),
                    _ => {}
                }
            }
        }
    }
    PeerIdentity { names }
}
