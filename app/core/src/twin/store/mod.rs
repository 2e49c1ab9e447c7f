//! The twin store: every twin, its place in the hierarchy and its live state.
//!
//! Updates arrive in batches from one producer (live ingest or replay) and are applied in
//! order by one owner. The store remembers which twins changed status so that the viewer
//! restyles only those, not the whole plant, each frame.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

mod alarms;
mod room;

pub use room::Room;

use std::sync::atomic::{AtomicU32, Ordering};

use super::id::StoreSlot;
use super::{History, PropertyName, Severity, Status, TwinId};
use crate::alarms::{AlarmBook, AlarmRules, AlarmSource, LimitState};
use crate::prefetch;
use crate::rules::{Rgba, RuleSet};
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// Position of a twin in [`TwinStore::twins`]; stable for the life of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TwinIndex(pub u32);

/// What kind of entity a twin stands for, after thin-edge's entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    /// The main device: in a plant, the whole site or system.
    Device,
    /// A child device: a line, a machine, a part.
    #[default]
    ChildDevice,
    /// A service running on a device.
    Service,
}

impl EntityKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "device" => Some(EntityKind::Device),
            "child-device" => Some(EntityKind::ChildDevice),
            "service" => Some(EntityKind::Service),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Device => "device",
            EntityKind::ChildDevice => "child-device",
            EntityKind::Service => "service",
        }
    }
}

/// One numeric property of a twin with its unit, latest time and trend history.
///
/// What applying a value reads and writes comes first, in the first cache line
/// ([`PROPERTY_HOT_BYTES`]), and each property starts a cache line: only that line is
/// loaded ahead (and the history's next slot). The rest is read only for a property a rule
/// judges.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Property {
    pub value: f64,
    /// The time the source gave for this value (or the receive time when it gave none).
    pub time: Timestamp,
    pub history: History,
    /// Where `name`'s text is and its length, beside what applying a value writes: a
    /// twin finds a property by a tag of these ([`Twin::position_by_tag`]), and checks
    /// here that it is that very name without reading past this line.
    name_address: usize,
    name_length: u32,
    /// A visual rule or alarm limits apply: most properties have none, and applying a
    /// value to those reads nothing past the first line.
    judged: bool,
    pub name: Arc<str>,
    /// The visual rule (index into the store's [`RuleSet`]).
    rule: Option<usize>,
    /// The alarm rules on this property (indices into the store's [`AlarmRules`]) and the
    /// state of each one's condition.
    limits: Vec<(usize, LimitState)>,
    /// The status the scene's rules give this value.
    pub rule_status: Status,
    pub rule_color: Option<Rgba>,
    pub unit: Option<Arc<str>>,
}

impl Property {
    /// A property seen for the first time, with the scene rules that apply to it.
    fn new(name: Arc<str>, rule: Option<usize>, limits: Vec<usize>, history: History) -> Self {
        Property {
            name_address: name.as_ptr() as usize,
            name_length: u32::try_from(name.len()).unwrap_or(u32::MAX),
            name,
            value: f64::NAN,
            unit: None,
            time: Timestamp(0),
            history,
            rule_status: Status::Unknown,
            rule_color: None,
            judged: rule.is_some() || !limits.is_empty(),
            rule,
            limits: limits
                .into_iter()
                .map(|l| (l, LimitState::default()))
                .collect(),
        }
    }

    /// The visual rule that colours this property (an index into the store's [`RuleSet`]).
    pub fn rule(&self) -> Option<usize> {
        self.rule
    }

    /// The alarm rules on this property (indices into the store's [`AlarmRules`]), with the
    /// state of each one's condition.
    pub fn limits(&self) -> &[(usize, LimitState)] {
        &self.limits
    }
}

/// An alarm condition currently active on a twin. Its acknowledgement and shelving live in
/// the store's [`AlarmBook`].
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlarm {
    pub alarm_type: Arc<str>,
    pub severity: Severity,
    pub text: String,
    pub time: Timestamp,
    pub source: AlarmSource,
}

/// The latest event of one type.
#[derive(Debug, Clone, PartialEq)]
pub struct LastEvent {
    pub event_type: Arc<str>,
    pub text: String,
    pub time: Timestamp,
}

/// A twin: a plant, line, machine or part, and everything known about it now.
///
/// What applying a measurement reads (its properties, where their names are, when it was
/// last seen) comes first, in the first cache line of a twin ([`HOT_BYTES`]), and each twin
/// starts a cache line: a plant's values land all over a large store, and only that line
/// is loaded ahead of each value ([`TwinStore::apply_all`]), not all six. On a machine whose
/// other tenants fill the shared cache, each line more is a wait on memory per message.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Twin {
    pub properties: Vec<Property>,
    /// Where the first few properties' name texts live, as tags ([`name_tag`]): decoders
    /// share name strings, so a lookup compares these, in the twin itself, instead of
    /// reading one property (a cache line or more) per step. A tag says where a name
    /// probably is; the property found is then checked to hold that very string (by its
    /// name's address and length, in the line of it that applying a value writes anyway).
    name_tags: [u32; NAME_TAGS],
    /// Local receive time of the latest measurement ([`NEVER_SEEN`] for none): telemetry is
    /// periodic, so its silence means stale. Events and health are sent on change and never
    /// make a twin stale. Not an `Option`: eight bytes fewer keep it in the first line.
    seen: Timestamp,
    stale: bool,
    /// Property positions by name, once a twin has more than a few (a payload with
    /// thousands of keys must not cost a scan per key). Boxed: one word.
    property_index: Option<Box<foldhash::HashMap<Arc<str>, u32>>>,
    pub id: TwinId,
    pub display_name: Option<String>,
    pub kind: EntityKind,
    pub entity_type: Option<String>,
    pub parent: Option<TwinIndex>,
    pub children: Vec<TwinIndex>,
    pub alarms: Vec<ActiveAlarm>,
    pub events: Vec<LastEvent>,
    pub fragments: BTreeMap<Arc<str>, serde_json::Value>,
    /// Service health: `Some(true)` up, `Some(false)` down.
    pub health: Option<bool>,
    pub status: Status,
    /// The colour of the worst rule range that applies, if the scene gives one.
    pub rule_color: Option<Rgba>,
    /// The worst severity among active, unshelved alarms.
    pub alarm_severity: Option<Severity>,
    /// Some active, unshelved alarm awaits acknowledgement (the part pulses).
    pub unacknowledged: bool,
    /// Active, unshelved alarms on this twin.
    pub active_alarms: u32,
    /// Data stopped (stale) or the service is down: whatever it shows is old. Kept apart from
    /// `status` because a twin in alarm can also have lost comms.
    pub comms_lost: bool,
    /// Since when its source is offline (a Sparkplug death, or the broker lost).
    pub offline_since: Option<Timestamp>,
    /// Its source reports when it goes offline: silence does not make it stale.
    pub reports_liveness: bool,
}

/// How much of a [`Twin`] applying a measurement reads: its first cache line, which is all
/// that is loaded ahead of it.
const HOT_BYTES: usize = 64;
/// How much of a [`Property`] applying a value reads when no rule judges it: its first line.
const PROPERTY_HOT_BYTES: usize = 64;
const _: () = assert!(
    std::mem::offset_of!(Twin, stale) < HOT_BYTES
        && std::mem::offset_of!(Twin, seen) + 8 <= HOT_BYTES
        && std::mem::offset_of!(Twin, name_tags) + NAME_TAGS * 4 <= HOT_BYTES
);
const _: () = assert!(
    std::mem::offset_of!(Property, name_length) + 4 <= PROPERTY_HOT_BYTES
        && std::mem::offset_of!(Property, name_address) + 8 <= PROPERTY_HOT_BYTES
);
const _: () = assert!(std::mem::offset_of!(Property, judged) < PROPERTY_HOT_BYTES);

/// Properties whose name tags a twin keeps in itself.
const NAME_TAGS: usize = 6;

/// [`Twin::seen`] of a twin never heard from.
const NEVER_SEEN: Timestamp = Timestamp(i64::MIN);

/// A name text's tag in [`Twin::name_tags`]: its address and length folded into 32 bits.
/// Another string may have the same tag; a tag only says where to check.
fn name_tag(name: &str) -> u32 {
    let address = name.as_ptr() as usize as u64;
    (address ^ (address >> 32) ^ ((name.len() as u64) << 24)) as u32
}

impl Property {
    /// Its name is `name`'s very text (address and length), not only equal, read from the
    /// first line.
    fn is_named_by(&self, name: &str) -> bool {
        self.name_address == name.as_ptr() as usize && self.name_length as usize == name.len()
    }
}

/// Past this many properties a twin looks them up by hash instead of by scanning.
const INDEXED_PROPERTIES: usize = 16;

impl Twin {
    fn new(id: TwinId) -> Self {
        Twin {
            id,
            display_name: None,
            kind: EntityKind::default(),
            entity_type: None,
            parent: None,
            children: Vec::new(),
            properties: Vec::new(),
            alarms: Vec::new(),
            events: Vec::new(),
            fragments: BTreeMap::new(),
            health: None,
            seen: NEVER_SEEN,
            status: Status::Unknown,
            rule_color: None,
            alarm_severity: None,
            unacknowledged: false,
            active_alarms: 0,
            comms_lost: false,
            offline_since: None,
            reports_liveness: false,
            stale: false,
            name_tags: [0; NAME_TAGS],
            property_index: None,
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.position_of(name).map(|i| &self.properties[i])
    }

    /// Where the property is: by the shared name's address among the first few, else by
    /// hash on a twin with many, else by scanning.
    fn position_of(&self, name: &str) -> Option<usize> {
        if let Some(position) = self.position_by_address(name) {
            return Some(position);
        }
        if let Some(index) = &self.property_index {
            return index.get(name).map(|i| *i as usize);
        }
        self.properties.iter().position(|p| &*p.name == name)
    }

    /// Among the first few properties, the one whose name is `name`'s very text (the same
    /// shared string: same address, same length).
    fn position_by_address(&self, name: &str) -> Option<usize> {
        self.position_by_tag(name)
            .filter(|&i| self.properties[i].is_named_by(name))
    }

    /// Among the first few properties, where `name`'s very text probably is (see
    /// [`name_tags`](Self::name_tags)), found without reading any property: to load it
    /// ahead. Whoever uses it checks the property's name first.
    fn position_by_tag(&self, name: &str) -> Option<usize> {
        let tag = name_tag(name);
        let known = self.properties.len().min(NAME_TAGS);
        (0..known).find(|&i| self.name_tags[i] == tag)
    }

    /// When it was last heard from (a measurement), if ever.
    pub fn last_seen(&self) -> Option<Timestamp> {
        (self.seen != NEVER_SEEN).then_some(self.seen)
    }

    /// Adds a property, keeping the index.
    fn push_property(&mut self, property: Property) -> usize {
        let position = self.properties.len();
        if let Some(index) = &mut self.property_index {
            index.insert(property.name.clone(), position as u32);
        }
        if position < NAME_TAGS {
            self.name_tags[position] = name_tag(&property.name);
        }
        self.properties.push(property);
        if self.property_index.is_none() && self.properties.len() > INDEXED_PROPERTIES {
            self.property_index = Some(Box::new(
                self.properties
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.name.clone(), i as u32))
                    .collect(),
            ));
        }
        position
    }

    /// The name to show: the registered display name, else the id.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(self.id.as_str())
    }

    fn derive_status(&self, index: TwinIndex, book: &AlarmBook) -> DerivedStatus {
        let heard_from = self.seen != NEVER_SEEN
            || self.health.is_some()
            || self.reports_liveness
            || !self.alarms.is_empty()
            || !self.events.is_empty();
        let mut status = if heard_from {
            Status::Ok
        } else {
            Status::Unknown
        };
        let mut color = None;
        let mut color_status = Status::Unknown;
        for property in &self.properties {
            status = status.max(property.rule_status);
            if property.rule_color.is_some() && property.rule_status >= color_status {
                color_status = property.rule_status;
                color = property.rule_color;
            }
        }
        let comms_lost = self.stale || self.health == Some(false) || self.offline_since.is_some();
        if comms_lost {
            status = status.max(Status::Stale);
        }
        let mut alarm_severity = None;
        let mut unacknowledged = false;
        let mut active_alarms = 0;
        for alarm in &self.alarms {
            let listed = book.get(index, &alarm.alarm_type);
            if listed.is_some_and(|a| a.is_shelved()) {
                continue; // shelved: the operator chose not to be reminded until it expires
            }
            status = status.max(alarm.severity.status());
            alarm_severity = alarm_severity.max(Some(alarm.severity));
            unacknowledged |= listed.is_some_and(|a| a.state.is_unacknowledged());
            active_alarms += 1;
        }
        // A rule colour only speaks for the twin while the rule's status is what it shows.
        let color = if color_status == status { color } else { None };
        DerivedStatus {
            status,
            color,
            alarm_severity,
            unacknowledged,
            active_alarms,
            comms_lost,
        }
    }
}

/// Whether an update touched what a twin's status is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusInput {
    Unchanged,
    Changed,
}

impl StatusInput {
    fn and(self, other: StatusInput) -> StatusInput {
        if self == StatusInput::Changed {
            self
        } else {
            other
        }
    }
}

#[derive(PartialEq)]
struct DerivedStatus {
    status: Status,
    color: Option<Rgba>,
    alarm_severity: Option<Severity>,
    unacknowledged: bool,
    active_alarms: u32,
    comms_lost: bool,
}

impl Twin {
    fn shown(&self) -> DerivedStatus {
        DerivedStatus {
            status: self.status,
            color: self.rule_color,
            alarm_severity: self.alarm_severity,
            unacknowledged: self.unacknowledged,
            active_alarms: self.active_alarms,
            comms_lost: self.comms_lost,
        }
    }
}

/// Settings that shape the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Samples kept per numeric property for trends.
    pub history_len: usize,
    /// A twin that received data but nothing for this long is stale.
    pub stale_after: Duration,
    /// Twins the store makes from data at most (declared twins always fit): a broker carrying
    /// random topics cannot make memory grow without end. What is refused is counted.
    pub max_twins: usize,
    /// Properties a twin holds at most, and as many alarm types, event types and data
    /// fragments (a payload with 20,000 keys stops here).
    pub max_entries_per_twin: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            history_len: 600,
            stale_after: Duration::from_secs(15),
            max_twins: DEFAULT_MAX_TWINS,
            max_entries_per_twin: DEFAULT_MAX_ENTRIES_PER_TWIN,
        }
    }
}

/// How many updates ahead [`TwinStore::apply_all`] starts loading an update's twin id (which
/// says where its twin is), its twin (by then the id has arrived), its property (by then the
/// twin, which says where the property is, has), and where the property's history keeps its
/// next sample (by then the property has): each link of the chain a few updates after the
/// one before it.
///
/// Eight updates apart: with four, when applying a value took about 50 ns, the property and
/// history stages still waited on the twin and the property (about 60% of the samples in
/// `apply_all` on the two loads right after them); eight were about 4% faster in the
/// Sparkplug bench, twelve no faster than eight.
const PREFETCH_ID_AHEAD: usize = 32;
const PREFETCH_TWIN_AHEAD: usize = 24;
const PREFETCH_PROPERTY_AHEAD: usize = 16;
const PREFETCH_HISTORY_AHEAD: usize = 8;

/// Updates ahead whose twin and property [`TwinStore::apply_all`] keeps once found: more
/// than the farthest stage that finds one.
const FOUND_AHEAD: usize = 32;
const _: () = assert!(PREFETCH_TWIN_AHEAD < FOUND_AHEAD);

/// Where an update ahead goes, as the look-ahead found it: positions in the store, or
/// `u32::MAX` for not found. Hints only: what they point at is only loaded.
#[derive(Debug, Clone, Copy)]
struct Found {
    twin: u32,
    property: u32,
}

impl Found {
    const NOTHING: Found = Found {
        twin: u32::MAX,
        property: u32::MAX,
    };
}

/// A tag for a new store: each once, counting up; 0 (remember nothing) once they ran out.
fn next_store_tag() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tag| {
        tag.checked_add(1)
    })
    .unwrap_or(0)
}

/// Default cap on twins made from data: a plant of tens of thousands of parts, with room.
pub const DEFAULT_MAX_TWINS: usize = 250_000;
/// Default cap on a twin's properties (and alarm types, event types, fragments).
pub const DEFAULT_MAX_ENTRIES_PER_TWIN: usize = 5_000;

/// What the caps refused since the store was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refused {
    /// Updates for new twins past `max_twins`.
    pub twins: u64,
    /// New properties, alarm types, event types or fragments past `max_entries_per_twin`.
    pub entries: u64,
}

/// Every twin and the hierarchy between them.
///
/// Not `Clone`: its tag must stay its own (see [`TwinStore::find_id`]).
pub struct TwinStore {
    twins: Vec<Twin>,
    index: foldhash::HashMap<TwinId, TwinIndex>,
    /// This store's number among the stores of the process, remembered on the ids it looks
    /// up ([`StoreSlot`]); 0 when the numbers ran out, and then nothing is remembered.
    tag: u32,
    rules: RuleSet,
    alarm_rules: AlarmRules,
    alarm_book: AlarmBook,
    config: StoreConfig,
    changed: Vec<TwinIndex>,
    changed_flag: Vec<bool>,
    refused: Refused,
    /// Memory from a store this one replaced, used before the allocator's ([`Room`]).
    room: Room,
}

impl TwinStore {
    pub fn new(config: StoreConfig, rules: RuleSet) -> Self {
        TwinStore {
            twins: Vec::new(),
            index: foldhash::HashMap::default(),
            tag: next_store_tag(),
            rules,
            alarm_rules: AlarmRules::default(),
            alarm_book: AlarmBook::default(),
            config,
            changed: Vec::new(),
            changed_flag: Vec::new(),
            refused: Refused::default(),
            room: Room::default(),
        }
    }

    /// Makes room for `additional` more twins at once. A store built in one go (a seek into
    /// a plant of tens of thousands of twins) otherwise grows its table of twins a doubling
    /// at a time, copying every twin each time.
    pub fn reserve(&mut self, additional: usize) {
        let additional = additional.min(self.config.max_twins.saturating_sub(self.twins.len()));
        self.twins.reserve(additional);
        self.changed_flag.reserve(additional);
        self.index.reserve(additional);
    }

    /// Adds the scene's local alarm rules (before any data arrives).
    pub fn with_alarm_rules(mut self, alarm_rules: AlarmRules) -> Self {
        self.alarm_rules = alarm_rules;
        self
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn alarm_rules(&self) -> &AlarmRules {
        &self.alarm_rules
    }

    /// The alarm list and its history.
    pub fn alarm_book(&self) -> &AlarmBook {
        &self.alarm_book
    }

    /// What the caps refused (see [`StoreConfig::max_twins`]).
    pub fn refused(&self) -> Refused {
        self.refused
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.twins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.twins.is_empty()
    }

    pub fn twins(&self) -> impl ExactSizeIterator<Item = (TwinIndex, &Twin)> {
        self.twins
            .iter()
            .enumerate()
            .map(|(i, t)| (TwinIndex(i as u32), t))
    }

    pub fn get(&self, index: TwinIndex) -> &Twin {
        &self.twins[index.0 as usize]
    }

    pub fn find(&self, id: &str) -> Option<TwinIndex> {
        self.index.get(id).copied()
    }

    pub fn twin(&self, id: &str) -> Option<&Twin> {
        self.find(id).map(|i| self.get(i))
    }

    /// Twins without a parent, in order of appearance.
    pub fn roots(&self) -> impl Iterator<Item = TwinIndex> + '_ {
        self.twins()
            .filter(|(_, t)| t.parent.is_none())
            .map(|(i, _)| i)
    }

    /// The ids from the root down to `index`, inclusive.
    pub fn path(&self, index: TwinIndex) -> Vec<&TwinId> {
        self.path_indices(index)
            .into_iter()
            .map(|i| &self.get(i).id)
            .collect()
    }

    /// The twins from the root down to `index`, inclusive.
    pub fn path_indices(&self, index: TwinIndex) -> Vec<TwinIndex> {
        let mut path = vec![index];
        let mut cursor = self.get(index).parent;
        while let Some(parent) = cursor {
            path.push(parent);
            cursor = self.get(parent).parent;
            if path.len() > self.twins.len() {
                break; // defensive: cycles are refused on insert, never loop forever
            }
        }
        path.reverse();
        path
    }

    /// Declares a twin known before any data arrives (from the scene's model or manifest).
    /// Declared twins are not capped: the scene names them.
    pub fn declare(
        &mut self,
        id: &str,
        parent: Option<&str>,
        display_name: Option<&str>,
    ) -> TwinIndex {
        let index = self.insert(&TwinId::new(id));
        if let Some(parent) = parent {
            let parent_index = self.insert(&TwinId::new(parent));
            self.set_parent(index, parent_index);
        }
        if let Some(name) = display_name {
            self.twins[index.0 as usize].display_name = Some(name.to_owned());
        }
        index
    }

    /// Declares a twin by an id already made (a store built in another's shape: see
    /// `replay::state_shaped`), without spelling it out again.
    pub fn declare_id(&mut self, id: &TwinId) -> TwinIndex {
        self.insert(id)
    }

    /// Twins whose status or colour changed since the last call, each once.
    pub fn take_changed(&mut self) -> Vec<TwinIndex> {
        let mut changed = Vec::new();
        self.take_changed_into(&mut changed);
        changed
    }

    /// Like [`take_changed`](Self::take_changed), into a buffer the caller reuses every frame.
    pub fn take_changed_into(&mut self, out: &mut Vec<TwinIndex>) {
        out.clear();
        for index in &self.changed {
            self.changed_flag[index.0 as usize] = false;
        }
        std::mem::swap(out, &mut self.changed);
    }

    /// Marks every twin changed, so views restyle all of them (after the store is replaced).
    pub fn mark_all_changed(&mut self) {
        self.changed.clear();
        for i in 0..self.twins.len() {
            self.changed_flag[i] = true;
            self.changed.push(TwinIndex(i as u32));
        }
    }

    /// Applies updates in order; `now` is when they were received (live) or replayed.
    ///
    /// A message's values arrive as a run of updates for one twin (with one interned id):
    /// such a run looks the twin up once and derives its status once, at the end of the run.
    ///
    /// Most updates are values that change nothing the status is derived from (no rule or a
    /// rule whose verdict stands, a twin already heard from and not stale): those skip the
    /// derivation, which reads every property and alarm of the twin.
    pub fn apply_all(&mut self, updates: &[TwinUpdate], now: Timestamp) {
        let mut run: Option<(&TwinId, TwinIndex, StatusInput)> = None;
        let mut found = [Found::NOTHING; FOUND_AHEAD];
        for (i, update) in updates.iter().enumerate() {
            // The twins and properties a few updates on, asked of memory now: a plant's
            // values land all over a large store, and waiting for each miss in turn is most
            // of applying them. Each link is found once, by the stage its memory has arrived
            // for, and kept for the stages after it.
            if let Some(ahead) = updates.get(i + PREFETCH_ID_AHEAD) {
                ahead.twin().prefetch();
            }
            if let Some(ahead) = updates.get(i + PREFETCH_TWIN_AHEAD) {
                found[(i + PREFETCH_TWIN_AHEAD) % FOUND_AHEAD] = self.prefetch_twin(ahead.twin());
            }
            if let Some(TwinUpdate::Measurement { name, .. }) =
                updates.get(i + PREFETCH_PROPERTY_AHEAD)
            {
                let ahead = &mut found[(i + PREFETCH_PROPERTY_AHEAD) % FOUND_AHEAD];
                ahead.property = self.prefetch_property(ahead.twin, name);
            }
            if let Some(TwinUpdate::Measurement { .. }) = updates.get(i + PREFETCH_HISTORY_AHEAD) {
                self.prefetch_history(found[(i + PREFETCH_HISTORY_AHEAD) % FOUND_AHEAD]);
            }
            if self.is_redundant_registration(update) {
                continue;
            }
            let id = update.twin();
            let (index, input) = match run {
                Some((last, index, input)) if last.same_instance(id) => (index, input),
                _ => {
                    if let Some((_, finished, StatusInput::Changed)) = run.take() {
                        self.refresh_status(finished);
                    }
                    match self.ensure(id) {
                        Some(index) => (index, StatusInput::Unchanged),
                        None => continue,
                    }
                }
            };
            let input = input.and(self.apply_to(index, update, now, found[i % FOUND_AHEAD]));
            run = Some((id, index, input));
        }
        if let Some((_, finished, StatusInput::Changed)) = run {
            self.refresh_status(finished);
        }
    }

    /// Where the id says this store keeps its twin, if this store said so (see
    /// [`find_id`](Self::find_id)).
    fn slotted(&self, id: &TwinId) -> Option<TwinIndex> {
        let slot = id.store_slot();
        (self.tag != 0 && slot.store == self.tag).then_some(TwinIndex(slot.position))
    }

    /// Starts loading a twin that an update ahead is about, if its id knows where it is.
    fn prefetch_twin(&self, id: &TwinId) -> Found {
        if let Some(index) = self.slotted(id)
            && let Some(twin) = self.twins.get(index.0 as usize)
        {
            prefetch::first_bytes(twin, HOT_BYTES);
            return Found {
                twin: index.0,
                property: u32::MAX,
            };
        }
        Found::NOTHING
    }

    /// Starts loading a property a value ahead goes to, found as [`Twin::position_of`]
    /// first looks (by the shared name's address) in its twin, which has arrived by then.
    fn prefetch_property(&self, twin: u32, name: &str) -> u32 {
        if let Some(twin) = self.twins.get(twin as usize)
            && let Some(position) = twin.position_by_tag(name)
        {
            prefetch::first_bytes(
                twin.properties.as_ptr().wrapping_add(position),
                PROPERTY_HOT_BYTES,
            );
            return position as u32;
        }
        u32::MAX
    }

    /// Starts loading where the next sample of a property a value ahead goes to is kept
    /// (the property has arrived by then).
    fn prefetch_history(&self, found: Found) {
        if let Some(property) = self
            .twins
            .get(found.twin as usize)
            .and_then(|twin| twin.properties.get(found.property as usize))
        {
            prefetch::line(property.history.next_slot());
        }
    }

    /// Applies one update. Never fails: anything a decoder let through is valid state.
    pub fn apply(&mut self, update: &TwinUpdate, now: Timestamp) {
        if self.is_redundant_registration(update) {
            return;
        }
        let Some(index) = self.ensure(update.twin()) else {
            return;
        };
        if self.apply_to(index, update, now, Found::NOTHING) == StatusInput::Changed {
            self.refresh_status(index);
        }
    }

    /// An implicit registration (a first data message) of a twin that already exists.
    fn is_redundant_registration(&self, update: &TwinUpdate) -> bool {
        matches!(update, TwinUpdate::Register { implicit: true, twin, .. } if self.find_id(twin).is_some())
    }

    /// [`apply`](Self::apply) to a twin already looked up, without deriving its status; says
    /// whether what the status is derived from may have changed. `ahead` is where the
    /// look-ahead found the update's twin and property, if it did.
    fn apply_to(
        &mut self,
        index: TwinIndex,
        update: &TwinUpdate,
        now: Timestamp,
        ahead: Found,
    ) -> StatusInput {
        match update {
            TwinUpdate::Register {
                parent,
                kind,
                display_name,
                entity_type,
                ..
            } => {
                if let Some(parent) = parent
                    && let Some(parent_index) = self.ensure(parent)
                {
                    self.set_parent(index, parent_index);
                }
                let twin = &mut self.twins[index.0 as usize];
                twin.kind = *kind;
                if display_name.is_some() {
                    twin.display_name.clone_from(display_name);
                }
                if entity_type.is_some() {
                    twin.entity_type.clone_from(entity_type);
                }
                StatusInput::Changed
            }
            TwinUpdate::Measurement {
                name, value, time, ..
            } => {
                // The look-ahead found where the property probably is on this very twin, by
                // its name's tag (see `Twin::position_by_tag`), and properties never move.
                let found = (ahead.twin == index.0 && ahead.property != u32::MAX)
                    .then_some(ahead.property as usize);
                self.apply_measurement(index, name, *value, *time, now, found)
            }
            TwinUpdate::Historical {
                name, value, time, ..
            } => {
                if let Some(position) = self.property_slot(index, name, || name.clone()) {
                    self.twins[index.0 as usize].properties[position]
                        .history
                        .insert_past(*time, *value);
                }
                StatusInput::Unchanged
            }
            TwinUpdate::Unit { name, unit, .. } => {
                // Units may arrive (retained) before the first value: the property waits.
                if let Some(position) = self.property_slot(index, name, || name.clone()) {
                    self.twins[index.0 as usize].properties[position].unit = Some(unit.clone());
                }
                StatusInput::Unchanged
            }
            TwinUpdate::Event {
                event_type,
                text,
                time,
                ..
            } => {
                let cap = self.config.max_entries_per_twin;
                let twin = &mut self.twins[index.0 as usize];
                let event = LastEvent {
                    event_type: event_type.clone(),
                    text: text.clone(),
                    time: *time,
                };
                let count = twin.events.len();
                match twin.events.iter_mut().find(|e| e.event_type == *event_type) {
                    Some(existing) => *existing = event,
                    None if count < cap => twin.events.push(event),
                    None => self.refused.entries += 1,
                }
                StatusInput::Changed
            }
            TwinUpdate::AlarmRaised {
                alarm_type,
                severity,
                text,
                time,
                ..
            } => {
                self.raise_alarm(
                    index,
                    ActiveAlarm {
                        alarm_type: alarm_type.clone(),
                        severity: *severity,
                        text: text.clone(),
                        time: *time,
                        source: AlarmSource::Device,
                    },
                    "device",
                );
                StatusInput::Changed
            }
            TwinUpdate::AlarmCleared {
                alarm_type, time, ..
            } => {
                self.clear_alarm(index, alarm_type, *time, "device");
                StatusInput::Changed
            }
            TwinUpdate::Fragment { name, value, .. } => {
                let cap = self.config.max_entries_per_twin;
                let twin = &mut self.twins[index.0 as usize];
                match value {
                    Some(_)
                        if twin.fragments.len() >= cap && !twin.fragments.contains_key(name) =>
                    {
                        self.refused.entries += 1
                    }
                    Some(value) => {
                        twin.fragments.insert(name.clone(), value.clone());
                    }
                    None => {
                        twin.fragments.remove(name);
                    }
                }
                // Fragments are shown, never part of the status.
                StatusInput::Unchanged
            }
            TwinUpdate::Health { up, .. } => {
                self.twins[index.0 as usize].health = Some(*up);
                StatusInput::Changed
            }
            TwinUpdate::Online { online, time, .. } => {
                let twin = &mut self.twins[index.0 as usize];
                twin.reports_liveness = true;
                twin.stale = false;
                twin.offline_since = if *online {
                    None
                } else {
                    Some(twin.offline_since.unwrap_or(*time))
                };
                StatusInput::Changed
            }
        }
    }

    /// A live value: the property (at `found`, if the look-ahead found it), its history, its
    /// rule's verdict and alarm limits.
    fn apply_measurement(
        &mut self,
        index: TwinIndex,
        name: &PropertyName,
        value: f64,
        time: Timestamp,
        now: Timestamp,
        found: Option<usize>,
    ) -> StatusInput {
        // Where the look-ahead found it, checked to be that very name (see `name_tags`).
        let found = found.filter(|&position| {
            self.twins[index.0 as usize]
                .properties
                .get(position)
                .is_some_and(|p| p.is_named_by(name))
        });
        let position = match found {
            Some(position) => position,
            None => match self.property_slot(index, name, || name.to_arc()) {
                Some(position) => position,
                None => return StatusInput::Unchanged,
            },
        };
        let twin = &mut self.twins[index.0 as usize];
        // First heard from, or back from stale: the status changes with it.
        let mut input = if twin.seen == NEVER_SEEN || twin.stale {
            StatusInput::Changed
        } else {
            StatusInput::Unchanged
        };
        twin.seen = twin.seen.max(now);
        twin.stale = false;
        let property = &mut twin.properties[position];
        property.value = value;
        property.time = time;
        property.history.push(time, value);
        if !property.judged {
            return input;
        }
        if let Some(rule) = property.rule {
            let verdict = self.rules.evaluate(rule, value);
            if verdict != (property.rule_status, property.rule_color) {
                (property.rule_status, property.rule_color) = verdict;
                input = StatusInput::Changed;
            }
        }
        if property.limits.is_empty() {
            return input;
        }
        let mut changes = Vec::new();
        for (rule, state) in &mut property.limits {
            if let Some(change) = self.alarm_rules.get(*rule).step(state, value, time) {
                changes.push((*rule, change));
            }
        }
        for (rule, change) in changes {
            self.apply_limit_change(index, name, rule, change, value, time);
            input = StatusInput::Changed;
        }
        input
    }

    /// The position of a twin's property, made (with its rules, and `shared` as its name)
    /// if it is new and the twin has room ([`StoreConfig::max_entries_per_twin`]).
    fn property_slot(
        &mut self,
        index: TwinIndex,
        name: &str,
        shared: impl FnOnce() -> Arc<str>,
    ) -> Option<usize> {
        let twin = &mut self.twins[index.0 as usize];
        if let Some(position) = twin.position_of(name) {
            return Some(position);
        }
        if twin.properties.len() >= self.config.max_entries_per_twin {
            self.refused.entries += 1;
            return None;
        }
        let rule = self.rules.find(twin.id.as_str(), name);
        let limits = self.alarm_rules.find(twin.id.as_str(), name);
        let history = History::with_room(self.config.history_len, self.room.history());
        Some(twin.push_property(Property::new(shared(), rule, limits, history)))
    }

    /// Marks twins stale that received data once but nothing for `stale_after`.
    /// Call it regularly (the viewer does once a second); it is O(twins).
    pub fn mark_stale(&mut self, now: Timestamp) {
        let limit = self.config.stale_after.as_secs_f64();
        for i in 0..self.twins.len() {
            let twin = &mut self.twins[i];
            let stale = !twin.reports_liveness
                && twin
                    .last_seen()
                    .is_some_and(|seen| now.seconds_since(seen) > limit);
            if stale != twin.stale {
                twin.stale = stale;
                self.refresh_status(TwinIndex(i as u32));
            }
        }
    }

    fn refresh_status(&mut self, index: TwinIndex) {
        let twin = &mut self.twins[index.0 as usize];
        let derived = twin.derive_status(index, &self.alarm_book);
        if derived != twin.shown() {
            let DerivedStatus {
                status,
                color,
                alarm_severity,
                unacknowledged,
                active_alarms,
                comms_lost,
            } = derived;
            twin.comms_lost = comms_lost;
            twin.status = status;
            twin.rule_color = color;
            twin.alarm_severity = alarm_severity;
            twin.unacknowledged = unacknowledged;
            twin.active_alarms = active_alarms;
            if !self.changed_flag[index.0 as usize] {
                self.changed_flag[index.0 as usize] = true;
                self.changed.push(index);
            }
        }
    }

    /// The twin of an id: where the id says this store keeps it, else by its text (and
    /// then the id remembers). Decoders hand out one shared id per twin, so in steady state
    /// a message's twin is found without hashing or probing the index.
    ///
    /// A slot with this store's tag was written by this store for this very text, tags are
    /// never reused, and twins never move: such a slot is right without checking.
    fn find_id(&self, id: &TwinId) -> Option<TwinIndex> {
        if let Some(index) = self.slotted(id) {
            return Some(index);
        }
        let index = *self.index.get(id)?;
        self.remember_slot(id, index);
        Some(index)
    }

    fn remember_slot(&self, id: &TwinId, index: TwinIndex) {
        if self.tag != 0 {
            id.remember_store_slot(StoreSlot {
                store: self.tag,
                position: index.0,
            });
        }
    }

    /// The twin's index, made if it is new and the store has room ([`StoreConfig::max_twins`]).
    fn ensure(&mut self, id: &TwinId) -> Option<TwinIndex> {
        if let Some(index) = self.find_id(id) {
            return Some(index);
        }
        if self.twins.len() >= self.config.max_twins {
            self.refused.twins += 1;
            return None;
        }
        Some(self.add(id))
    }

    /// The twin's index, made if it is new, whatever the cap.
    fn insert(&mut self, id: &TwinId) -> TwinIndex {
        match self.find_id(id) {
            Some(index) => index,
            None => self.add(id),
        }
    }

    /// A twin not in the store yet.
    fn add(&mut self, id: &TwinId) -> TwinIndex {
        let index = TwinIndex(self.twins.len() as u32);
        let mut twin = Twin::new(id.clone());
        twin.properties = self.room.properties();
        self.twins.push(twin);
        self.changed_flag.push(false);
        self.index.insert(id.clone(), index);
        self.remember_slot(id, index);
        index
    }

    /// Moves `child` under `parent`, unless that would make a cycle (then it is ignored).
    fn set_parent(&mut self, child: TwinIndex, parent: TwinIndex) {
        if self.twins[child.0 as usize].parent == Some(parent) {
            return;
        }
        let mut cursor = Some(parent);
        while let Some(ancestor) = cursor {
            if ancestor == child {
                tracing::warn!(
                    child = %self.twins[child.0 as usize].id,
                    parent = %self.twins[parent.0 as usize].id,
                    "ignored a parent that would make the twin hierarchy a cycle"
                );
                return;
            }
            cursor = self.twins[ancestor.0 as usize].parent;
        }
        if let Some(old) = self.twins[child.0 as usize].parent {
            self.twins[old.0 as usize].children.retain(|c| *c != child);
        }
        self.twins[child.0 as usize].parent = Some(parent);
        self.twins[parent.0 as usize].children.push(child);
    }
}

#[cfg(test)]
mod tests;
