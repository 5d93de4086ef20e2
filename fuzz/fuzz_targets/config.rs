#![no_main]
//! Arbitrary bytes as a configuration file: `parse` must return, never panic, and an
//! accepted configuration must hold the invariants the engine relies on.

use wanfailover::config::{self, FamilySet, MAX_TARGETS, MAX_WANS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The daemon reads files as UTF-8 and rejects anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text, "fuzz.conf") {
        Ok(config) => {
            assert!(!config.wans.is_empty() && config.wans.len() <= MAX_WANS);
            assert!(config.degraded_penalty < config.down_penalty);
            for wan in &config.wans {
                let p = &wan.probe;
                assert!(!p.targets.is_empty() && p.targets.len() <= MAX_TARGETS);
                assert!(p.timeout <= p.interval && p.reliability >= 1);
                let priority = wan.priority.fixed().unwrap_or(config::MAX_PRIORITY);
                assert!(priority.checked_add(config.down_penalty).is_some());
                if wan.family == FamilySet::Ipv4 {
                    assert!(p.targets.iter().all(|t| t.is_ipv4()));
                }
                let _ = wan.summary();
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            let _ = errors.to_string();
        }
    }
});
