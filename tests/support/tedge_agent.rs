//! A stand-in for thin-edge's `tedge-agent` and its file-transfer service, written from
//! thin-edge's documentation (no real `tedge-agent` can be installed here: it ships only from
//! thin-edge's own package repository). Sources: `references/agent/device-management-api.md`,
//! `references/agent/operation-workflow.md`, `references/agent/tedge-log-management.md`,
//! `references/agent/tedge-configuration-management.md`,
//! `references/file-transfer-service.md`. What it does as they say:
//!
//! - announces its capabilities retained on `te/<device>/cmd/<op>` (`{}` or `{"types":[…]}`);
//! - handles only `init` requests on its own device's `cmd/+/+`, moving each through
//!   `scheduled` → `executing` (→ workflow states) → `successful` | `failed` with `reason`,
//!   every state retained with QoS 1 and the whole payload carried forward;
//! - stays silent about an operation it has no workflow for (the command stays at `init`);
//! - rejects, silently, a new `init` on a command topic it still tracks (a reused id) until
//!   the requester cleared it with an empty retained message; never clears a command itself;
//! - `log_upload` and `config_snapshot` PUT the file to `tedgeUrl`; `config_update` GETs it.
//! - The file-transfer service answers PUT 201, GET 200/404, DELETE 202 (also when missing).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{Map, Value, json};

/// The file-transfer service: files by path, over real HTTP.
#[derive(Clone, Default)]
pub struct FileTransfer {
    pub files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    pub port: u16,
}

impl FileTransfer {
    pub fn start() -> FileTransfer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let service = FileTransfer {
            files: Arc::default(),
            port: listener.local_addr().unwrap().port(),
        };
        let files = service.files.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let files = files.clone();
                std::thread::spawn(move || serve(stream, &files));
            }
        });
        service
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn paths(&self) -> Vec<String> {
        self.files.lock().unwrap().keys().cloned().collect()
    }
}

fn serve(stream: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let Some(key) = path.strip_prefix("/te/v1/files/").map(str::to_owned) else {
        return respond(stream, "404 Not Found", b"");
    };
    let mut files = files.lock().unwrap();
    match method.as_str() {
        "PUT" => {
            files.insert(key, body);
            respond(stream, "201 Created", b"")
        }
        "GET" => match files.get(&key) {
            Some(content) => respond(stream, "200 OK", &content.clone()),
            None => respond(stream, "404 Not Found", b""),
        },
        "DELETE" => {
            files.remove(&key);
            respond(stream, "202 Accepted", b"")
        }
        _ => respond(stream, "405 Method Not Allowed", b""),
    }
}

fn respond(mut stream: TcpStream, status: &str, body: &[u8]) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// The agent of one device (`te/device/<name>//`).
pub struct TedgeAgent {
    client: Client,
    /// Every state it published, as (command id, status).
    pub published: Arc<Mutex<Vec<(String, String)>>>,
    /// Configurations it received with config_update (what it downloaded).
    pub configurations: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// The log it uploads: a few lines, two of them errors.
pub const LOG: &str = "2026-12-06T10:00:00Z INFO tedge-agent started\n2026-12-06T10:00:01Z ERROR cannot reach c8y: timeout\n2026-12-06T10:00:02Z INFO retrying\n2026-12-06T10:00:05Z ERROR pump1 seal pressure low\n";
/// The configuration a config_snapshot uploads.
pub const CONFIG: &str = "[mqtt]\nbind.port = 1883\n";

impl TedgeAgent {
    /// Starts the agent of `device` on the broker at `port`. It announces: restart,
    /// log_upload (tedge-agent), config_snapshot and config_update (tedge.toml), software_list
    /// (apt, failing: apt is missing), and a custom `calibrate` with states of its own. Another
    /// component announces `device_profile`, for which this agent has no workflow (silence).
    pub fn start(port: u16, device: &str) -> TedgeAgent {
        let mut options = MqttOptions::new(
            format!("tedge-agent-{device}-{}", std::process::id()),
            "127.0.0.1",
            port,
        );
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(options, 100);
        let entity = format!("te/device/{device}//");
        client
            .subscribe(format!("{entity}/cmd/+/+"), QoS::AtLeastOnce)
            .unwrap();
        let capabilities = [
            ("restart", json!({})),
            ("log_upload", json!({"types": ["tedge-agent"]})),
            ("config_snapshot", json!({"types": ["tedge.toml"]})),
            ("config_update", json!({"types": ["tedge.toml"]})),
            ("software_list", json!({"types": ["apt"]})),
            ("calibrate", json!({})),
            ("device_profile", json!({})),
        ];
        for (operation, payload) in capabilities {
            client
                .publish(
                    format!("{entity}/cmd/{operation}"),
                    QoS::AtLeastOnce,
                    true,
                    payload.to_string(),
                )
                .unwrap();
        }
        let agent = TedgeAgent {
            client: client.clone(),
            published: Arc::default(),
            configurations: Arc::default(),
        };
        let (published, configurations) = (agent.published.clone(), agent.configurations.clone());
        std::thread::spawn(move || {
            // Command topics it tracks (until cleared): a new init on one is rejected.
            let mut board: HashSet<String> = HashSet::new();
            for event in connection.iter() {
                let Ok(Event::Incoming(Packet::Publish(message))) = event else {
                    if event.is_err() {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    continue;
                };
                let topic = message.topic.clone();
                if message.payload.is_empty() {
                    board.remove(&topic);
                    continue;
                }
                let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(&message.payload)
                else {
                    continue;
                };
                if payload.get("status").and_then(Value::as_str) != Some("init") {
                    continue; // its own states coming back, or someone else's
                }
                if !board.insert(topic.clone()) {
                    eprintln!(
                        "tedge-agent stand-in: two concurrent requests are under execution on the same topic: {topic}"
                    );
                    continue;
                }
                let (client, published, configurations) =
                    (client.clone(), published.clone(), configurations.clone());
                std::thread::spawn(move || {
                    run_workflow(&client, &topic, payload, &published, &configurations)
                });
            }
        });
        agent
    }

    pub fn states_of(&self, cmd_id: &str) -> Vec<String> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| id == cmd_id)
            .map(|(_, s)| s.clone())
            .collect()
    }

    pub fn stop(&self) {
        let _ = self.client.disconnect();
    }
}

fn run_workflow(
    client: &Client,
    topic: &str,
    mut payload: Map<String, Value>,
    published: &Mutex<Vec<(String, String)>>,
    configurations: &Mutex<Vec<Vec<u8>>>,
) {
    let mut parts = topic.rsplitn(3, '/');
    let (cmd_id, operation) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let publish = |payload: &mut Map<String, Value>, status: &str| {
        std::thread::sleep(Duration::from_millis(150));
        payload.insert("status".into(), Value::String(status.into()));
        published
            .lock()
            .unwrap()
            .push((cmd_id.clone(), status.to_owned()));
        client
            .publish(
                topic,
                QoS::AtLeastOnce,
                true,
                Value::Object(payload.clone()).to_string(),
            )
            .unwrap();
    };
    let fail = |payload: &mut Map<String, Value>, reason: &str| {
        payload.insert("reason".into(), Value::String(reason.into()));
        publish(payload, "failed");
    };
    payload.insert(
        "logPath".into(),
        Value::String(format!(
            "/var/log/tedge/agent/workflow-{operation}-{cmd_id}.log"
        )),
    );
    match operation.as_str() {
        "restart" => {
            publish(&mut payload, "scheduled");
            publish(&mut payload, "executing");
            publish(&mut payload, "successful");
        }
        "log_upload" | "config_snapshot" => {
            publish(&mut payload, "scheduled");
            publish(&mut payload, "executing");
            let content = if operation == "log_upload" {
                filtered_log(&payload)
            } else {
                CONFIG.to_owned()
            };
            let Some(url) = payload
                .get("tedgeUrl")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                return fail(&mut payload, "no tedgeUrl");
            };
            match http("PUT", &url, content.as_bytes()) {
                Ok((201, _)) => {
                    if operation == "config_snapshot" {
                        payload
                            .insert("path".into(), Value::String("/etc/tedge/tedge.toml".into()));
                    }
                    publish(&mut payload, "successful");
                }
                other => fail(&mut payload, &format!("upload failed: {other:?}")),
            }
        }
        "config_update" => {
            publish(&mut payload, "scheduled");
            publish(&mut payload, "executing");
            let url = payload
                .get("tedgeUrl")
                .or_else(|| payload.get("remoteUrl"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match http("GET", &url, b"") {
                Ok((200, body)) => {
                    configurations.lock().unwrap().push(body);
                    payload.insert("path".into(), Value::String("/etc/tedge/tedge.toml".into()));
                    publish(&mut payload, "successful");
                }
                other => fail(&mut payload, &format!("download failed: {other:?}")),
            }
        }
        "software_list" => {
            publish(&mut payload, "scheduled");
            publish(&mut payload, "executing");
            fail(&mut payload, "apt is not installed");
        }
        // A user-defined workflow: states of its own, each adding to the payload.
        "calibrate" => {
            publish(&mut payload, "scheduled");
            payload.insert("offset".into(), json!(0.3));
            publish(&mut payload, "calibrating");
            // A long calibration when asked for one (a command seen running).
            let hold = payload.get("hold_s").and_then(Value::as_u64).unwrap_or(0);
            std::thread::sleep(Duration::from_secs(hold));
            payload.insert("verified".into(), json!(true));
            publish(&mut payload, "verifying");
            publish(&mut payload, "successful");
        }
        // No workflow: "the tedge_agent simply waits for another component to take over".
        _ => eprintln!(
            "tedge-agent stand-in: ignoring {operation} operation which is not registered"
        ),
    }
}

/// The log, cut to the request's `searchText` and `lines`.
fn filtered_log(payload: &Map<String, Value>) -> String {
    let search = payload
        .get("searchText")
        .and_then(Value::as_str)
        .unwrap_or("");
    let lines = payload.get("lines").and_then(Value::as_u64).unwrap_or(1000) as usize;
    let kept: Vec<&str> = LOG.lines().filter(|l| l.contains(search)).collect();
    let skip = kept.len().saturating_sub(lines);
    kept[skip..].iter().map(|l| format!("{l}\n")).collect()
}

fn http(method: &str, url: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let rest = url.strip_prefix("http://").ok_or("not http")?;
    let (authority, path) = rest.split_at(rest.find('/').ok_or("no path")?);
    let mut stream = TcpStream::connect(authority).map_err(|e| e.to_string())?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).map_err(|e| e.to_string())?;
    stream.write_all(body).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let body_at = text.find("\r\n\r\n").map_or(answer.len(), |at| at + 4);
    Ok((status, answer[body_at..].to_vec()))
}
