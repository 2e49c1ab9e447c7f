//! Simulated faults: one part at a time heats up past its alarm limit, holds, and cools down.
//! The simulator raises a retained thin-edge alarm when the part crosses [`ALARM_RAISE_AT`]
//! above its nominal temperature and clears it below [`ALARM_CLEAR_AT`] (a deadband).

use std::sync::atomic::Ordering;
use std::time::Duration;

use rumqttc::{Client, QoS};

use super::SimStats;
use super::rng::Rng;
use crate::demo::PlantLayout;

/// Extra heat (°C above nominal) at which the device raises its alarm.
pub const ALARM_RAISE_AT: f64 = 35.0;
/// Extra heat below which it clears the alarm again.
pub const ALARM_CLEAR_AT: f64 = 25.0;
const PEAK: f64 = 45.0;
const RAMP: f64 = 8.0;
const HOLD: f64 = 12.0;

struct ActiveFault {
    twin: usize,
    started: f64,
    alarm_raised: bool,
}

pub struct FaultSchedule {
    candidates: Vec<(usize, String)>,
    every: Option<Duration>,
    rng: Rng,
    next_start: f64,
    active: Option<ActiveFault>,
}

impl FaultSchedule {
    pub fn new(layout: &PlantLayout, every: Option<Duration>, seed: u64) -> Self {
        let candidates = layout
            .twins
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind.can_fault())
            .map(|(i, t)| (i, t.id.clone()))
            .collect();
        let first = every.map_or(f64::INFINITY, |e| e.as_secs_f64() * 0.3);
        FaultSchedule {
            candidates,
            every,
            rng: Rng::new(seed ^ 0xFA17),
            next_start: first,
            active: None,
        }
    }

    /// Heat added to twin `twin`'s temperature at `elapsed` seconds.
    pub fn extra_heat(&self, twin: usize, elapsed: f64) -> f64 {
        match &self.active {
            Some(fault) if fault.twin == twin => heat_at(elapsed - fault.started),
            _ => 0.0,
        }
    }

    /// Starts, advances and ends faults; publishes alarm raises and clears.
    pub fn advance(&mut self, elapsed: f64, client: &Client, stats: &SimStats) {
        if self.active.is_none() && elapsed >= self.next_start && !self.candidates.is_empty() {
            let pick = (self.rng.next_u64() % self.candidates.len() as u64) as usize;
            self.active = Some(ActiveFault {
                twin: self.candidates[pick].0,
                started: elapsed,
                alarm_raised: false,
            });
            stats.faults.fetch_add(1, Ordering::Relaxed);
            tracing::info!(twin = %self.candidates[pick].1, "simulated fault starts");
        }
        let Some(fault) = &mut self.active else {
            return;
        };
        let id = self
            .candidates
            .iter()
            .find(|(i, _)| *i == fault.twin)
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        let heat = heat_at(elapsed - fault.started);
        if !fault.alarm_raised && heat >= ALARM_RAISE_AT {
            fault.alarm_raised = true;
            publish_alarm(client, &id, true, stats);
        } else if fault.alarm_raised && heat < ALARM_CLEAR_AT {
            fault.alarm_raised = false;
            publish_alarm(client, &id, false, stats);
        }
        if elapsed - fault.started > 2.0 * RAMP + HOLD {
            self.active = None;
            let every = self.every.map_or(f64::INFINITY, |e| e.as_secs_f64());
            self.next_start = elapsed + every * (0.5 + self.rng.next_f64());
        }
    }

    /// After a reconnect, publishes the alarm of a fault in progress again.
    pub fn republish_active(&self, client: &Client, stats: &SimStats) {
        if let Some(fault) = self.active.as_ref().filter(|f| f.alarm_raised)
            && let Some((_, id)) = self.candidates.iter().find(|(i, _)| *i == fault.twin)
        {
            publish_alarm(client, id, true, stats);
        }
    }
}

/// A trapezoid: ramp up, hold at the peak, ramp down.
fn heat_at(t: f64) -> f64 {
    if t < 0.0 {
        0.0
    } else if t < RAMP {
        PEAK * t / RAMP
    } else if t < RAMP + HOLD {
        PEAK
    } else if t < 2.0 * RAMP + HOLD {
        PEAK * (2.0 * RAMP + HOLD - t) / RAMP
    } else {
        0.0
    }
}

fn publish_alarm(client: &Client, twin: &str, raise: bool, stats: &SimStats) {
    let topic = format!("te/device/{twin}///a/overheat");
    let payload = if raise {
        serde_json::json!({ "text": "Temperature high", "severity": "major" }).to_string()
    } else {
        String::new()
    };
    tracing::info!(twin, raise, "simulated alarm");
    if client
        .publish(topic, QoS::AtLeastOnce, true, payload)
        .is_ok()
    {
        stats.published.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_rises_holds_and_falls() {
        assert_eq!(heat_at(-1.0), 0.0);
        assert_eq!(heat_at(RAMP / 2.0), PEAK / 2.0);
        assert_eq!(heat_at(RAMP + 1.0), PEAK);
        assert!(heat_at(2.0 * RAMP + HOLD - 1.0) < PEAK);
        assert_eq!(heat_at(2.0 * RAMP + HOLD + 1.0), 0.0);
        const { assert!(ALARM_CLEAR_AT < ALARM_RAISE_AT && ALARM_RAISE_AT < PEAK) };
    }
}
