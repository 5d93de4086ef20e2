//! Host names of `http` targets resolved through one WAN, kept for their TTL.
//!
//! One cache per WAN: an address learned through one WAN's `dns` servers says nothing
//! about what another WAN's resolvers answer (DNS-based load balancing, split horizons at
//! an ISP). A TTL of zero is not cached, and no entry lives longer than [`MAX_TTL`], so a
//! changed record is noticed within the hour. Time comes in as `now`.

use std::net::IpAddr;
use std::time::Duration;

use super::dns::Name;
use super::Resolved;
use crate::config::MAX_TARGETS;
use crate::engine::Instant;

/// Longest time an address is kept, whatever its TTL.
pub const MAX_TTL: Duration = Duration::from_secs(3_600);

#[derive(Debug, Clone)]
struct Entry {
    name: Name,
    addr: IpAddr,
    until: Instant,
}

/// The names one WAN resolved: at most one per target ([`MAX_TARGETS`]). The list is
/// allocated with the first name (most WANs have none) and then keeps its room.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    entries: Vec<Entry>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The address of `name`, if one is known and its TTL has not run out.
    pub fn get(&self, now: Instant, name: &Name) -> Option<IpAddr> {
        self.entries
            .iter()
            .find(|e| e.name == *name && now < e.until)
            .map(|e| e.addr)
    }

    /// Keeps what a lookup of `name` returned. When full, the entry that runs out first
    /// makes room.
    pub fn put(&mut self, now: Instant, name: &Name, resolved: Resolved) {
        self.entries.retain(|e| e.name != *name && now < e.until);
        let ttl = Duration::from_secs(u64::from(resolved.ttl_s)).min(MAX_TTL);
        if ttl.is_zero() {
            return;
        }
        let entry = Entry {
            name: name.clone(),
            addr: resolved.addr,
            until: now + ttl,
        };
        if self.entries.len() >= MAX_TARGETS {
            let first = (0..self.entries.len()).min_by_key(|&i| self.entries[i].until);
            if let Some(i) = first {
                self.entries.swap_remove(i);
            }
        }
        self.entries.push(entry); // at most MAX_TARGETS: room made above
    }

    /// Forgets everything (the WAN's link or its `dns` servers changed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_dotted(s).unwrap()
    }

    fn resolved(last: u8, ttl_s: u32) -> Resolved {
        Resolved {
            addr: IpAddr::from([203, 0, 113, last]),
            ttl_s,
        }
    }

    fn at(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    #[test]
    fn kept_for_the_ttl() {
        let mut c = Cache::new();
        let n = name("example.test");
        c.put(at(0), &n, resolved(80, 30));
        assert_eq!(c.get(at(29), &n), Some(IpAddr::from([203, 0, 113, 80])));
        assert_eq!(c.get(at(30), &n), None);
        // a TTL of 0 is not cached, and replaces what was there
        c.put(at(1), &n, resolved(81, 0));
        assert_eq!(c.get(at(1), &n), None);
        // a day-long TTL is kept an hour
        c.put(at(0), &n, resolved(82, 86_400));
        assert!(c.get(at(3_599), &n).is_some());
        assert!(c.get(at(3_600), &n).is_none());
        c.clear();
        assert!(c.get(at(0), &n).is_none());
    }

    #[test]
    fn full_cache_drops_what_runs_out_first() {
        let mut c = Cache::new();
        let names: Vec<Name> = (0..=MAX_TARGETS)
            .map(|i| name(&format!("h{i}.test")))
            .collect();
        for (i, n) in names.iter().take(MAX_TARGETS).enumerate() {
            c.put(at(0), n, resolved(i as u8, 100 + i as u32));
        }
        c.put(at(0), &names[MAX_TARGETS], resolved(99, 500));
        assert!(c.get(at(1), &names[0]).is_none(), "shortest TTL made room");
        assert!(c.get(at(1), &names[1]).is_some());
        assert!(c.get(at(1), &names[MAX_TARGETS]).is_some());
    }
}
