//! The rows received since the last seal, grouped by series: what the next parts will hold.
//! Its size is bounded by the writer (it seals at a row cap), and it can be rebuilt from its
//! journal after a crash.

use std::collections::HashMap;

use super::rows::{AlarmRow, Sample, SeriesKey, TextRow, TwinRow};

/// One generation of buffered rows; its id names every part it is sealed into, so sealing
/// it again (after a crash between two renames) skips the parts already written.
pub struct Buffer {
    pub id: String,
    index: HashMap<SeriesKey, u32>,
    pub series: Vec<(SeriesKey, Vec<Sample>)>,
    pub text: Vec<TextRow>,
    pub alarms: Vec<AlarmRow>,
    pub twins: Vec<TwinRow>,
    pub rows: usize,
}

impl Buffer {
    pub fn new(id: String) -> Buffer {
        Buffer {
            id,
            index: HashMap::new(),
            series: Vec::new(),
            text: Vec::new(),
            alarms: Vec::new(),
            twins: Vec::new(),
            rows: 0,
        }
    }

    /// The id of a series, and whether it is new to this buffer (its definition is journaled).
    pub fn series_id(&mut self, key: &SeriesKey) -> (u32, bool) {
        if let Some(id) = self.index.get(key) {
            return (*id, false);
        }
        let id = self.series.len() as u32;
        self.index.insert(key.clone(), id);
        self.series.push((key.clone(), Vec::new()));
        (id, true)
    }

    /// Defines series `id` (journal replay: ids arrive in order).
    pub fn define(&mut self, id: u32, key: SeriesKey) -> bool {
        if id as usize != self.series.len() || self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key.clone(), id);
        self.series.push((key, Vec::new()));
        true
    }

    pub fn push_sample(&mut self, id: u32, sample: Sample) -> bool {
        match self.series.get_mut(id as usize) {
            Some((_, samples)) => {
                samples.push(sample);
                self.rows += 1;
                true
            }
            None => false,
        }
    }

    pub fn push_text(&mut self, row: TextRow) {
        self.text.push(row);
        self.rows += 1;
    }

    pub fn push_alarm(&mut self, row: AlarmRow) {
        self.alarms.push(row);
        self.rows += 1;
    }

    pub fn push_twin(&mut self, row: TwinRow) {
        self.twins.push(row);
        self.rows += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}
