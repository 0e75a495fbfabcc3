//! HTTPS: rustls (with the ring provider) from a PEM certificate chain and key, read once at
//! start. A bad file stops the command before it listens.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::{
    self,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
};
use tokio_rustls::TlsAcceptor;

/// A PEM file is small; a bigger one is a mistake (or /dev/zero), never read whole.
const MAX_PEM: u64 = 1 << 20;

fn read_pem(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    let describe = |e: &dyn std::fmt::Display| format!("{flag} {}: {e}", path.display());
    // Only a regular file is ever opened: a FIFO is not waited on, a device not opened.
    let file = crate::collect::regular::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => describe(&format!("it is {e}")),
        _ => describe(&e),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| describe(&e))?;
    if bytes.len() as u64 > MAX_PEM {
        return Err(describe(&"larger than 1 MiB: not a PEM file"));
    }
    Ok(bytes)
}

/// The acceptor for `--tls-cert` and `--tls-key`; the error says which file is wrong.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let pem = read_pem("--tls-cert", cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it (PEM: -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let pem = read_pem("--tls-key", key)?;
    let private = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("--tls-key {}: no private key in it ({e})", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|e| {
            format!(
                "--tls-cert {} and --tls-key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
