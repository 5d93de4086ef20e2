#![no_main]
// The persisted foreign-route file: any bytes parse to some routes and a skip count, and
// what parses formats back to the same routes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (saved, _skipped) = wanfailover::daemon::state::parse(&text);
    let (again, skipped) =
        wanfailover::daemon::state::parse(&wanfailover::daemon::state::format(&saved));
    assert_eq!(again, saved);
    assert_eq!(skipped, 0);
});
