//! A gate for warnings that would otherwise repeat for every batch: it opens at most once per
//! period.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Opens at most once per `period` (shared by every thread that asks).
#[derive(Debug)]
pub struct Throttle {
    period: Duration,
    last: Mutex<Option<Instant>>,
}

impl Throttle {
    /// A gate that opens at most once per `period`, open the first time.
    pub const fn new(period: Duration) -> Self {
        Throttle {
            period,
            last: Mutex::new(None),
        }
    }

    /// A gate that opens at most once a minute.
    pub const fn per_minute() -> Self {
        Throttle::new(Duration::from_secs(60))
    }

    /// Whether the gate opens now (then it stays shut for a period).
    pub fn ready(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < self.period) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_once_per_period() {
        let gate = Throttle::new(Duration::from_millis(50));
        assert!(gate.ready());
        assert!(!gate.ready());
        std::thread::sleep(Duration::from_millis(60));
        assert!(gate.ready());
    }
}
