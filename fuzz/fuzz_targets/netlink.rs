#![no_main]
//! Arbitrary bytes as a kernel datagram: the rtnetlink parser, then the kernel view fed
//! with whatever parsed (framed as a dump when the first byte says so).

use wanfailover::sys::netlink::message::DumpKind;
use wanfailover::sys::netlink::{parse_messages, Event, Source, View};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mode = data.first().copied().unwrap_or(0);
    let kind = match mode % 3 {
        0 => DumpKind::Links,
        1 => DumpKind::Addrs,
        _ => DumpKind::Routes,
    };
    let dump = mode & 0x80 != 0;
    let source = if dump {
        Source::Dump(kind)
    } else {
        Source::Notify
    };
    let mut view = View::new();
    let mut changes = Vec::new();
    // A view that already knows something, so deletions and sweeps have work to do.
    for round in 0..2 {
        if dump {
            view.apply(&Event::DumpStarted { kind, seq: round }, &mut changes);
        }
        for msg in parse_messages(data).flatten() {
            view.apply(&Event::Message { source, msg }, &mut changes);
        }
        if dump {
            let complete = mode & 0x40 != 0 || round == 1;
            view.apply(
                &Event::DumpDone {
                    kind,
                    seq: round,
                    complete,
                },
                &mut changes,
            );
        }
    }
    for link in view.links() {
        let _ = view.default_routes(link.ifindex, wanfailover::engine::Family::V4);
        let _ = view.link_by_name(&link.name);
    }
});
