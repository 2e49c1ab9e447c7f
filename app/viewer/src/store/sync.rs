//! Twin sync: the one place where update batches from the ingest channel are applied to the
//! twin store, once per frame, and where status changes reach the bound entities.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;
use twinscope_core::Timestamp;
use twinscope_core::ingest::{BatchReceiver, IngestStats, StatsSnapshot};
use twinscope_core::rules::Rgba;
use twinscope_core::twin::{Severity, Status, TwinIndex, TwinStore};

use crate::{StoreSystems, TwinscopeSystems, configure_twinscope_sets};

/// Applies update batches to the twin store and propagates status to entities.
///
/// Needs a [`TwinState`] resource; an [`IngestLink`] resource connects it to live data
/// (without one the store only changes when something else writes to it).
pub struct TwinSyncPlugin;

impl Plugin for TwinSyncPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.init_resource::<TwinEntities>()
            .init_resource::<IngestRate>()
            .init_resource::<ConnectionInfo>()
            .init_resource::<LiveStash>()
            .add_systems(Update, apply_update_batches.in_set(StoreSystems::Live))
            .add_systems(
                Update,
                (mark_stale_twins, measure_ingest_rate)
                    .chain()
                    .in_set(StoreSystems::Clock),
            )
            .add_systems(
                Update,
                propagate_status_to_entities.in_set(TwinscopeSystems::Propagate),
            );
    }
}

/// The twin store the viewer shows.
#[derive(Resource)]
pub struct TwinState {
    pub store: TwinStore,
}

/// Makes a store as the scene declares it (the state before any message): replay and DVR
/// start from it.
#[derive(Resource, Clone)]
pub struct StoreTemplate(pub std::sync::Arc<dyn Fn() -> TwinStore + Send + Sync>);

/// While the operator looks back (DVR), live data keeps going into this store; "Go live"
/// puts it back. Always present (empty when live), so switching never waits for deferred
/// commands and a frame's batches always find the live store.
#[derive(Resource, Default)]
pub struct LiveStash(pub Option<TwinStore>);

impl LiveStash {
    /// The store live data goes to: the stashed one while looking back, else the shown one.
    pub fn live_store<'a>(&'a mut self, shown: &'a mut TwinStore) -> &'a mut TwinStore {
        self.0.as_mut().unwrap_or(shown)
    }
}

/// The receiving end of live ingest.
#[derive(Resource)]
pub struct IngestLink {
    pub batches: BatchReceiver,
    pub stats: Arc<IngestStats>,
}

/// Where the data comes from, for the status bar.
#[derive(Resource, Default, Clone)]
pub struct ConnectionInfo {
    pub broker: String,
    /// True when the broker and simulator run inside this process.
    pub embedded: bool,
    /// The schemas spoken, and as which Sparkplug host (empty for a replay).
    pub speaks: String,
}

/// Ingest counters and rates, updated once a second.
#[derive(Resource, Default)]
pub struct IngestRate {
    pub snapshot: StatsSnapshot,
    pub messages_per_second: f64,
    pub updates_per_second: f64,
    /// When the rates were last computed, with the message and update counts then.
    last: Option<(f64, (u64, u64))>,
}

/// Which entities show which twin (a twin may have several nodes).
#[derive(Resource, Default)]
pub struct TwinEntities {
    pub by_twin: HashMap<TwinIndex, Vec<Entity>>,
}

/// The state a bound entity shows; visuals react when it changes.
#[derive(Component, Debug, Clone, Copy, PartialEq, Default)]
pub struct TwinVisualState {
    pub status: Status,
    pub color: Option<Rgba>,
    /// The worst active, unshelved alarm.
    pub alarm: Option<Severity>,
    /// That alarm (or another) awaits acknowledgement: the part pulses.
    pub unacknowledged: bool,
    /// Stale or comms lost: shown hatched, even when in alarm.
    pub comms_lost: bool,
}

impl TwinVisualState {
    pub fn of(twin: &twinscope_core::twin::Twin) -> Self {
        TwinVisualState {
            status: twin.status,
            color: twin.rule_color,
            alarm: twin.alarm_severity,
            unacknowledged: twin.unacknowledged,
            comms_lost: twin.comms_lost,
        }
    }
}

fn apply_update_batches(
    link: Option<Res<IngestLink>>,
    mut state: ResMut<TwinState>,
    mut stash: ResMut<LiveStash>,
) {
    let Some(link) = link else { return };
    let store = stash.live_store(&mut state.store);
    link.batches.drain(|batch| batch.apply_to(store));
}

/// Live data only: in replay the recording's clock decides what is stale.
fn mark_stale_twins(
    time: Res<Time<Real>>,
    link: Option<Res<IngestLink>>,
    mut state: ResMut<TwinState>,
    mut stash: ResMut<LiveStash>,
    mut last: Local<f64>,
) {
    if link.is_none() {
        return;
    }
    let now = time.elapsed_secs_f64();
    if now - *last >= 1.0 {
        *last = now;
        stash
            .live_store(&mut state.store)
            .mark_stale(Timestamp::now());
    }
}

fn measure_ingest_rate(
    time: Res<Time<Real>>,
    link: Option<Res<IngestLink>>,
    mut rate: ResMut<IngestRate>,
) {
    let Some(link) = link else { return };
    let now = time.elapsed_secs_f64();
    rate.snapshot = link.stats.snapshot();
    let counts = (rate.snapshot.messages, rate.snapshot.updates);
    match rate.last {
        Some((then, (messages, updates))) if now - then >= 1.0 => {
            let seconds = now - then;
            rate.messages_per_second = (counts.0 - messages) as f64 / seconds;
            rate.updates_per_second = (counts.1 - updates) as f64 / seconds;
            rate.last = Some((now, counts));
        }
        Some(_) => {}
        None => rate.last = Some((now, counts)),
    }
}

/// Bound twins whose parts are restyled in one frame, at most. A twin's new look costs its
/// parts a material swap (each an archetype move: about 3 µs a twin on the 2-core CI machine,
/// `bench --scene`). When a whole plant changes at once (first contact with 40,000 twins, the
/// broker lost and everything stale, a seek), restyling it in one frame made that frame about
/// 75 ms long on 40,001 twins (`bench --scene`); spread over frames, the plant changes look
/// over a few frames and each frame stays short. A change to a few twins is shown at once.
pub const RESTYLED_PER_FRAME: usize = 2_000;

/// Twins whose status changed and whose parts are not restyled yet: in order, each once.
#[derive(Default)]
struct PendingRestyle {
    queue: std::collections::VecDeque<TwinIndex>,
    /// By twin index: in `queue` already (a twin that changes again while it waits is
    /// restyled once, to its latest look).
    queued: Vec<bool>,
    taken: Vec<TwinIndex>,
}

fn propagate_status_to_entities(
    mut state: ResMut<TwinState>,
    entities: Res<TwinEntities>,
    mut visuals: Query<&mut TwinVisualState>,
    mut pending: Local<PendingRestyle>,
) {
    let pending = &mut *pending;
    state.store.take_changed_into(&mut pending.taken);
    for &index in &pending.taken {
        let slot = index.0 as usize;
        if slot >= pending.queued.len() {
            pending.queued.resize(slot + 1, false);
        }
        if !std::mem::replace(&mut pending.queued[slot], true) {
            pending.queue.push_back(index);
        }
    }
    let mut restyled = 0;
    while restyled < RESTYLED_PER_FRAME {
        let Some(index) = pending.queue.pop_front() else {
            break;
        };
        pending.queued[index.0 as usize] = false;
        // The store may have been replaced by a smaller one since (a seek).
        if index.0 as usize >= state.store.len() {
            continue;
        }
        let Some(bound) = entities.by_twin.get(&index) else {
            continue;
        };
        restyled += 1;
        let shown = TwinVisualState::of(state.store.get(index));
        for entity in bound {
            if let Ok(mut visual) = visuals.get_mut(*entity) {
                visual.set_if_neq(shown);
            }
        }
    }
}
