//! How twinscope reaches a broker: where it is and whether it speaks TLS
//! ([`BrokerAddress`](crate::BrokerAddress)), what proves who we are (CA, client certificate,
//! user name and password), and the MQTT client id, gathered in [`ConnectionSettings`].
//!
//! Users name these on the command line or keep them in a [`profile`] file; both give a
//! [`ConnectionOptions`], which [`ConnectionOptions::resolve`] turns into settings by reading the
//! files and the password once, up front, so a wrong path is an error at start and not a
//! retry loop. When a connection fails, [`ConnectFailure`] says why in one line.
//!
//! Passwords live in a [`Secret`]: it never prints, so it cannot reach a log, a report or a
//! recording by accident.

mod client_identity;
mod failure;
pub mod profile;
mod secret;
mod settings;
mod tls;

pub use failure::{ConnectFailure, FailureKind};
pub use secret::Secret;
pub use settings::{ConnectionOptions, ConnectionSettings, PASSWORD_ENV, SettingsError};
