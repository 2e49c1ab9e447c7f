//! Connection profiles: named brokers with their TLS files and where their password comes
//! from, in one TOML file, so `twinscope --profile plant-a` is all an operator types.
//!
//! The file is `profiles.toml` in the user's config folder (`~/.config/twinscope/` on Linux,
//! `~/Library/Application Support/twinscope/` on macOS, `%APPDATA%\twinscope\` on Windows),
//! or the one `--config FILE` names:
//!
//! ```toml
//! [profile.plant-a]
//! broker = "mqtts://broker.plant-a.example:8883"
//! ca = "certs/plant-a-ca.pem"       # relative paths are relative to this file
//! cert = "certs/operator.crt"       # mutual TLS: certificate and key
//! key = "certs/operator.key"
//! username = "operator"
//! password_file = "plant-a.password" # or: password_env = "PLANT_A_MQTT_PASSWORD"
//! client_id = "control-room-1"
//! ```
//!
//! A profile never holds a password itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConnectionOptions;
use crate::BrokerAddress;

/// Where profiles are looked for when no `--config` is given.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("twinscope").join("profiles.toml"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the profiles file {path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("{path}: {error}")]
    Parse { path: PathBuf, error: String },
    #[error("{path} has no profile {name:?} (it has: {known})")]
    Unknown {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("{path}, profile {name:?}: {error}")]
    Invalid {
        path: PathBuf,
        name: String,
        error: String,
    },
    #[error("--profile needs a profiles file: none at {0} (or name one with --config FILE)")]
    NoFile(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesToml {
    #[serde(default)]
    profile: BTreeMap<String, ProfileToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileToml {
    broker: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    client_id: Option<String>,
    /// The operations on devices this plant allows once operations are turned on
    /// (`TWIN:OPERATION`), as `--allow-operation` and a scene's `[operations] allow` say.
    #[serde(default)]
    allow_operations: Vec<String>,
    /// Refused with a clear message, not as an unknown field.
    password: Option<toml::Value>,
}

/// A loaded profiles file.
#[derive(Debug)]
pub struct Profiles {
    path: PathBuf,
    profiles: BTreeMap<String, ProfileToml>,
}

impl Profiles {
    /// Loads `--config FILE`, or the default file. `Ok(None)` when there is no default file.
    pub fn load(explicit: Option<&Path>) -> Result<Option<Profiles>, ProfileError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None => match default_path() {
                Some(path) if path.exists() => path,
                _ => return Ok(None),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ProfileError::Read {
            path: path.clone(),
            error: e.to_string(),
        })?;
        Self::parse(&path, &text).map(Some)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Profiles, ProfileError> {
        let parsed: ProfilesToml = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_owned(),
            error: e.message().to_owned(),
        })?;
        Ok(Profiles {
            path: path.to_owned(),
            profiles: parsed.profile,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The operations profile `name` allows (`allow_operations`; empty when it lists none).
    pub fn allowed_operations(&self, name: &str) -> Vec<String> {
        self.profiles
            .get(name)
            .map(|p| p.allow_operations.clone())
            .unwrap_or_default()
    }

    /// The options profile `name` gives, with its paths made absolute.
    pub fn options(&self, name: &str) -> Result<ConnectionOptions, ProfileError> {
        let Some(profile) = self.profiles.get(name) else {
            let known = if self.profiles.is_empty() {
                "none".to_owned()
            } else {
                self.names().collect::<Vec<_>>().join(", ")
            };
            return Err(ProfileError::Unknown {
                path: self.path.clone(),
                name: name.to_owned(),
                known,
            });
        };
        let invalid = |error: String| ProfileError::Invalid {
            path: self.path.clone(),
            name: name.to_owned(),
            error,
        };
        if profile.password.is_some() {
            return Err(invalid("profiles hold no passwords: use password_file = \"FILE\" or password_env = \"VARIABLE\"".into()));
        }
        let broker = profile
            .broker
            .as_deref()
            .map(str::parse::<BrokerAddress>)
            .transpose()
            .map_err(|e| invalid(e.to_string()))?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        let resolve = |path: &Option<PathBuf>| path.as_deref().map(|p| relative_to(base, p));
        Ok(ConnectionOptions {
            broker,
            ca: resolve(&profile.ca),
            cert: resolve(&profile.cert),
            key: resolve(&profile.key),
            username: profile.username.clone(),
            password_file: resolve(&profile.password_file),
            password_env: profile.password_env.clone(),
            client_id: profile.client_id.clone(),
        })
    }
}

/// `~/x` from the home folder, a relative path from the profile file's folder.
fn relative_to(base: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[profile.plant-a]
broker = "mqtts://broker.plant-a.example:8883"
ca = "certs/ca.pem"
cert = "/etc/twinscope/operator.crt"
key = "/etc/twinscope/operator.key"
username = "operator"
password_file = "plant-a.password"
client_id = "control-room-1"
allow_operations = ["line1-*:restart", "line1-*:log_upload"]

[profile.lab]
broker = "mqtt://10.0.0.5"
"#;

    #[test]
    fn a_profile_may_list_the_operations_its_plant_allows() {
        let profiles = Profiles::parse(Path::new("/p/profiles.toml"), EXAMPLE).unwrap();
        assert_eq!(
            profiles.allowed_operations("plant-a"),
            ["line1-*:restart", "line1-*:log_upload"]
        );
        assert!(profiles.allowed_operations("lab").is_empty());
    }

    #[test]
    fn a_profile_gives_its_options_with_paths_from_the_file() {
        let profiles = Profiles::parse(
            Path::new("/home/op/.config/twinscope/profiles.toml"),
            EXAMPLE,
        )
        .unwrap();
        let options = profiles.options("plant-a").unwrap();
        assert_eq!(
            options.broker,
            Some(BrokerAddress {
                host: "broker.plant-a.example".into(),
                port: 8883,
                tls: true
            })
        );
        assert_eq!(
            options.ca.as_deref(),
            Some(Path::new("/home/op/.config/twinscope/certs/ca.pem"))
        );
        assert_eq!(
            options.cert.as_deref(),
            Some(Path::new("/etc/twinscope/operator.crt"))
        );
        assert_eq!(
            options.password_file.as_deref(),
            Some(Path::new("/home/op/.config/twinscope/plant-a.password"))
        );
        assert_eq!(options.client_id.as_deref(), Some("control-room-1"));
        assert_eq!(
            profiles.options("lab").unwrap().broker.map(|b| b.port),
            Some(1883)
        );
    }

    #[test]
    fn mistakes_name_the_file_and_the_profile() {
        let path = Path::new("p.toml");
        let profiles = Profiles::parse(path, EXAMPLE).unwrap();
        let unknown = profiles.options("plant-b").unwrap_err().to_string();
        assert!(
            unknown.contains("plant-b") && unknown.contains("lab, plant-a"),
            "{unknown}"
        );
        let with_password = Profiles::parse(
            path,
            "[profile.x]\nbroker = \"mqtt://h\"\npassword = \"hunter2\"\n",
        )
        .unwrap();
        let error = with_password.options("x").unwrap_err().to_string();
        assert!(
            error.contains("no passwords") && !error.contains("hunter2"),
            "{error}"
        );
        let typo = Profiles::parse(path, "[profile.x]\nbrokr = \"mqtt://h\"\n")
            .unwrap_err()
            .to_string();
        assert!(typo.contains("brokr"), "{typo}");
        let bad_url = Profiles::parse(path, "[profile.x]\nbroker = \"http://h\"\n").unwrap();
        assert!(matches!(
            bad_url.options("x"),
            Err(ProfileError::Invalid { .. })
        ));
    }
}
