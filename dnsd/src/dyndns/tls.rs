//! HTTPS for the dyndns endpoint: rustls with the ring provider, the
//! certificate chain and key from PEM files.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring::default_provider;

use super::DyndnsError;

/// Builds the acceptor from a PEM chain (leaf first) and a PEM key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, DyndnsError> {
    let pem_error = |path: &Path, e: rustls_pki_types::pem::Error| {
        DyndnsError::Tls(format!("{}: {e}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, e))?;
    if chain.is_empty() {
        return Err(DyndnsError::Tls(format!(
            "{}: no CERTIFICATE in the file",
            cert.display()
        )));
    }
    if let Ok(meta) = std::fs::metadata(key)
        && meta.permissions().mode() & 0o007 != 0
    {
        tracing::warn!(path = %key.display(), "dyndns TLS key is readable by others");
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| DyndnsError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| DyndnsError::Tls(format!("{}: {e}", cert.display())))?;
    // HTTP/1.1 only (RFC 7301 ALPN).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
