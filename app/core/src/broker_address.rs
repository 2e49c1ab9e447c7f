//! `mqtt://host:port` and `mqtts://host:port` as users write them on the command line.

use std::fmt;
use std::str::FromStr;

/// Where an MQTT broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    /// MQTT over TLS (`mqtts://`, `ssl://`): the host name is checked against the
    /// broker's certificate.
    pub tls: bool,
}

impl BrokerAddress {
    pub fn loopback(port: u16) -> Self {
        BrokerAddress {
            host: "127.0.0.1".to_owned(),
            port,
            tls: false,
        }
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "{0:?}: use mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS (tcp:// and ssl:// work too)"
    )]
    Scheme(String),
    #[error("{0:?}: no host; write it as mqtt://HOST:PORT")]
    NoHost(String),
    #[error("{0:?}: the port is not a number from 1 to 65535")]
    Port(String),
}

impl FromStr for BrokerAddress {
    type Err = AddressError;

    /// Accepts `mqtt://host:port`, `tcp://host:port`, `host:port` and `host` (port 1883), and
    /// for TLS `mqtts://host:port` or `ssl://host:port` (port 8883).
    fn from_str(text: &str) -> Result<Self, AddressError> {
        let (tls, rest) = match text.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => (false, rest),
            Some(("mqtts" | "ssl" | "tls", rest)) => (true, rest),
            Some(_) => return Err(AddressError::Scheme(text.to_owned())),
            None => (false, text),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| AddressError::NoHost(text.to_owned()))?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(AddressError::NoHost(text.to_owned()));
        }
        let port = match port {
            None if tls => 8883,
            None => 1883,
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err(AddressError::Port(text.to_owned())),
            },
        };
        Ok(BrokerAddress {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        let plain = |host: &str, port| BrokerAddress {
            host: host.into(),
            port,
            tls: false,
        };
        assert_eq!(
            "mqtt://localhost:1884".parse(),
            Ok(plain("localhost", 1884))
        );
        assert_eq!("tcp://10.0.0.1".parse(), Ok(plain("10.0.0.1", 1883)));
        assert_eq!("broker:42".parse(), Ok(plain("broker", 42)));
        assert_eq!("mqtt://[::1]:1883".parse(), Ok(plain("::1", 1883)));
        assert_eq!(BrokerAddress::loopback(5).to_string(), "mqtt://127.0.0.1:5");
    }

    #[test]
    fn tls_schemes_default_to_8883() {
        let secure = |host: &str, port| BrokerAddress {
            host: host.into(),
            port,
            tls: true,
        };
        assert_eq!(
            "mqtts://broker.example".parse(),
            Ok(secure("broker.example", 8883))
        );
        assert_eq!(
            "ssl://broker.example:8884".parse(),
            Ok(secure("broker.example", 8884))
        );
        assert_eq!(secure("h", 8883).to_string(), "mqtts://h:8883");
    }

    #[test]
    fn refuses_the_rest_with_a_hint() {
        assert!(matches!(
            "ws://x:1".parse::<BrokerAddress>(),
            Err(AddressError::Scheme(_))
        ));
        assert!(matches!(
            "mqtt://:1883".parse::<BrokerAddress>(),
            Err(AddressError::NoHost(_))
        ));
        assert!(matches!(
            "mqtt://x:0".parse::<BrokerAddress>(),
            Err(AddressError::Port(_))
        ));
        assert!(matches!(
            "mqtt://x:http".parse::<BrokerAddress>(),
            Err(AddressError::Port(_))
        ));
    }
}
