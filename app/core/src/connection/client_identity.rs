//! Our certificate for mutual TLS, handed to rustls as it is.
//!
//! rustls' `with_client_auth_cert` checks that the key belongs to the certificate by parsing
//! the certificate with webpki, which refuses X.509 version 1 — and version 1 is what
//! OpenSSL 3 writes for the client certificates made as mosquitto's own TLS guide says
//! (`openssl x509 -req … -CA ca.crt`, no extensions). mosquitto's clients send such a
//! certificate and let the broker judge it; so do we: the chain and the signing key go to
//! rustls through a resolver that always answers with them.
//!
//! The check that matters to a user, a key that is not the certificate's, stays, done without
//! webpki: the certificate's SubjectPublicKeyInfo is found by walking its DER (which every
//! version shares) and compared with the key's. A certificate too odd to walk is sent as it
//! is; the broker's handshake failure then says what is wrong.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::SettingsError;

/// A resolver that always presents the one identity it was made with.
pub(super) fn client_identity(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<Arc<dyn ResolvesClientCert>, SettingsError> {
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
        SettingsError::ClientIdentity(format!(
            "the client key is not a key this TLS stack can sign with ({e})"
        ))
    })?;
    let end_entity = chain.first().ok_or_else(|| {
        SettingsError::ClientIdentity("the client certificate file holds no certificate".into())
    })?;
    if let (Some(certified), Some(own)) =
        (certificate_public_key(end_entity), signing_key.public_key())
        && certified != own.as_ref()
    {
        return Err(SettingsError::ClientIdentity(
            "the client key does not belong to the client certificate (their public keys differ): give the key the certificate was issued for".into(),
        ));
    }
    Ok(Arc::new(FixedIdentity(Arc::new(CertifiedKey::new(
        chain,
        signing_key,
    )))))
}

#[derive(Debug)]
struct FixedIdentity(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The DER of the certificate's SubjectPublicKeyInfo, or `None` where its structure is not
/// what RFC 5280 describes. Versions 1 to 3 lay out the fields before it alike, except for
/// the optional `[0] version`.
fn certificate_public_key(certificate: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const VERSION: u8 = 0xA0;
    let (certificate, _) = element(certificate, SEQUENCE)?;
    let (tbs, _) = element(certificate.content, SEQUENCE)?;
    let mut rest = tbs.content;
    if rest.first() == Some(&VERSION) {
        rest = element(rest, VERSION)?.1;
    }
    rest = element(rest, INTEGER)?.1; // serial number
    for _signature_issuer_validity_subject in 0..4 {
        rest = element(rest, SEQUENCE)?.1;
    }
    let (public_key, _) = element(rest, SEQUENCE)?;
    Some(public_key.whole)
}

struct Element<'a> {
    /// Tag, length and content.
    whole: &'a [u8],
    content: &'a [u8],
}

/// One DER element with the expected one-byte tag at the start of `bytes`, and what follows
/// it. Lengths are checked against the bytes there; nothing is allocated.
fn element(bytes: &[u8], tag: u8) -> Option<(Element<'_>, &[u8])> {
    let (&found, after_tag) = bytes.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, mut after_length) = after_tag.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_length.len() < count {
            return None;
        }
        let (digits, rest) = after_length.split_at(count);
        after_length = rest;
        digits
            .iter()
            .fold(0usize, |length, &digit| (length << 8) | usize::from(digit))
    };
    if length > after_length.len() {
        return None;
    }
    let header = bytes.len() - after_length.len();
    let (content, rest) = after_length.split_at(length);
    Some((
        Element {
            whole: &bytes[..header + length],
            content,
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.extend([0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        out.extend(content);
        out
    }

    /// A certificate's shape: only the structure the walk reads, with placeholder contents.
    fn certificate(version: Option<u8>, public_key: &[u8]) -> Vec<u8> {
        let mut tbs = Vec::new();
        if let Some(version) = version {
            tbs.extend(der(0xA0, &der(0x02, &[version])));
        }
        tbs.extend(der(0x02, &[0x10, 0x01]));
        for _ in 0..4 {
            tbs.extend(der(0x30, &[0x05, 0x00]));
        }
        tbs.extend(public_key);
        tbs.extend(der(0xA3, &[0x30, 0x00])); // extensions, in v3
        let mut certificate = der(0x30, &tbs);
        certificate.extend(der(0x30, &[0x06, 0x00]));
        certificate.extend(der(0x03, &[0x00; 200])); // a long signature: a two-byte length
        der(0x30, &certificate)
    }

    #[test]
    fn finds_the_public_key_in_version_1_and_version_3_certificates() {
        let public_key = der(0x30, &[0x42; 91]);
        for version in [None, Some(2)] {
            let certificate = certificate(version, &public_key);
            assert_eq!(
                certificate_public_key(&certificate),
                Some(public_key.as_slice()),
                "version {version:?}"
            );
        }
    }

    #[test]
    fn a_truncated_or_foreign_certificate_gives_no_key_and_no_panic() {
        let whole = certificate(None, &der(0x30, &[0x42; 91]));
        for cut in 0..whole.len() {
            assert_eq!(certificate_public_key(&whole[..cut]), None, "cut at {cut}");
        }
        assert_eq!(certificate_public_key(b"-----BEGIN CERTIFICATE-----"), None);
        // A length claiming more than four bytes of length, or more than is there.
        assert_eq!(certificate_public_key(&[0x30, 0x85, 1, 0, 0, 0, 0]), None);
        assert_eq!(
            certificate_public_key(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30]),
            None
        );
    }
}
