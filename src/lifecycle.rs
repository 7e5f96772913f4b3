//! The agent's shutdown sequence, as the components see it.
//!
//! The agent moves through [`Phase`]s in order; every component watches the phase and tells the
//! agent, through [`Control::report`], when it has done its part. The order is what makes a stop
//! lose nothing: sources stop reading first, sinks then drain the channels (within a timeout),
//! and only then do sources write their final positions, which by then include everything the
//! sinks delivered.

use std::sync::mpsc;

use tokio::sync::watch;

/// Where the agent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Normal operation.
    Running,
    /// Sources stop reading new data; what they read is still in flight.
    StopReading,
    /// Sinks deliver what is left in their channels, then stop.
    Drain,
    /// Everyone stops now: sinks give up undelivered batches (their sources will read them again
    /// after a restart), sources write final positions.
    Finish,
}

/// What a component reports to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The named source stopped reading.
    SourceStopped(String),
    /// The named sink has emptied its channel and stopped.
    SinkDrained(String),
}

/// A component's view of the lifecycle.
#[derive(Debug, Clone)]
pub struct Control {
    phase: watch::Receiver<Phase>,
    reports: mpsc::Sender<Report>,
    /// Bumped when the operator asks for the components' state (SIGUSR1).
    status: watch::Receiver<u64>,
}

impl Control {
    /// A control fed by `phase` that reports to `reports`; it never sees a status request.
    pub fn new(phase: watch::Receiver<Phase>, reports: mpsc::Sender<Report>) -> Self {
        let (_, status) = watch::channel(0);
        Control {
            phase,
            reports,
            status,
        }
    }

    /// Whether a status request came since the last call (it is then taken).
    pub fn take_status_request(&mut self) -> bool {
        let asked = self.status.has_changed().unwrap_or(false);
        if asked {
            self.status.mark_unchanged();
        }
        asked
    }

    /// Waits for a status request (forever, if none can come).
    pub async fn status_requested(&mut self) {
        if self.status.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Waits until the phase is at least `phase`.
    pub async fn reached(&mut self, phase: Phase) {
        // An error means the agent is gone: treat it as the end.
        let _ = self.phase.wait_for(|p| *p >= phase).await;
    }

    /// Tells the agent a step is done. A closed agent is not an error here.
    pub fn report(&self, report: Report) {
        let _ = self.reports.send(report);
    }
}

/// The agent's side: moves the phase and collects reports.
#[derive(Debug)]
pub struct Lifecycle {
    phase: watch::Sender<Phase>,
    reports_tx: mpsc::Sender<Report>,
    reports: mpsc::Receiver<Report>,
    status: watch::Sender<u64>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        let (reports_tx, reports) = mpsc::channel();
        Lifecycle {
            phase: watch::Sender::new(Phase::Running),
            reports_tx,
            reports,
            status: watch::Sender::new(0),
        }
    }
}

impl Lifecycle {
    /// A control for one component.
    pub fn control(&self) -> Control {
        Control {
            phase: self.phase.subscribe(),
            reports: self.reports_tx.clone(),
            status: self.status.subscribe(),
        }
    }

    /// Asks every component to log its state.
    pub fn request_status(&self) {
        self.status.send_modify(|n| *n += 1);
    }

    /// Moves to `phase`.
    pub fn advance(&self, phase: Phase) {
        self.phase.send_replace(phase);
    }

    /// Waits until `count` reports matching `pred` arrived, `deadline` passed or `interrupted`
    /// says so (it is asked at least every 100 ms); returns how many arrived.
    pub fn wait_reports(
        &self,
        count: usize,
        deadline: std::time::Instant,
        pred: impl Fn(&Report) -> bool,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> usize {
        const ASK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
        let mut seen = 0;
        while seen < count {
            let now = std::time::Instant::now();
            if now >= deadline || interrupted() {
                break;
            }
            match self.reports.recv_timeout((deadline - now).min(ASK_EVERY)) {
                Ok(r) if pred(&r) => seen += 1,
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        seen
    }
}
