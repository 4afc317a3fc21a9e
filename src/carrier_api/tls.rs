//! The TLS client configuration: rustls with the `ring` provider (aws-lc-rs does not build for
//! MIPS), trusting the CAs in `ca_file` or in the system bundle that OpenWrt's `ca-bundle`
//! package installs.
//!
//! It must not: embed a root store in the binary (flash is scarce, and the owner can update
//! `ca-bundle` without a new simkeep), or fall back to trusting anything when no CA loads.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Where OpenWrt's `ca-bundle` (and Debian's `ca-certificates`) put the system bundle.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// A system bundle is ~220 KB; refuse anything absurd instead of reading it whole.
const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// Builds the client config trusting the certificates in `ca_file` (or the system bundle).
/// The error is one lower-case sentence naming the file and what to do.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let path = ca_file.unwrap_or(Path::new(SYSTEM_BUNDLE));
    let hint = if ca_file.is_some() {
        "check ca_file"
    } else {
        "install the CA bundle (opkg install ca-bundle) or set ca_file"
    };
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BUNDLE_BYTES).read_to_end(&mut pem))
        .map_err(|e| format!("cannot read CA file {}: {e}; {hint}", path.display()))?;
    let mut roots = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    // A system bundle may hold a certificate webpki cannot parse; skip it rather than fail.
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "no usable CA certificate in {}; {hint}",
            path.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_names_it() {
        let e = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(
            e.contains("/nonexistent/ca.pem") && e.contains("ca_file"),
            "{e}"
        );
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = client_config(Some(&p)).unwrap_err();
        assert!(e.contains("no usable CA certificate"), "{e}");
    }
}
