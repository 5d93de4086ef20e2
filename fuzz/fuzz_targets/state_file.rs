#![no_main]
// The persisted state file: any bytes parse to some routes and settings with skip counts,
// and what parses formats back to the same routes and settings.
use wanfailover::daemon::state;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (saved, _skipped) = state::parse(&text);
    let (sysctls, _skipped) = state::parse_sysctls(&text);
    let formatted = state::format_all(&saved, &sysctls);
    let (again, skipped) = state::parse(&formatted);
    assert_eq!(again, saved);
    assert_eq!(skipped, 0);
    assert_eq!(state::parse_sysctls(&formatted), (sysctls, 0));
});
