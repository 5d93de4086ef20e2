//! The foreign routes the daemon replaced, kept in a file beside the control socket, so that
//! a run killed before it gave them back has the next run give them back.

use super::core::Core;
use super::state;
use crate::engine::{Input, Instant};

impl Core {
    /// Seeds the engine with the foreign routes a previous run replaced and did not give
    /// back (it was killed): they go back on this run's exit.
    pub fn restore_saved(&mut self, now: Instant) {
        let text = match std::fs::read_to_string(&self.state_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                log::warn!("{}: {e}", self.state_path.display());
                return;
            }
        };
        let (saved, skipped) = state::parse(&text);
        if skipped > 0 {
            log::warn!(
                "{}: {skipped} damaged line(s) skipped",
                self.state_path.display()
            );
        }
        for s in saved {
            self.restore_one(now, s);
        }
    }

    /// One saved route, if its WAN is still configured and its interface exists.
    fn restore_one(&mut self, now: Instant, s: state::Saved) {
        let Some(id) = self.engine.wan_id(&s.wan) else {
            log::warn!(
                "saved route of WAN '{}' which is no longer configured: {}",
                s.wan,
                s.route
            );
            return;
        };
        let Some(link) = self.view.link_by_name(&s.interface) else {
            return;
        };
        let route = crate::engine::Route {
            ifindex: link.ifindex,
            ..s.route
        };
        log::info!(
            "{}: will give back {route} on exit (saved by a previous run)",
            s.wan
        );
        self.engine
            .handle(now, Input::ForeignRoute { wan: id, route });
        self.saved.push(s);
    }

    /// Writes the remembered foreign routes when they changed (write to a temporary file,
    /// then rename, so a crash never leaves half a file).
    /// Called after every batch of route facts (netlink events, a full feed): the only
    /// inputs that change which foreign routes the engine remembers.
    pub fn save_state(&mut self) {
        let now_saved = self.to_save();
        let same = now_saved.len() == self.saved.len()
            && now_saved
                .iter()
                .zip(&self.saved)
                .all(|(a, b)| a.wan == b.wan && a.route == b.route);
        if same {
            return;
        }
        self.saved = now_saved;
        if let Err(e) = self.write_saved() {
            log::warn!("{}: {e}", self.state_path.display());
        }
    }

    /// The engine's foreign routes as the file keeps them.
    fn to_save(&self) -> Vec<state::Saved> {
        self.engine
            .foreign_routes()
            .into_iter()
            .filter_map(|(id, route)| {
                let b = self.wans.wans.get(usize::from(id))?;
                // The ifindex is not kept: the interface may come back with another one.
                let route = crate::engine::Route {
                    ifindex: 0,
                    ..route
                };
                Some(state::Saved {
                    wan: b.name.clone(),
                    interface: b.interface.clone(),
                    route,
                })
            })
            .collect()
    }

    /// Replaces the file with what `saved` holds, or removes it when that is nothing.
    fn write_saved(&self) -> std::io::Result<()> {
        if self.saved.is_empty() {
            std::fs::remove_file(&self.state_path).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
        } else {
            let tmp = self.state_path.with_extension("routes.tmp");
            std::fs::write(&tmp, state::format(&self.saved))
                .and_then(|()| std::fs::rename(&tmp, &self.state_path))
        }
    }

    /// After the loop: hooks are killed; once every foreign route is back in the kernel
    /// the file that remembered them goes too (if the stop ran out of time, it stays for
    /// the next run).
    pub fn finish(&mut self) {
        self.hooks.kill_all();
        if self.engine.is_stopped() {
            if let Err(e) = std::fs::remove_file(&self.state_path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("{}: {e}", self.state_path.display());
                }
            }
        } else {
            self.save_state();
        }
    }
}
