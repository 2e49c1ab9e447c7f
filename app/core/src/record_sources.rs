//! One recording fed by more than one broker: a shared session may live on a broker of its
//! own (`--session-broker`), and the record button still records it with the plant's data,
//! so a replay shows who stood where over what the plant did.

use std::sync::{Arc, Mutex, PoisonError};

use rumqttc::QoS;

use crate::ingest::{IngestConfig, IngestHandle, IngestStats, MessageHandler, spawn_mqtt_client};
use crate::record::{RecordStats, Recorder};
use crate::time::Timestamp;

/// A broker to record from, and the topics to record there.
pub struct RecordSource {
    pub config: IngestConfig,
    pub topics: Vec<String>,
}

/// The recording's connections (one per source); stopping them finishes the file.
pub struct RecordingClients(Vec<IngestHandle>);

impl RecordingClients {
    /// Stops every connection; the last one to stop finishes the file.
    pub fn stop(&mut self) {
        for client in &mut self.0 {
            client.stop();
        }
    }

    /// Whether each connection has connected at least once.
    pub fn all_connected_once(&self) -> bool {
        self.0.iter().all(|c| c.stats.snapshot().connects > 0)
    }

    pub fn clients(&self) -> &[IngestHandle] {
        &self.0
    }
}

/// The recorder the connections share, with the latest time written (times stay in order
/// across connections) and how many connections still feed it.
struct Shared {
    recorder: Recorder,
    last: Timestamp,
    feeding: usize,
}

/// One connection's handler: its topics, writing into the shared recorder.
struct SharedRecorder {
    shared: Arc<Mutex<Shared>>,
    topics: Vec<String>,
}

impl SharedRecorder {
    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        f(&mut self.shared.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl MessageHandler for SharedRecorder {
    fn subscriptions(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn qos(&self) -> QoS {
        QoS::AtLeastOnce
    }

    fn handle(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool, received: Timestamp) {
        self.with(|shared| {
            // Two connections' clocks are read apart from the lock: never write back in time.
            let at = received.max(shared.last);
            shared.last = at;
            shared.recorder.handle(topic, payload, qos, retain, at);
        });
    }

    fn tick(&mut self) {
        self.with(|shared| shared.recorder.tick());
    }

    fn flush(&mut self) {
        self.with(|shared| shared.recorder.flush());
    }

    fn finish(&mut self) {
        self.with(|shared| {
            shared.feeding = shared.feeding.saturating_sub(1);
            if shared.feeding == 0 {
                shared.recorder.finish();
            }
        });
    }
}

/// Starts recording each source's topics from its broker into `path`, in one file; its seek
/// index (messages read with `schemas`) is kept as it is written and stored in the file when
/// it is finished, so it opens at once.
pub fn start_recording_from(
    sources: Vec<RecordSource>,
    path: &std::path::Path,
    schemas: &crate::schema::combined::SchemaChoice,
) -> std::io::Result<(RecordingClients, Arc<RecordStats>)> {
    let (clients, stats, _index) = start_indexed_recording_from(sources, path, schemas)?;
    Ok((clients, stats))
}

/// [`start_recording_from`] with a seek index kept beside the file (the DVR's segments).
pub fn start_indexed_recording_from(
    sources: Vec<RecordSource>,
    path: &std::path::Path,
    schemas: &crate::schema::combined::SchemaChoice,
) -> std::io::Result<(RecordingClients, Arc<RecordStats>, crate::record::LiveIndex)> {
    let all_topics = sources
        .iter()
        .flat_map(|s| s.topics.iter().cloned())
        .collect();
    let (recorder, stats) = Recorder::create(path, all_topics)?;
    let (recorder, index) = recorder.with_live_index(schemas);
    Ok((record_from(recorder, sources)?, stats, index))
}

/// Feeds `recorder` from each source's broker.
fn record_from(
    recorder: Recorder,
    sources: Vec<RecordSource>,
) -> std::io::Result<RecordingClients> {
    let shared = Arc::new(Mutex::new(Shared {
        recorder,
        last: Timestamp(i64::MIN),
        feeding: sources.len(),
    }));
    let mut clients = RecordingClients(Vec::with_capacity(sources.len()));
    for (k, source) in sources.into_iter().enumerate() {
        let handler = SharedRecorder {
            shared: shared.clone(),
            topics: source.topics,
        };
        match spawn_mqtt_client(
            source.config,
            handler,
            IngestStats::new(),
            &format!("mqtt-record-{k}"),
        ) {
            Ok(client) => clients.0.push(client),
            Err(error) => {
                // The file is finished by the connections already running, once stopped.
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .feeding = clients.0.len();
                clients.stop();
                return Err(error);
            }
        }
    }
    Ok(clients)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::start_embedded_broker;
    use crate::ingest::Publisher;
    use crate::mcap::{McapFile, for_each_message};
    use std::time::{Duration, Instant};

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The plant on one broker, a session on another: one file holds both, in time order.
    #[test]
    fn a_recording_holds_the_plant_and_a_session_on_a_broker_of_its_own() {
        record_two_brokers(false);
    }

    /// The DVR's segments: the same, with the seek index kept as they are written.
    #[test]
    fn a_dvr_segment_holds_both_and_its_index_opens_it() {
        record_two_brokers(true);
    }

    fn record_two_brokers(indexed: bool) {
        let (plant, session) = (
            start_embedded_broker(None).unwrap(),
            start_embedded_broker(None).unwrap(),
        );
        let path = std::env::temp_dir().join(format!(
            "twinscope-two-brokers-{}-{indexed}.mcap",
            std::process::id()
        ));
        let sources = vec![
            RecordSource {
                config: IngestConfig::new(plant.address.clone()),
                topics: vec!["te/#".into()],
            },
            RecordSource {
                config: IngestConfig::new(session.address.clone()),
                topics: vec!["twinscope/v1/sessions/pump-3/#".into()],
            },
        ];
        let schemas = crate::schema::combined::SchemaChoice::replay();
        let (mut clients, stats, index) = if indexed {
            let (clients, stats, index) =
                start_indexed_recording_from(sources, &path, &schemas).unwrap();
            (clients, stats, Some(index))
        } else {
            let (clients, stats) = start_recording_from(sources, &path, &schemas).unwrap();
            (clients, stats, None)
        };
        wait_until("both connections are up", || clients.all_connected_once());
        let (to_plant, to_session) = (
            Publisher::connect(plant.address.clone(), "test").unwrap(),
            Publisher::connect(session.address.clone(), "test").unwrap(),
        );
        wait_until("the publishers are up", || {
            to_plant.is_connected() && to_session.is_connected()
        });
        std::thread::sleep(Duration::from_millis(200)); // the recorders' subscriptions
        for k in 0..20 {
            to_plant
                .publish("te/device/pump1///m/", &format!(r#"{{"flow":{k}}}"#))
                .unwrap();
            to_session
                .publish(
                    "twinscope/v1/sessions/pump-3/anna/presence",
                    &format!(r#"{{"k":{k}}}"#),
                )
                .unwrap();
        }
        wait_until("all 40 messages are recorded", || {
            stats.messages.load(std::sync::atomic::Ordering::Relaxed) >= 40
        });
        clients.stop();

        let mut file = McapFile::open(&path).unwrap();
        let (mut plant_messages, mut session_messages, mut times) = (0, 0, Vec::new());
        for chunk in 0..file.chunks.len() {
            let records = file.chunk_records(chunk).unwrap();
            for_each_message(&records, |_, message| {
                let topic = &file.channels.get(&message.channel).unwrap().topic;
                if topic.starts_with("te/") {
                    plant_messages += 1
                } else {
                    session_messages += 1
                }
                times.push(message.log_time);
            })
            .unwrap();
        }
        assert_eq!(
            (plant_messages, session_messages),
            (20, 20),
            "both brokers' messages, in one finished file"
        );
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
        if let Some(index) = index {
            assert!(
                index.recording(&path, schemas).is_ok(),
                "the index kept while writing opens the file"
            );
        }
        let _ = std::fs::remove_file(&path);
    }
}
