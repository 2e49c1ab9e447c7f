//! Trends are read from the archive on a thread of their own: the frame asks, never waits.
//! A newer request for a series replaces the one not yet started (dragging the plot never
//! queues stale reads), and each answer says which request it answers. What each file held
//! for a series is kept, so panning reads only the files newly in view.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use twinscope_core::archive::alarm_periods::{AlarmPeriod, alarm_periods};
use twinscope_core::archive::{Trend, TrendCache, TrendQuery, load_trend_cached};

/// A series' answer: its trend, the twin's alarm periods (`None`: span too long to read
/// them), how long it took.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub series: u64,
    pub query: TrendQuery,
    pub trend: Trend,
    pub alarms: Option<Vec<AlarmPeriod>>,
    pub took: Duration,
}

#[derive(Default)]
struct Pending {
    requests: HashMap<u64, TrendQuery>,
    stop: bool,
}

/// The loading thread of one archive.
pub struct TrendLoader {
    pending: Arc<(Mutex<Pending>, Condvar)>,
    pub answers: Receiver<Loaded>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TrendLoader {
    pub fn start(root: PathBuf) -> TrendLoader {
        let pending: Arc<(Mutex<Pending>, Condvar)> = Arc::default();
        let (answer, answers) = unbounded();
        let thread = {
            let pending = pending.clone();
            std::thread::Builder::new()
                .name("archive-trends".into())
                .spawn(move || serve(root, pending, answer))
                .ok()
        };
        TrendLoader {
            pending,
            answers,
            thread,
        }
    }

    /// Asks for `query` for `series`, replacing a request of it not started yet.
    pub fn request(&self, series: u64, query: TrendQuery) {
        let (lock, wake) = &*self.pending;
        lock.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .insert(series, query);
        wake.notify_one();
    }
}

fn serve(root: PathBuf, pending: Arc<(Mutex<Pending>, Condvar)>, answer: Sender<Loaded>) {
    let (lock, wake) = &*pending;
    // What files held for the series shown: a pan reads only the days it had not read.
    let mut cache = TrendCache::default();
    loop {
        let requests = {
            let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
            while state.requests.is_empty() && !state.stop {
                state = wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.stop {
                return;
            }
            std::mem::take(&mut state.requests)
        };
        for (series, query) in requests {
            let started = Instant::now();
            let trend = load_trend_cached(&root, &query, &mut cache);
            let alarms =
                alarm_periods(&root, &query.twin, query.from, query.to).map(|(periods, _)| periods);
            let loaded = Loaded {
                series,
                query,
                trend,
                alarms,
                took: started.elapsed(),
            };
            if answer.send(loaded).is_err() {
                return;
            }
        }
    }
}

impl Drop for TrendLoader {
    fn drop(&mut self) {
        let (lock, wake) = &*self.pending;
        lock.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
