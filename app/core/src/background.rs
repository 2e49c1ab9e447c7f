//! A named background thread with a stop flag, stopped and joined when dropped: the shape of
//! the MQTT client threads and the simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub struct BackgroundThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundThread {
    /// Runs `body` on a thread named `name`; `body` should return soon after the flag it is
    /// given turns true.
    pub fn spawn(
        name: &str,
        body: impl FnOnce(&AtomicBool) + Send + 'static,
    ) -> std::io::Result<Self> {
        Self::spawn_with_flag(name, Arc::new(AtomicBool::new(false)), body)
    }

    /// [`spawn`](Self::spawn) with a stop flag the caller also handed to others (a sink that
    /// must stop waiting when the thread is asked to stop).
    pub fn spawn_with_flag(
        name: &str,
        stop: Arc<AtomicBool>,
        body: impl FnOnce(&AtomicBool) + Send + 'static,
    ) -> std::io::Result<Self> {
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(&flag))?;
        Ok(BackgroundThread {
            stop,
            thread: Some(thread),
        })
    }

    /// Asks the thread to stop and waits for it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.join();
    }

    /// Waits for the thread to end by itself.
    pub fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BackgroundThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Drops `value` on a short-lived thread: a plant's store (tens of thousands of twins and
/// their histories) takes milliseconds to free, which a seek or a switch back to live should
/// not add to the frame that made it. If no thread can be started it is dropped here.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("twinscope-drop".into())
        .spawn(move || drop(value));
}
