//! The connection options every live command shares (`--broker`, `--profile`, TLS files,
//! user name, password file, client id), layered as: profile, then flags.

use std::path::PathBuf;

use clap::Args;
use twinscope_core::BrokerAddress;
use twinscope_core::connection::profile::{Profiles, default_path};
use twinscope_core::connection::{ConnectionOptions, ConnectionSettings};

#[derive(Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    /// The broker: mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS.
    #[arg(long, value_name = "URL")]
    pub broker: Option<BrokerAddress>,
    /// A connection profile (broker, TLS files, user name, password source) from the
    /// profiles file; the other flags override what it says.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The profiles file [default: profiles.toml in the user's config folder, e.g.
    /// ~/.config/twinscope/profiles.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// CA certificates (PEM) that sign the broker's certificate [default: the system's].
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; goes with --key.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// MQTT user name. The password comes from --password-file or the environment variable
    /// TWINSCOPE_MQTT_PASSWORD, never from the command line.
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// A file holding the MQTT password (a final line break is ignored).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The MQTT client id (for brokers with ACLs by client id); helper clients of the viewer
    /// append -dvr, -record or -acks [default: unique per client].
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
}

impl ConnectArgs {
    /// Whether the user named a broker at all (a flag or a profile).
    pub fn names_a_broker(&self) -> bool {
        self.broker.is_some() || self.profile.is_some()
    }

    /// The profile (if any) with the flags over it, files read and TLS set up. `default`
    /// is the broker when neither names one.
    /// The operations the profile (`--profile`) allows: its `allow_operations`.
    pub fn profile_allowed_operations(&self) -> anyhow::Result<Vec<String>> {
        let Some(name) = &self.profile else {
            return Ok(Vec::new());
        };
        Ok(Profiles::load(self.config.as_deref())?
            .map(|p| p.allowed_operations(name))
            .unwrap_or_default())
    }

    pub fn resolve(&self, default: Option<BrokerAddress>) -> anyhow::Result<ConnectionSettings> {
        let mut options = match &self.profile {
            None => ConnectionOptions::default(),
            Some(name) => {
                let profiles = Profiles::load(self.config.as_deref())?.ok_or_else(|| {
                    let place = default_path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "the config folder".into());
                    twinscope_core::connection::profile::ProfileError::NoFile(place)
                })?;
                profiles.options(name)?
            }
        };
        if options.broker.is_none() {
            options.broker = default;
        }
        let flags = ConnectionOptions {
            broker: self.broker.clone(),
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            username: self.username.clone(),
            password_file: self.password_file.clone(),
            password_env: None,
            client_id: self.client_id.clone(),
        };
        Ok(options.overridden_by(flags).resolve()?)
    }
}
