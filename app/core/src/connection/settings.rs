//! Connection settings as users give them ([`ConnectionOptions`]: flags, profiles) and as the
//! MQTT clients use them ([`ConnectionSettings`]: files read, TLS set up, password loaded).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use super::Secret;
use crate::broker_address::BrokerAddress;

/// The environment variable the password is read from when no password file is named.
pub const PASSWORD_ENV: &str = "TWINSCOPE_MQTT_PASSWORD";

/// What a user said about the connection, before any file is read. Flags and profile
/// entries both become one of these; [`overridden_by`](Self::overridden_by) layers them.
///
/// There is deliberately no password field: a password comes from a file or the
/// environment, never from a command line (visible in `ps`) or a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    pub broker: Option<BrokerAddress>,
    /// CA certificates (PEM) to trust instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS, with its private key.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the password [default: `TWINSCOPE_MQTT_PASSWORD`].
    pub password_env: Option<String>,
    pub client_id: Option<String>,
}

/// Why connection options cannot be used; each names the option and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "no broker given: use --broker mqtt://HOST:PORT (or mqtts:// for TLS) or --profile NAME"
    )]
    NoBroker,
    #[error(
        "--ca, --cert and --key are for TLS, but {0} is a plain MQTT address: write mqtts://HOST:PORT"
    )]
    TlsOptionsWithoutTls(BrokerAddress),
    #[error("cannot read the {what} {path}: {error}")]
    File {
        what: &'static str,
        path: PathBuf,
        error: String,
    },
    #[error("the {what} {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { what: &'static str, path: PathBuf },
    #[error("the client key {0} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey(PathBuf),
    #[error("--cert and --key go together: give the client certificate and its private key")]
    HalfClientIdentity,
    #[error("the client certificate and key cannot be used: {0}")]
    ClientIdentity(String),
    #[error("no system CA certificates found ({0}); give the broker's CA with --ca FILE")]
    NoSystemRoots(String),
    #[error("a password needs a user name: add --username NAME")]
    PasswordWithoutUser,
    #[error("the password file {0} is empty")]
    EmptyPassword(PathBuf),
    #[error("TLS cannot be set up: {0}")]
    Tls(String),
}

impl ConnectionOptions {
    /// These options with every option `over` sets taking precedence (flags over a profile).
    pub fn overridden_by(self, over: ConnectionOptions) -> Self {
        ConnectionOptions {
            broker: over.broker.or(self.broker),
            ca: over.ca.or(self.ca),
            cert: over.cert.or(self.cert),
            key: over.key.or(self.key),
            username: over.username.or(self.username),
            password_file: over.password_file.or(self.password_file),
            password_env: over.password_env.or(self.password_env),
            client_id: over.client_id.or(self.client_id),
        }
    }

    /// Reads the certificate, key and password files and sets up TLS, so that every mistake
    /// shows now, once, with the file's name.
    pub fn resolve(self) -> Result<ConnectionSettings, SettingsError> {
        self.resolve_with_env(|name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) with the environment given (tests).
    pub fn resolve_with_env(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectionSettings, SettingsError> {
        let broker = self.broker.ok_or(SettingsError::NoBroker)?;
        let wants_tls_files = self.ca.is_some() || self.cert.is_some() || self.key.is_some();
        if wants_tls_files && !broker.tls {
            return Err(SettingsError::TlsOptionsWithoutTls(broker));
        }
        let client_certificate = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
            (None, None) => None,
            _ => return Err(SettingsError::HalfClientIdentity),
        };
        let tls = if broker.tls {
            Some(super::tls::client_config(
                self.ca.as_deref(),
                client_certificate,
            )?)
        } else {
            None
        };
        let password = match &self.password_file {
            Some(path) => {
                if self.username.is_none() {
                    return Err(SettingsError::PasswordWithoutUser);
                }
                Some(read_password_file(path)?)
            }
            // The variable may be set for other tools; it only counts with a user name.
            None if self.username.is_some() => {
                env(self.password_env.as_deref().unwrap_or(PASSWORD_ENV)).map(Secret::new)
            }
            None => None,
        };
        Ok(ConnectionSettings {
            broker,
            username: self.username,
            password,
            client_id: self.client_id,
            tls,
            client_certificate: client_certificate.is_some(),
        })
    }
}

/// The whole file but a final line break: `echo secret > file` is the usual way to write one.
fn read_password_file(path: &Path) -> Result<Secret, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
        what: "password file",
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(SettingsError::EmptyPassword(path.to_owned()));
    }
    Ok(Secret::new(password.to_owned()))
}

/// Everything an MQTT client of twinscope needs to connect, checked and loaded.
#[derive(Clone)]
pub struct ConnectionSettings {
    pub broker: BrokerAddress,
    pub username: Option<String>,
    password: Option<Secret>,
    /// The MQTT client id the user asked for (brokers with ACLs by client id).
    pub client_id: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// A client certificate is configured (mutual TLS).
    pub client_certificate: bool,
}

impl std::fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("broker", &self.broker)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("client_id", &self.client_id)
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}

impl ConnectionSettings {
    /// A broker with no TLS files and no credentials (the embedded broker, tests).
    pub fn plain(broker: BrokerAddress) -> Self {
        let tls = None;
        ConnectionSettings {
            broker,
            username: None,
            password: None,
            client_id: None,
            tls,
            client_certificate: false,
        }
    }

    /// The client id for one of this process's clients. The main client of a command gets
    /// the configured id itself; helper clients (the DVR, the record button, acknowledgements)
    /// append their role, so they do not disconnect each other. Without a configured id
    /// every client gets a unique one.
    pub fn client_id_for(&self, helper_role: Option<&str>) -> String {
        match (&self.client_id, helper_role) {
            (Some(id), None) => id.clone(),
            (Some(id), Some(role)) => format!("{id}-{role}"),
            (None, None) => crate::ingest::unique_client_id("twinscope"),
            (None, Some(role)) => crate::ingest::unique_client_id(&format!("twinscope-{role}")),
        }
    }

    /// rumqttc's options for one client.
    pub fn mqtt_options(&self, client_id: String, keep_alive: Duration) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, self.broker.host.clone(), self.broker.port);
        options.set_keep_alive(keep_alive);
        if let Some(tls) = &self.tls {
            options.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
        }
        if let Some(user) = &self.username {
            options.set_credentials(
                user.clone(),
                self.password
                    .as_ref()
                    .map(Secret::expose)
                    .unwrap_or_default(),
            );
        }
        options
    }

    /// The broker and how we authenticate, for the status bar and logs (never the password).
    pub fn describe(&self) -> String {
        let mut text = self.broker.to_string();
        if let Some(user) = &self.username {
            text.push_str(&format!(" as {user}"));
        }
        if self.client_certificate {
            text.push_str(" (client certificate)");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(text: &str) -> Option<BrokerAddress> {
        Some(text.parse().unwrap())
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("twinscope-settings-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn flags_override_a_profile_field_by_field() {
        let profile = ConnectionOptions {
            broker: broker("mqtts://plant-a:8883"),
            username: Some("op".into()),
            client_id: Some("cr1".into()),
            ..Default::default()
        };
        let flags = ConnectionOptions {
            username: Some("admin".into()),
            ..Default::default()
        };
        let merged = profile.overridden_by(flags);
        assert_eq!(merged.broker, broker("mqtts://plant-a:8883"));
        assert_eq!(merged.username.as_deref(), Some("admin"));
        assert_eq!(merged.client_id.as_deref(), Some("cr1"));
    }

    #[test]
    fn the_password_comes_from_a_file_or_the_environment_and_never_prints() {
        let file = temp_file("password", "s3cret\n");
        let options = ConnectionOptions {
            broker: broker("mqtt://h"),
            username: Some("op".into()),
            password_file: Some(file.clone()),
            ..Default::default()
        };
        let settings = options.clone().resolve_with_env(|_| None).unwrap();
        assert_eq!(
            settings.password.as_ref().map(Secret::expose),
            Some("s3cret")
        );
        assert!(!format!("{settings:?}").contains("s3cret"));
        assert!(!settings.describe().contains("s3cret"));

        let from_env = ConnectionOptions {
            password_file: None,
            ..options
        };
        let settings = from_env
            .resolve_with_env(|name| (name == PASSWORD_ENV).then(|| "envpw".to_owned()))
            .unwrap();
        assert_eq!(
            settings.password.as_ref().map(Secret::expose),
            Some("envpw")
        );
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn the_environment_password_needs_a_user_name() {
        let options = ConnectionOptions {
            broker: broker("mqtt://h"),
            ..Default::default()
        };
        let settings = options.resolve_with_env(|_| Some("pw".into())).unwrap();
        assert!(settings.password.is_none());
        let without_user = ConnectionOptions {
            broker: broker("mqtt://h"),
            password_file: Some("/nonexistent".into()),
            ..Default::default()
        };
        assert_eq!(
            without_user.resolve_with_env(|_| None).unwrap_err(),
            SettingsError::PasswordWithoutUser
        );
    }

    #[test]
    fn mistakes_are_named() {
        let plain_with_ca = ConnectionOptions {
            broker: broker("mqtt://h"),
            ca: Some("ca.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            plain_with_ca.resolve_with_env(|_| None),
            Err(SettingsError::TlsOptionsWithoutTls(_))
        ));
        let half = ConnectionOptions {
            broker: broker("mqtts://h"),
            cert: Some("c.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            half.resolve_with_env(|_| None).unwrap_err(),
            SettingsError::HalfClientIdentity
        );
        let missing_ca = ConnectionOptions {
            broker: broker("mqtts://h"),
            ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let error = missing_ca
            .resolve_with_env(|_| None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("/nonexistent/ca.pem") && error.contains("CA"),
            "{error}"
        );
        let not_pem = temp_file("not-pem", "hello");
        let bad_ca = ConnectionOptions {
            broker: broker("mqtts://h"),
            ca: Some(not_pem.clone()),
            ..Default::default()
        };
        assert!(matches!(
            bad_ca.resolve_with_env(|_| None),
            Err(SettingsError::NoCertificate { .. })
        ));
        let empty = temp_file("empty-password", "\n");
        let empty_password = ConnectionOptions {
            broker: broker("mqtt://h"),
            username: Some("u".into()),
            password_file: Some(empty.clone()),
            ..Default::default()
        };
        assert!(matches!(
            empty_password.resolve_with_env(|_| None),
            Err(SettingsError::EmptyPassword(_))
        ));
        assert_eq!(
            ConnectionOptions::default()
                .resolve_with_env(|_| None)
                .unwrap_err(),
            SettingsError::NoBroker
        );
        let _ = std::fs::remove_file(not_pem);
        let _ = std::fs::remove_file(empty);
    }

    #[test]
    fn helper_clients_get_their_own_ids() {
        let mut settings = ConnectionSettings::plain(BrokerAddress::loopback(1883));
        assert_ne!(settings.client_id_for(None), settings.client_id_for(None));
        settings.client_id = Some("control-room-1".into());
        assert_eq!(settings.client_id_for(None), "control-room-1");
        assert_eq!(settings.client_id_for(Some("dvr")), "control-room-1-dvr");
    }
}
