//! The rustls client configuration: which CAs to trust and, for mutual TLS, our certificate.
//! The crypto provider is ring, chosen explicitly (not a process-wide default), so nothing
//! else in the process can change what twinscope's connections accept.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::SettingsError;
use super::client_identity::client_identity;

pub(super) fn client_config(
    ca: Option<&Path>,
    client: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, SettingsError> {
    let roots = match ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let (added, _ignored) =
                roots.add_parsable_certificates(read_certificates(path, "CA file")?);
            if added == 0 {
                return Err(SettingsError::NoCertificate {
                    what: "CA file",
                    path: path.to_owned(),
                });
            }
            roots
        }
        None => system_roots()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| SettingsError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = read_certificates(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
                rustls::pki_types::pem::Error::Io(error) => SettingsError::File {
                    what: "client key",
                    path: key.to_owned(),
                    error: error.to_string(),
                },
                _ => SettingsError::NoKey(key.to_owned()),
            })?;
            builder.with_client_cert_resolver(client_identity(chain, key, &provider)?)
        }
    };
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; none is an error naming the file.
fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, SettingsError> {
    let file_error = |error: String| SettingsError::File {
        what,
        path: path.to_owned(),
        error,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(pem_error_text(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(pem_error_text(e)))?;
    if certificates.is_empty() {
        return Err(SettingsError::NoCertificate {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

fn pem_error_text(error: rustls::pki_types::pem::Error) -> String {
    match error {
        rustls::pki_types::pem::Error::Io(error) => error.to_string(),
        other => format!("not a valid PEM file ({other:?})"),
    }
}

/// The operating system's trusted CAs (on Linux the distribution's bundle).
fn system_roots() -> Result<RootCertStore, SettingsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "the system store is empty".into());
        return Err(SettingsError::NoSystemRoots(why));
    }
    Ok(roots)
}
