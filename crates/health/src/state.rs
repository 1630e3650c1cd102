//! The per-server health state machine, as HAProxy runs it.
//!
//! One counter, `health`, from 0 to `rise + fall - 1`: the server is UP when
//! `health >= rise`. A passed check adds one and, on reaching `rise`, jumps to
//! the top (fully up); a failed check takes one away and, on falling below
//! `rise`, drops to 0 (fully down). So an UP server goes DOWN after exactly
//! `fall` consecutive failures and a DOWN one comes back after `rise`
//! consecutive successes; in between it is "going down" / "going up".
//!
//! The machine is pure: the caller passes each verdict and `now`, and gets
//! whether the counter moved (the `log-health-checks` line) and whether the
//! server changed side (the UP/DOWN line).

use crate::status::Verdict;
use fulcrum_config::model::check::InitState;
use std::time::Instant;

/// Which side of `rise` the counter is on, and whether it is moving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Up,
    /// UP, but at least one check failed since.
    GoingDown,
    Down,
    /// DOWN, but at least one check passed since.
    GoingUp,
}

/// A change of side: what the UP/DOWN log lines report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    WentUp,
    WentDown,
}

/// What recording one verdict did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// The counter moved (HAProxy logs `Health check for server …` then).
    pub moved: bool,
    pub transition: Option<Transition>,
}

/// The rise/fall counter of one check (the server's own, or its agent's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    rise: u32,
    fall: u32,
    health: u32,
    last_change: Option<Instant>,
}

impl Health {
    /// `rise` and `fall` are at least 1; `init` says where the counter starts.
    pub fn new(rise: u32, fall: u32, init: InitState) -> Self {
        let (rise, fall) = (rise.max(1), fall.max(1));
        let health = match init {
            InitState::FullyUp => rise + fall - 1,
            // Up, but the first failure takes it down (HAProxy's default).
            InitState::Up => rise,
            // Down, but the first success brings it up.
            InitState::Down => rise - 1,
            InitState::FullyDown => 0,
        };
        Health {
            rise,
            fall,
            health,
            last_change: None,
        }
    }

    fn top(&self) -> u32 {
        self.rise + self.fall - 1
    }

    pub fn is_up(&self) -> bool {
        self.health >= self.rise
    }

    pub fn rise(&self) -> u32 {
        self.rise
    }
    pub fn fall(&self) -> u32 {
        self.fall
    }
    /// The raw counter, 0..rise+fall-1.
    pub fn value(&self) -> u32 {
        self.health
    }
    /// When the server last changed side (`None`: never since start).
    pub fn last_change(&self) -> Option<Instant> {
        self.last_change
    }

    pub fn phase(&self) -> Phase {
        match (self.is_up(), self.health) {
            (true, h) if h == self.top() => Phase::Up,
            (true, _) => Phase::GoingDown,
            (false, 0) => Phase::Down,
            (false, _) => Phase::GoingUp,
        }
    }

    /// HAProxy's `n/m` in logs and stats: successes left before falling
    /// (`health - rise + 1` of `fall`) when up, successes so far (`health`
    /// of `rise`) when down.
    pub fn progress(&self) -> (u32, u32) {
        if self.is_up() {
            (self.health - self.rise + 1, self.fall)
        } else {
            (self.health, self.rise)
        }
    }

    /// Records one check's verdict.
    pub fn record(&mut self, verdict: Verdict, now: Instant) -> Step {
        let was_up = self.is_up();
        let mut moved = false;
        match verdict {
            Verdict::Failed if self.health > 0 => {
                moved = true;
                self.health -= 1;
                if self.health < self.rise {
                    self.health = 0;
                }
            }
            Verdict::Passed | Verdict::CondPassed if self.health < self.top() => {
                moved = true;
                self.health += 1;
                if self.health >= self.rise {
                    self.health = self.top();
                }
            }
            _ => {}
        }
        Step {
            moved,
            transition: self.transition_from(was_up, now),
        }
    }

    /// Forces the server down (agent `down`, `on-error mark-down`).
    pub fn force_down(&mut self, now: Instant) -> Option<Transition> {
        let was_up = self.is_up();
        self.health = 0;
        self.transition_from(was_up, now)
    }

    /// Forces the server fully up (agent `up`).
    pub fn force_up(&mut self, now: Instant) -> Option<Transition> {
        let was_up = self.is_up();
        self.health = self.top();
        self.transition_from(was_up, now)
    }

    /// `on-error sudden-death`: leaves one failure before going down.
    pub fn sudden_death(&mut self) {
        if self.health > self.rise {
            self.health = self.rise + 1;
        }
    }

    /// `on-error mark-down`: the next failure takes the server down.
    pub fn next_failure_is_fatal(&mut self) {
        if self.is_up() {
            self.health = self.rise;
        }
    }

    fn transition_from(&mut self, was_up: bool, now: Instant) -> Option<Transition> {
        let t = match (was_up, self.is_up()) {
            (false, true) => Transition::WentUp,
            (true, false) => Transition::WentDown,
            _ => return None,
        };
        self.last_change = Some(now);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fully_up(rise: u32, fall: u32) -> Health {
        Health::new(rise, fall, InitState::FullyUp)
    }

    #[test]
    fn up_server_falls_after_exactly_fall_failures_and_rises_after_rise() {
        let now = Instant::now();
        let mut h = fully_up(2, 3);
        assert_eq!(h.record(Verdict::Failed, now).transition, None);
        assert_eq!(h.phase(), Phase::GoingDown);
        assert_eq!(h.progress(), (2, 3));
        assert_eq!(h.record(Verdict::Failed, now).transition, None);
        let s = h.record(Verdict::Failed, now);
        assert_eq!(s.transition, Some(Transition::WentDown));
        assert_eq!((h.phase(), h.progress()), (Phase::Down, (0, 2)));
        assert_eq!(h.record(Verdict::Passed, now).transition, None);
        assert_eq!(h.phase(), Phase::GoingUp);
        assert_eq!(
            h.record(Verdict::Passed, now).transition,
            Some(Transition::WentUp)
        );
        assert_eq!((h.phase(), h.progress()), (Phase::Up, (3, 3)));
    }

    #[test]
    fn a_success_while_going_down_restores_full_health() {
        let now = Instant::now();
        let mut h = fully_up(2, 3);
        h.record(Verdict::Failed, now);
        h.record(Verdict::Failed, now);
        h.record(Verdict::Passed, now);
        assert_eq!(h.phase(), Phase::Up);
    }

    #[test]
    fn init_states_follow_haproxy() {
        let now = Instant::now();
        let mut up = Health::new(2, 3, InitState::Up);
        assert!(up.is_up());
        assert_eq!(
            up.record(Verdict::Failed, now).transition,
            Some(Transition::WentDown)
        );
        let mut down = Health::new(2, 3, InitState::Down);
        assert!(!down.is_up());
        assert_eq!(
            down.record(Verdict::Passed, now).transition,
            Some(Transition::WentUp)
        );
        assert_eq!(Health::new(2, 3, InitState::FullyDown).phase(), Phase::Down);
    }

    #[test]
    fn steady_states_do_not_move() {
        let now = Instant::now();
        let mut h = fully_up(2, 3);
        assert!(!h.record(Verdict::Passed, now).moved);
        let mut d = Health::new(2, 3, InitState::FullyDown);
        assert!(!d.record(Verdict::Failed, now).moved);
        assert!(!d.record(Verdict::Neutral, now).moved);
    }

    #[test]
    fn sudden_death_and_mark_down_shorten_the_fall() {
        let now = Instant::now();
        let mut h = fully_up(2, 5);
        h.sudden_death();
        assert_eq!(h.record(Verdict::Failed, now).transition, None);
        assert_eq!(
            h.record(Verdict::Failed, now).transition,
            Some(Transition::WentDown)
        );
        let mut m = fully_up(2, 5);
        m.next_failure_is_fatal();
        assert_eq!(
            m.record(Verdict::Failed, now).transition,
            Some(Transition::WentDown)
        );
    }

    proptest! {
        // Against a model: UP/DOWN flips only after `fall` consecutive
        // failures / `rise` consecutive successes from a settled state.
        #[test]
        fn flips_need_consecutive_runs(rise in 1u32..6, fall in 1u32..6,
                                       seq in proptest::collection::vec(any::<bool>(), 0..60)) {
            let now = Instant::now();
            let mut h = fully_up(rise, fall);
            let (mut up, mut run_ok, mut run_ko) = (true, 0u32, 0u32);
            for ok in seq {
                if ok { run_ok += 1; run_ko = 0; } else { run_ko += 1; run_ok = 0; }
                let step = h.record(if ok { Verdict::Passed } else { Verdict::Failed }, now);
                let flipped = if up && run_ko >= fall { up = false; true }
                    else if !up && run_ok >= rise { up = true; true } else { false };
                prop_assert_eq!(step.transition.is_some(), flipped);
                prop_assert_eq!(h.is_up(), up);
                prop_assert!(h.value() < rise + fall);
            }
        }
    }
}
