//! Why a connection failed, in one line a plant operator can act on.
//!
//! rumqttc reports failures as nested errors (an I/O error inside a TLS error inside a
//! connection error, a rustls error inside an I/O error). This walks the chain once and
//! names the cause: host not found, connection refused, timeout, the TLS handshake (unknown
//! CA, host name mismatch, expired certificate, client certificate wanted or refused), or the
//! broker refusing our credentials.

use std::error::Error as StdError;
use std::time::Duration;

use rumqttc::{ConnectReturnCode, ConnectionError, StateError};
use rustls::{AlertDescription, CertificateError};

use super::ConnectionSettings;

/// The kind of failure: what would fix it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    HostNotFound,
    Refused,
    Timeout,
    Tls,
    /// The broker refused the CONNECT (credentials, client id, ACL).
    Rejected,
    /// An established connection broke.
    Lost,
    Other,
}

/// One connection failure, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFailure {
    pub kind: FailureKind,
    /// One line: what happened, where, and what to try.
    pub message: String,
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ConnectFailure {
    /// Retrying the same settings will not help (a certificate or the credentials are wrong),
    /// so a command-line tool can stop at once.
    pub fn is_permanent(&self) -> bool {
        matches!(self.kind, FailureKind::Tls | FailureKind::Rejected)
    }

    /// Explains `error`. `connected` says whether the connection had been established (then
    /// a broken socket is a loss, not a refusal).
    pub fn explain(
        error: &ConnectionError,
        settings: &ConnectionSettings,
        connected: bool,
        connect_timeout: Duration,
    ) -> Self {
        let broker = &settings.broker;
        let at = format!("{}:{}", broker.host, broker.port);
        let failure = |kind, message: String| ConnectFailure { kind, message };
        match error {
            ConnectionError::ConnectionRefused(code) => {
                let (kind, why) = match code {
                    ConnectReturnCode::BadUserNamePassword => (
                        FailureKind::Rejected,
                        "bad user name or password (check --username and the password file or TWINSCOPE_MQTT_PASSWORD)".to_owned(),
                    ),
                    ConnectReturnCode::NotAuthorized => (
                        FailureKind::Rejected,
                        if settings.username.is_some() {
                            "not authorized: the user name or password is wrong, or this user may not connect".to_owned()
                        } else {
                            "not authorized: the broker wants credentials (--username, and a password file or TWINSCOPE_MQTT_PASSWORD)".to_owned()
                        },
                    ),
                    ConnectReturnCode::BadClientId => (FailureKind::Rejected, "client id rejected (set an allowed one with --client-id)".to_owned()),
                    ConnectReturnCode::ServiceUnavailable => (FailureKind::Refused, "server unavailable".to_owned()),
                    ConnectReturnCode::RefusedProtocolVersion => (FailureKind::Rejected, "MQTT 3.1.1 is not accepted".to_owned()),
                    ConnectReturnCode::Success => (FailureKind::Other, "success code in a refusal".to_owned()),
                };
                return failure(
                    kind,
                    format!("the broker at {at} refused the connection (CONNACK): {why}"),
                );
            }
            ConnectionError::NetworkTimeout => {
                let waited = connect_timeout.as_secs();
                return failure(
                    FailureKind::Timeout,
                    format!(
                        "timeout: {at} did not complete the connection within {waited} s (TCP, TLS or CONNACK); is the address right, and is the broker answering?"
                    ),
                );
            }
            ConnectionError::FlushTimeout => {
                return failure(
                    FailureKind::Lost,
                    format!("timeout sending to {at}: the link is stalled"),
                );
            }
            ConnectionError::MqttState(StateError::AwaitPingResp) => {
                return failure(
                    FailureKind::Lost,
                    format!("lost {at}: the broker stopped answering (no ping response)"),
                );
            }
            ConnectionError::NotConnAck(packet) => {
                return failure(
                    FailureKind::Other,
                    format!(
                        "{at} answered with {packet:?} instead of CONNACK: is it an MQTT broker?"
                    ),
                );
            }
            _ => {}
        }
        if let Some(tls) = find_rustls_error(error) {
            return failure(
                FailureKind::Tls,
                format!(
                    "TLS handshake with {at} failed: {}",
                    explain_tls(tls, settings)
                ),
            );
        }
        if let ConnectionError::Tls(rumqttc::TlsError::DNSName(_)) = error {
            return failure(
                FailureKind::Tls,
                format!(
                    "TLS: {:?} is not a valid server name for a certificate",
                    broker.host
                ),
            );
        }
        if let Some(io) = find_io_error(error) {
            let text = io.to_string();
            use std::io::ErrorKind::*;
            let kind = io.kind();
            if kind == ConnectionRefused {
                return failure(
                    FailureKind::Refused,
                    format!(
                        "connection refused by {at}: nothing listens there (is the broker running, is the port right?)"
                    ),
                );
            }
            if kind == TimedOut {
                return failure(
                    FailureKind::Timeout,
                    format!("timeout: no answer from {at} ({text})"),
                );
            }
            if is_name_lookup_failure(&text) || (kind == InvalidInput && text.contains("resolve")) {
                return failure(
                    FailureKind::HostNotFound,
                    format!(
                        "host not found: {:?} (check the name, DNS or /etc/hosts)",
                        broker.host
                    ),
                );
            }
            if matches!(
                kind,
                UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
            ) {
                return closed(at, settings, connected);
            }
            if matches!(
                kind,
                HostUnreachable | NetworkUnreachable | AddrNotAvailable
            ) {
                return failure(
                    FailureKind::Refused,
                    format!("{at} is unreachable from here ({text})"),
                );
            }
            return failure(
                if connected {
                    FailureKind::Lost
                } else {
                    FailureKind::Other
                },
                format!("{at}: {text}"),
            );
        }
        if matches!(
            error,
            ConnectionError::MqttState(StateError::ConnectionAborted)
        ) {
            return closed(at, settings, connected);
        }
        failure(
            if connected {
                FailureKind::Lost
            } else {
                FailureKind::Other
            },
            format!("{at}: {error}"),
        )
    }
}

/// The broker closed the socket. Before CONNACK that usually means TLS on one side only;
/// after it, with a fixed client id, often a second client with the same id.
fn closed(at: String, settings: &ConnectionSettings, connected: bool) -> ConnectFailure {
    let (tls, client_certificate) = (settings.broker.tls, settings.client_certificate);
    if connected {
        let message = match &settings.client_id {
            Some(id) => format!(
                "lost {at}: the broker closed the connection (is another client using the client id {id:?}? a broker keeps only one)"
            ),
            None => format!("lost {at}: the broker closed the connection"),
        };
        return ConnectFailure {
            kind: FailureKind::Lost,
            message,
        };
    }
    let hint = if tls && !client_certificate {
        "does it need a client certificate (--cert, --key), or is it a plain MQTT port (mqtt://)?"
    } else if tls {
        "was our client certificate refused, or is it a plain MQTT port (mqtt://)?"
    } else {
        "is it a TLS port (use mqtts://), or does the broker refuse this client?"
    };
    ConnectFailure {
        kind: FailureKind::Refused,
        message: format!("{at} closed the connection before accepting it: {hint}"),
    }
}

fn is_name_lookup_failure(text: &str) -> bool {
    [
        "failed to lookup address",
        "Name or service not known",
        "nodename nor servname",
        "No such host",
        "Temporary failure in name resolution",
        "No address associated",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn explain_tls(error: &rustls::Error, settings: &ConnectionSettings) -> String {
    let host = &settings.broker.host;
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => {
                "the broker's certificate is not signed by a CA we trust (unknown CA: give the broker's CA with --ca FILE)".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("host name mismatch: the broker's certificate is not valid for {host:?} (connect by a name the certificate lists)")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "the broker's certificate has expired".to_owned(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the broker's certificate is not valid yet (check this machine's clock)".to_owned()
            }
            CertificateError::Revoked => "the broker's certificate is revoked".to_owned(),
            other => format!("the broker's certificate was rejected ({other:?})"),
        },
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::CertificateRequired => "the broker requires a client certificate (--cert FILE --key FILE)".to_owned(),
            AlertDescription::HandshakeFailure if !settings.client_certificate => {
                "the broker refused the handshake; it may require a client certificate (--cert FILE --key FILE)".to_owned()
            }
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::UnsupportedCertificate => {
                if settings.client_certificate {
                    format!("the broker refused our client certificate ({alert:?})")
                } else {
                    format!("the broker refused the handshake ({alert:?}); it may require a client certificate (--cert FILE --key FILE)")
                }
            }
            other => format!("the broker sent the alert {other:?}"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the broker did not answer in TLS: is it a plain MQTT port (use mqtt://)?".to_owned()
        }
        other => other.to_string(),
    }
}

/// A rustls error anywhere in the chain, also inside an I/O error (how tokio-rustls reports).
fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        next = current.source();
    }
    None
}

fn find_io_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a std::io::Error> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        next = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BrokerAddress;

    fn explain(error: ConnectionError, tls: bool) -> ConnectFailure {
        let settings = ConnectionSettings::plain(BrokerAddress {
            host: "broker.example".into(),
            port: 8883,
            tls,
        });
        ConnectFailure::explain(&error, &settings, false, Duration::from_secs(10))
    }

    #[test]
    fn each_cause_has_its_own_line() {
        let refused = explain(
            ConnectionError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            false,
        );
        assert_eq!(refused.kind, FailureKind::Refused);
        assert!(
            refused
                .message
                .starts_with("connection refused by broker.example:8883"),
            "{refused}"
        );

        let lookup = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        assert_eq!(
            explain(ConnectionError::Io(lookup), false).kind,
            FailureKind::HostNotFound
        );

        let timeout = explain(ConnectionError::NetworkTimeout, false);
        assert_eq!(timeout.kind, FailureKind::Timeout);
        assert!(timeout.message.contains("10 s"), "{timeout}");

        let credentials = explain(
            ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword),
            false,
        );
        assert_eq!(credentials.kind, FailureKind::Rejected);
        assert!(
            credentials.is_permanent() && credentials.message.contains("bad user name or password"),
            "{credentials}"
        );

        let unknown_ca = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let failure = explain(
            ConnectionError::Tls(rumqttc::TlsError::Io(unknown_ca)),
            true,
        );
        assert_eq!(failure.kind, FailureKind::Tls);
        assert!(failure.message.contains("unknown CA"), "{failure}");

        let mismatch = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
        );
        assert!(
            explain(ConnectionError::Io(mismatch), true)
                .message
                .contains("host name mismatch")
        );

        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert!(
            explain(ConnectionError::Tls(rumqttc::TlsError::TLS(expired)), true)
                .message
                .contains("expired")
        );

        let wants_cert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        let failure = explain(ConnectionError::MqttState(StateError::Io(wants_cert)), true);
        assert!(
            failure.message.contains("requires a client certificate"),
            "{failure}"
        );

        let closed = explain(
            ConnectionError::MqttState(StateError::ConnectionAborted),
            true,
        );
        assert!(
            closed
                .message
                .contains("closed the connection before accepting it"),
            "{closed}"
        );
    }
}
