//! Where a replay's decoded messages go: straight into the store, or, for a seek or a long
//! step, in batches to the calling thread while a second thread reads and decodes, as live
//! ingest splits the work. At scale reading (decompressing and decoding) takes longer than
//! applying, so the applying thread also empties the batches it hands back.

use crossbeam_channel::{Receiver, Sender};

use crate::mcap::{Channels, McapError};
use crate::schema::combined::CombinedSchema;
use crate::time::Timestamp;
use crate::twin::TwinStore;
use crate::update::TwinUpdate;

use super::timestamp_of;

/// Messages decoded per batch handed to the applying thread.
const BATCH: usize = 1024;
/// Batches on their way at once: the reader runs ahead by this much, no more.
const BATCHES_IN_FLIGHT: usize = 4;

/// Decoded messages in order: their updates, and where each message ends and its time.
#[derive(Default)]
struct DecodedRun {
    updates: Vec<TwinUpdate>,
    messages: Vec<(usize, Timestamp)>,
}

impl DecodedRun {
    fn cleared(mut self) -> Self {
        self.updates.clear();
        self.messages.clear();
        self
    }

    /// Applies each message's updates with its own time, as playing it would.
    fn apply_to(&self, store: &mut TwinStore) {
        let mut start = 0;
        for &(end, time) in &self.messages {
            store.apply_all(&self.updates[start..end], time);
            start = end;
        }
    }
}

enum Sink<'s> {
    Store(&'s mut TwinStore),
    Thread {
        sender: Sender<DecodedRun>,
        recycled: Receiver<DecodedRun>,
    },
}

/// Takes a replay's messages in file order, decodes them and hands them on.
pub(super) struct Decoding<'s> {
    sink: Sink<'s>,
    run: DecodedRun,
    /// Messages read (readable or not): the replay's measure of work.
    pub messages: usize,
}

impl Decoding<'_> {
    /// Decodes one message (nothing if it cannot be read, as live ingest skips it).
    pub fn push(
        &mut self,
        channels: &Channels,
        schema: &mut CombinedSchema,
        channel_id: u16,
        payload: &[u8],
        log_time: u64,
    ) {
        let Some(channel) = channels.lookup(channel_id).filter(|c| c.readable) else {
            return;
        };
        let Some((topic, payload)) = channel.message(payload) else {
            return;
        };
        self.messages += 1;
        let time = timestamp_of(log_time);
        let run = &mut self.run;
        let start = run.updates.len();
        match super::decode_recorded(schema, channel, (topic, payload), time, &mut run.updates) {
            Ok(_) => run.messages.push((run.updates.len(), time)),
            Err(_) => run.updates.truncate(start),
        }
        match &mut self.sink {
            Sink::Store(store) => {
                run.apply_to(store);
                run.updates.clear();
                run.messages.clear();
            }
            Sink::Thread { sender, recycled } if run.messages.len() >= BATCH => {
                let full = std::mem::replace(run, recycled.try_recv().unwrap_or_default());
                // Sending fails only if the applying thread is gone, and then nothing waits.
                let _ = sender.send(full);
            }
            Sink::Thread { .. } => {}
        }
    }

    fn finish(mut self) -> usize {
        if let Sink::Thread { sender, .. } = &self.sink {
            let _ = sender.send(std::mem::take(&mut self.run));
        }
        self.messages
    }
}

/// Runs `read` (which pushes messages in order) on this thread, applying as it goes, or, when
/// `threaded`, on a second thread while this one applies. Returns the messages read.
pub(super) fn play<R, F>(
    reader: &mut R,
    store: &mut TwinStore,
    threaded: bool,
    read: F,
) -> Result<usize, McapError>
where
    R: Send,
    F: FnOnce(&mut R, &mut Decoding<'_>) -> Result<(), McapError> + Send,
{
    if !threaded {
        let mut decoding = Decoding {
            sink: Sink::Store(store),
            run: DecodedRun::default(),
            messages: 0,
        };
        read(reader, &mut decoding)?;
        return Ok(decoding.finish());
    }
    let (sender, receiver) = crossbeam_channel::bounded::<DecodedRun>(BATCHES_IN_FLIGHT);
    let (recycle, recycled) = crossbeam_channel::bounded::<DecodedRun>(BATCHES_IN_FLIGHT + 2);
    let outcome = std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            let mut decoding = Decoding {
                sink: Sink::Thread { sender, recycled },
                run: DecodedRun::default(),
                messages: 0,
            };
            let result = read(reader, &mut decoding);
            let messages = decoding.finish();
            result.map(|()| messages)
        });
        for run in receiver.iter() {
            run.apply_to(store);
            // Emptied here: reading, decompressing and decoding take the reading thread
            // longer than applying takes this one, so dropping the updates is this one's.
            let _ = recycle.try_send(run.cleared());
        }
        reading.join()
    });
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
