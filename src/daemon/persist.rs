//! The foreign routes the daemon replaced, kept in a file beside the control socket, so that
//! a run killed before it gave them back has the next run give them back.

use std::path::PathBuf;

use super::state;
use super::wans::Wans;
use crate::engine::{Engine, Input, Instant, Route};

/// The state file and what it holds now.
pub struct SavedRoutes {
    path: PathBuf,
    saved: Vec<state::Saved>,
    /// Balance mode's sysctls as they were before the first start.
    sysctls: Vec<state::SavedSysctl>,
    /// `sysctls` changed since the file was written.
    sysctls_changed: bool,
}

impl SavedRoutes {
    /// The file for a control socket path (`/run/wanfailover.routes` beside
    /// `/run/wanfailover.sock`).
    pub fn beside(socket: &std::path::Path) -> SavedRoutes {
        SavedRoutes {
            path: socket.with_extension("routes"),
            saved: Vec::new(),
            sysctls: Vec::new(),
            sysctls_changed: false,
        }
    }

    /// The sysctl originals a previous run saved (none without a file).
    #[cfg_attr(not(feature = "routing"), allow(dead_code))]
    pub fn sysctls(&self) -> Vec<state::SavedSysctl> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        let (sysctls, skipped) = state::parse_sysctls(&text);
        if skipped > 0 {
            log::warn!(
                "{}: {skipped} damaged setting(s) skipped",
                self.path.display()
            );
        }
        sysctls
    }

    /// The sysctl originals to keep, written with the next [`SavedRoutes::save`].
    #[cfg_attr(not(feature = "routing"), allow(dead_code))]
    pub fn set_sysctls(&mut self, sysctls: Vec<state::SavedSysctl>) {
        if sysctls != self.sysctls {
            self.sysctls = sysctls;
            self.sysctls_changed = true;
        }
    }

    /// Seeds the engine with the foreign routes a previous run replaced and did not give
    /// back (it was killed): they go back on this run's exit. `ifindex_of` looks up an
    /// interface by name.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn restore(
        &mut self,
        now: Instant,
        engine: &mut Engine,
        ifindex_of: impl Fn(&str) -> Option<u32>,
    ) {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                log::warn!("{}: {e}", self.path.display());
                return;
            }
        };
        let (saved, skipped) = state::parse(&text);
        if skipped > 0 {
            log::warn!("{}: {skipped} damaged line(s) skipped", self.path.display());
        }
        for s in saved {
            let Some(id) = engine.wan_id(&s.wan) else {
                log::warn!(
                    "saved route of WAN '{}' which is no longer configured: {}",
                    s.wan,
                    s.route
                );
                continue;
            };
            // The interface may have come back with another ifindex.
            let Some(ifindex) = ifindex_of(&s.interface) else {
                continue;
            };
            let route = Route { ifindex, ..s.route };
            log::info!(
                "{}: will give back {route} on exit (saved by a previous run)",
                s.wan
            );
            engine.handle(now, Input::ForeignRoute { wan: id, route });
            self.saved.push(s);
        }
    }

    /// Writes the remembered foreign routes when they changed (write to a temporary file,
    /// then rename, so a crash never leaves half a file). Called after route facts (the
    /// only inputs that change which foreign routes the engine remembers).
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn save(&mut self, engine: &Engine, wans: &Wans) {
        let now_saved = to_save(engine, wans);
        let same = now_saved.len() == self.saved.len()
            && now_saved
                .iter()
                .zip(&self.saved)
                .all(|(a, b)| a.wan == b.wan && a.route == b.route);
        if same && !core::mem::take(&mut self.sysctls_changed) {
            return;
        }
        self.saved = now_saved;
        if let Err(e) = self.write() {
            log::warn!("{}: {e}", self.path.display());
        }
    }

    /// After the loop: once every foreign route is back in the kernel the file that
    /// remembered them goes too (if the stop ran out of time, it stays for the next run).
    pub fn finish(&mut self, engine: &Engine, wans: &Wans) {
        if !engine.is_stopped() || !self.sysctls.is_empty() {
            return self.save(engine, wans);
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("{}: {e}", self.path.display());
            }
        }
    }

    /// Replaces the file with what `saved` holds, or removes it when that is nothing.
    fn write(&self) -> std::io::Result<()> {
        if self.saved.is_empty() && self.sysctls.is_empty() {
            std::fs::remove_file(&self.path).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
        } else {
            let tmp = self.path.with_extension("routes.tmp");
            std::fs::write(&tmp, state::format_all(&self.saved, &self.sysctls))
                .and_then(|()| std::fs::rename(&tmp, &self.path))
        }
    }
}

/// The engine's foreign routes as the file keeps them.
fn to_save(engine: &Engine, wans: &Wans) -> Vec<state::Saved> {
    engine
        .foreign_routes()
        .into_iter()
        .filter_map(|(id, route)| {
            let wan = wans.get(id)?;
            // The ifindex is not kept: the interface may come back with another one.
            let route = Route {
                ifindex: 0,
                ..route
            };
            Some(state::Saved {
                wan: wan.name.clone(),
                interface: wan.interface.clone(),
                route,
            })
        })
        .collect()
}
