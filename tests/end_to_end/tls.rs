//! A secured broker: TLS with a private CA, client certificates required, and a password
//! file. The right settings receive data; each wrong one gets its own one-line reason and a
//! non-zero exit, at once (retrying cannot fix a certificate or a password).

use std::time::Duration;

use crate::support::tls::{PASSWORD, SecureMosquitto, USER};
use crate::support::{run_twinscope, twinscope};
use crate::{stderr, stdout};

fn state_args(broker: &SecureMosquitto, url: &str) -> Vec<String> {
    let f = &broker.files;
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let mut args: Vec<String> = [
        "state",
        "--broker",
        url,
        "--for",
        "3s",
        "--json",
        "--username",
        USER,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend([
        "--ca".into(),
        path(&f.ca),
        "--cert".into(),
        path(&f.client_cert),
        "--key".into(),
        path(&f.client_key),
    ]);
    args.extend(["--password-file".into(), path(&f.password_file)]);
    args
}

/// `args` with the value of `flag` replaced, or the flag and its value removed.
fn with(args: &[String], flag: &str, value: Option<&str>) -> Vec<String> {
    let mut args = args.to_vec();
    let at = args.iter().position(|a| a == flag).unwrap();
    match value {
        Some(value) => args[at + 1] = value.to_owned(),
        None => {
            args.drain(at..at + 2);
        }
    }
    args
}

fn run(args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_twinscope(&args, Duration::from_secs(30))
}

#[test]
fn the_right_certificates_and_password_receive_data_and_each_wrong_one_says_why() {
    let broker = SecureMosquitto::start();
    broker.publish_retained("te/device/secure-pump///m/p", r#"{"flow": 7}"#);
    let url = broker.url();
    let good = state_args(&broker, &url);

    let output = run(&good);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["twins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "secure-pump"),
        "{report}"
    );
    assert!(
        !stderr(&output).contains(PASSWORD) && !stdout(&output).contains(PASSWORD),
        "the password is never printed"
    );

    let ip_url = url.replace("localhost", "127.0.0.1");
    let cases = [
        (
            "wrong CA",
            with(&good, "--ca", broker.files.other_ca.to_str()),
            "unknown CA",
        ),
        (
            "wrong password",
            with(
                &good,
                "--password-file",
                broker.files.wrong_password_file.to_str(),
            ),
            "refused the connection (CONNACK)",
        ),
        (
            "no client certificate",
            with(&with(&good, "--cert", None), "--key", None),
            "client certificate",
        ),
        (
            "host name mismatch",
            with(&good, "--broker", Some(&ip_url)),
            "host name mismatch",
        ),
    ];
    for (case, args, reason) in cases {
        let started = std::time::Instant::now();
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{case}: {}", stderr(&output));
        let error = stderr(&output);
        let line = error
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{case}: no error line in {error}"));
        assert!(line.contains(reason), "{case}: {line}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{case}: gave up at once, not after --for"
        );
        assert!(
            !error.contains(PASSWORD),
            "{case}: the password is never printed"
        );
    }
    // A key that is not the certificate's is a settings error, said before connecting.
    let output = run(&with(&good, "--key", broker.files.stray_key.to_str()));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("the client key does not belong to the client certificate"),
        "{}",
        stderr(&output)
    );
}

/// The client certificate most mosquitto users have: made as mosquitto's TLS guide says, which
/// OpenSSL 3 writes as X.509 version 1. mosquitto's own clients connect with it; so must we.
#[test]
fn a_version_1_client_certificate_from_mosquittos_recipe_receives_data() {
    let broker = SecureMosquitto::start();
    let f = &broker.files;
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&f.v1_client_cert)
        .output()
        .unwrap();
    assert!(
        stdout(&text).contains("Version: 1 (0x0)"),
        "the recipe made a version 1 certificate: {}",
        stdout(&text)
    );
    broker.publish_retained("te/device/v1-pump///m/p", r#"{"flow": 3}"#);

    let url = broker.url();
    let good = state_args(&broker, &url);
    let v1 = with(
        &with(&good, "--cert", f.v1_client_cert.to_str()),
        "--key",
        f.v1_client_key.to_str(),
    );
    let output = run(&v1);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["twins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "v1-pump"),
        "{report}"
    );

    let mismatched = with(&v1, "--key", f.client_key.to_str());
    let output = run(&mismatched);
    assert!(!output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not belong to the client certificate"),
        "{}",
        stderr(&output)
    );
}

/// The password from the environment; a recording made over TLS holds the messages and
/// nothing of the credentials.
#[test]
fn record_over_tls_with_the_password_from_the_environment_keeps_credentials_out_of_the_file() {
    let broker = SecureMosquitto::start();
    broker.publish_retained("te/device/secure-pump///m/p", r#"{"flow": 7}"#);
    let f = &broker.files;
    let out = f.dir.join("secure.mcap");
    let output = twinscope()
        .args([
            "record",
            "--broker",
            &broker.url(),
            "--out",
            out.to_str().unwrap(),
            "--for",
            "2s",
        ])
        .args([
            "--ca",
            f.ca.to_str().unwrap(),
            "--cert",
            f.client_cert.to_str().unwrap(),
            "--key",
            f.client_key.to_str().unwrap(),
        ])
        .args(["--username", USER, "--client-id", "recorder-1"])
        .env("TWINSCOPE_MQTT_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let bytes = std::fs::read(&out).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"secure-pump"),
        "the retained message was recorded"
    );
    assert!(
        !contains(PASSWORD.as_bytes()) && !contains(b"correct horse"),
        "no password in the recording"
    );
    assert!(!stderr(&output).contains(PASSWORD));
}

/// `--profile` is all an operator types; flags override what the profile says.
#[test]
fn a_profile_names_the_broker_its_files_and_the_password_source() {
    let broker = SecureMosquitto::start();
    broker.publish_retained("te/device/secure-pump///m/p", r#"{"flow": 7}"#);
    let f = &broker.files;
    let profiles = f.dir.join("profiles.toml");
    std::fs::write(
        &profiles,
        format!(
            "[profile.plant-a]\nbroker = \"{}\"\nca = \"ca.pem\"\ncert = \"client.pem\"\nkey = \"client.key\"\nusername = \"{USER}\"\npassword_file = \"password\"\n",
            broker.url()
        ),
    )
    .unwrap();
    let config = profiles.to_str().unwrap();
    let output = run_twinscope(
        &[
            "state",
            "--config",
            config,
            "--profile",
            "plant-a",
            "--for",
            "3s",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("secure-pump"));

    let output = run_twinscope(
        &[
            "state",
            "--config",
            config,
            "--profile",
            "plant-a",
            "--username",
            "intruder",
            "--for",
            "3s",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "the flag overrides the profile's user"
    );
    assert!(stderr(&output).contains("CONNACK"), "{}", stderr(&output));

    let output = run_twinscope(
        &["state", "--config", config, "--profile", "plant-b"],
        Duration::from_secs(30),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no profile \"plant-b\" (it has: plant-a)"),
        "{}",
        stderr(&output)
    );
}
