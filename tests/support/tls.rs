//! A secured mosquitto, as plants and cloud services run them: a TLS listener with a CA,
//! server and client certificates generated for the test by the `openssl` CLI,
//! `require_certificate true`, and a password file made with `mosquitto_passwd`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Mosquitto, free_port};

pub const USER: &str = "operator";
pub const PASSWORD: &str = "correct horse battery staple";

/// The files a client of [`SecureMosquitto`] may use, right and wrong ones.
pub struct TlsFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    /// A CA that signed nothing the broker has.
    pub other_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate made as mosquitto's TLS guide (mosquitto-tls) says: an RSA key,
    /// a CSR, `openssl x509 -req -CA`, no extensions. OpenSSL 3 writes it as X.509 version 1.
    pub v1_client_cert: PathBuf,
    pub v1_client_key: PathBuf,
    /// A private key that belongs to no certificate here.
    pub stray_key: PathBuf,
    pub password_file: PathBuf,
    pub wrong_password_file: PathBuf,
}

pub struct SecureMosquitto {
    pub mosquitto: Mosquitto,
    pub files: TlsFiles,
}

impl SecureMosquitto {
    pub fn start() -> SecureMosquitto {
        let dir = std::env::temp_dir().join(format!(
            "twinscope-tls-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let files = make_files(&dir);
        let config = format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\nallow_anonymous false\npassword_file {}",
            files.ca.display(),
            dir.join("server.pem").display(),
            dir.join("server.key").display(),
            dir.join("passwords").display()
        );
        SecureMosquitto {
            mosquitto: Mosquitto::start_configured(&config),
            files,
        }
    }

    /// The name the server certificate is issued for.
    pub fn url(&self) -> String {
        format!("mqtts://localhost:{}", self.mosquitto.port)
    }

    /// Publishes one retained message with `mosquitto_pub`, authenticated all the way.
    pub fn publish_retained(&self, topic: &str, payload: &str) {
        let f = &self.files;
        let status = Command::new("mosquitto_pub")
            .args([
                "-h",
                "localhost",
                "-p",
                &self.mosquitto.port.to_string(),
                "-q",
                "1",
                "-r",
                "-t",
                topic,
                "-m",
                payload,
            ])
            .args([
                "--cafile",
                path(&f.ca),
                "--cert",
                path(&f.client_cert),
                "--key",
                path(&f.client_key),
                "-u",
                USER,
                "-P",
                PASSWORD,
            ])
            .status()
            .expect("mosquitto_pub");
        assert!(status.success(), "mosquitto_pub over TLS");
    }
}

impl Drop for SecureMosquitto {
    fn drop(&mut self) {
        self.mosquitto.stop();
        let _ = std::fs::remove_dir_all(&self.files.dir);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA, a server certificate for `localhost` and a client certificate it signed, a second
/// unrelated CA, and the password files.
fn make_files(dir: &Path) -> TlsFiles {
    let self_signed = |name: &str, subject: &str| {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let mut args = vec!["req", "-x509"];
        args.extend(EC_KEY);
        args.extend([
            "-keyout", &key, "-out", &pem, "-days", "2", "-subj", subject,
        ]);
        openssl(dir, &args);
    };
    self_signed("ca", "/CN=twinscope test CA");
    self_signed("other-ca", "/CN=someone else's CA");
    let signed = |name: &str, subject: &str, extensions: &str| {
        std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let mut args = vec!["req"];
        args.extend(EC_KEY);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    };
    signed(
        "server",
        "/CN=localhost",
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
    signed(
        "client",
        "/CN=operator",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    // mosquitto-tls(7), "Generate a client key" and the two steps after it, word for word.
    openssl(dir, &["genrsa", "-out", "v1-client.key", "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-out",
            "v1-client.csr",
            "-key",
            "v1-client.key",
            "-new",
            "-subj",
            "/CN=technician",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "v1-client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "v1-client.pem",
            "-days",
            "2",
        ],
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "stray.key",
        ],
    );
    let passwords = dir.join("passwords");
    let status = Command::new("mosquitto_passwd")
        .args(["-c", "-b", path(&passwords), USER, PASSWORD])
        .status()
        .expect("mosquitto_passwd");
    assert!(status.success());
    // mosquitto drops root privileges when started as root: it must still read its files.
    for name in ["server.key", "passwords"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("wrong-password"), "not the password\n").unwrap();
    TlsFiles {
        dir: dir.to_owned(),
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        v1_client_cert: dir.join("v1-client.pem"),
        v1_client_key: dir.join("v1-client.key"),
        stray_key: dir.join("stray.key"),
        password_file: dir.join("password"),
        wrong_password_file: dir.join("wrong-password"),
    }
}
