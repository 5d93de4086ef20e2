//! Per-WAN state machine.

/// Observable WAN states, spelled exactly so in the CLI, JSON and hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Up,
    Degraded,
    Down,
    Linkdown,
    Noroute,
    Disabled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "init",
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Linkdown => "linkdown",
            State::Noroute => "noroute",
            State::Disabled => "disabled",
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
