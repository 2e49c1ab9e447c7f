//! thin-edge's file-transfer service (`http://HOST:8000/te/v1/files/<path>`): the agent PUTs
//! a requested log or configuration there, and twinscope GETs it once the command succeeded,
//! then DELETEs it (as thin-edge's own mappers do); a new configuration is PUT there for the
//! agent to GET. Plain HTTP/1.1, as the service speaks on the device's network; responses are
//! bounded, never sized by what the peer claims.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::book::TrackedCommand;

/// A fetched file larger than this is refused (logs are cut by `lines` anyway).
pub const MAX_FILE: usize = 16 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A file fetched for a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    pub url: String,
    pub bytes: Vec<u8>,
}

impl FetchedFile {
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// Where fetching a command's file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchState {
    Fetching,
    /// Shared: the viewer reads the state every frame, and a file may be megabytes.
    Fetched(Arc<FetchedFile>),
    Failed(String),
}

/// The files fetched (or being fetched), by command topic.
#[derive(Debug, Clone, Default)]
pub struct Fetches(Arc<Mutex<HashMap<String, FetchState>>>);

impl Fetches {
    /// Fetches `url` for the command on `topic` on a thread of its own, then deletes it from
    /// the service. `allowed`: the URL is on the file-transfer service we were given (a URL
    /// elsewhere is not fetched: an agent's payload does not choose where we connect).
    pub fn start(&self, topic: String, url: String, allowed: bool) {
        let mut files = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !allowed {
            files.insert(topic, FetchState::Failed(format!("not fetched: {url} is not on the file-transfer service given with --file-transfer")));
            return;
        }
        files.insert(topic.clone(), FetchState::Fetching);
        drop(files);
        let files = self.0.clone();
        let fetch = move || {
            let state = match get(&url) {
                Ok(bytes) => {
                    if let Err(error) = delete(&url) {
                        tracing::warn!(%url, %error, "cannot delete the fetched file from the file-transfer service");
                    }
                    FetchState::Fetched(Arc::new(FetchedFile { url, bytes }))
                }
                Err(error) => FetchState::Failed(format!("cannot fetch {url}: {error}")),
            };
            files
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(topic, state);
        };
        if let Err(error) = std::thread::Builder::new()
            .name("file-transfer".into())
            .spawn(fetch)
        {
            tracing::error!(%error, "cannot start fetching a file");
        }
    }

    pub fn state(&self, topic: &str) -> Option<FetchState> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .cloned()
    }
}

/// The file a successful command of ours left on the file-transfer service: `tedgeUrl` of a
/// `log_upload` or `config_snapshot`.
pub fn uploaded_file(command: &TrackedCommand) -> Option<String> {
    matches!(
        command.topic.operation.as_str(),
        "log_upload" | "config_snapshot"
    )
    .then(|| command.payload.get("tedgeUrl")?.as_str().map(str::to_owned))
    .flatten()
}

/// The service's URL for a file of `operation` on `twin`: thin-edge's own layout,
/// `<base>/te/v1/files/<twin>/<operation>/<type>-<id>` (`/` in names as `:`).
pub fn file_url(base: &str, twin: &str, operation: &str, kind: &str, id: &str) -> String {
    let clean = |text: &str| text.replace('/', ":");
    format!(
        "{}/te/v1/files/{}/{operation}/{}-{id}",
        base.trim_end_matches('/'),
        clean(twin),
        clean(kind)
    )
}

/// Uploads `file` (a new configuration, at most [`MAX_FILE`]) to the service at `base` for
/// `operation` on `twin`, where the agent downloads it, and puts its URL into the request's
/// `tedgeUrl`. Without `send` (a dry run) the file is read and the URL filled in, nothing more.
pub fn upload_file(
    base: &str,
    twin: &str,
    operation: &str,
    fields: &mut serde_json::Map<String, serde_json::Value>,
    file: &std::path::Path,
    send: bool,
) -> Result<(), String> {
    let cannot_read = |e: std::io::Error| format!("cannot read {}: {e}", file.display());
    if std::fs::metadata(file).map_err(cannot_read)?.len() > MAX_FILE as u64 {
        return Err(format!(
            "{} is larger than {} MiB",
            file.display(),
            MAX_FILE >> 20
        ));
    }
    let content = std::fs::read(file).map_err(cannot_read)?;
    let kind = fields
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("configuration")
        .to_owned();
    let url = file_url(
        base,
        twin,
        operation,
        &kind,
        &format!("upload-{:x}", crate::Timestamp::now().0),
    );
    if send {
        put(&url, &content).map_err(|e| format!("cannot upload {}: {e}", file.display()))?;
    }
    fields.insert("tedgeUrl".into(), serde_json::Value::String(url));
    Ok(())
}

pub fn get(url: &str) -> Result<Vec<u8>, String> {
    let (status, body) = request("GET", url, &[])?;
    match status {
        200 => Ok(body),
        404 => Err("not found on the file-transfer service (404)".into()),
        other => Err(format!("the file-transfer service answered {other}")),
    }
}

pub fn put(url: &str, body: &[u8]) -> Result<(), String> {
    match request("PUT", url, body)?.0 {
        200 | 201 | 204 => Ok(()),
        other => Err(format!(
            "the file-transfer service answered {other} to the upload"
        )),
    }
}

pub fn delete(url: &str) -> Result<(), String> {
    match request("DELETE", url, &[])?.0 {
        200 | 202 | 204 | 404 => Ok(()),
        other => Err(format!(
            "the file-transfer service answered {other} to the deletion"
        )),
    }
}

/// `http://host:port/path` → (host:port, path).
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: only http:// URLs (thin-edge's file-transfer service) are fetched")
    })?;
    let (authority, path) = rest
        .find('/')
        .map_or((rest, "/"), |at| (&rest[..at], &rest[at..]));
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((authority, path))
}

/// One HTTP/1.1 request with `Connection: close`; the status and the body (at most
/// [`MAX_FILE`] bytes, whatever Content-Length says).
fn request(method: &str, url: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let (authority, path) = split_url(url)?;
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addresses: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&address)
        .map_err(|e| format!("{authority}: {e}"))?
        .collect();
    let first = addresses
        .first()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream = TcpStream::connect_timeout(first, TIMEOUT)
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("sending to {authority}: {e}"))?;
    let mut reader = BufReader::new(stream.take(MAX_FILE as u64 + 64 * 1024));
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|e| format!("reading {authority}'s answer: {e}"))?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("{authority} did not answer HTTP: {:?}", status_line.trim()))?;
    let mut length = None;
    let mut chunked = false;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse::<usize>().ok();
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    if length.is_some_and(|l| l > MAX_FILE) {
        return Err(format!("the file is larger than {} MiB", MAX_FILE >> 20));
    }
    let mut body = Vec::new();
    reader
        .take(MAX_FILE as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading {authority}'s answer: {e}"))?;
    if body.len() > MAX_FILE {
        return Err(format!("the file is larger than {} MiB", MAX_FILE >> 20));
    }
    if chunked {
        body = dechunk(&body).ok_or_else(|| format!("{authority} sent a damaged chunked body"))?;
    }
    if let Some(length) = length {
        body.truncate(length);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        data = &data[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_thin_edges_layout_and_only_http_is_fetched() {
        assert_eq!(
            file_url(
                "http://127.0.0.1:8000/",
                "main/tedge-agent",
                "log_upload",
                "software/mgmt",
                "twinscope-1"
            ),
            "http://127.0.0.1:8000/te/v1/files/main:tedge-agent/log_upload/software:mgmt-twinscope-1"
        );
        assert!(split_url("https://x/y").is_err() && split_url("http:///y").is_err());
        assert_eq!(
            split_url("http://h:8000/te/v1/files/a").unwrap(),
            ("h:8000", "/te/v1/files/a")
        );
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert_eq!(dechunk(b"ff\r\nab"), None, "a chunk longer than what came");
    }
}
