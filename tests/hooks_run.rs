//! Hooks as real processes: shell scripts in a temporary directory that record what they
//! were given. Real time, short and bounded waits.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use wanfailover::engine::wan::State;
use wanfailover::engine::Instant;
use wanfailover::engine::{Family, HookKind};
use wanfailover::hooks::{HookEvent, Hooks, MAX_QUEUED};

/// Tests here run one at a time: a script written by one test while another test forks
/// could fail to exec with ETXTBSY (the forked child briefly holds the write descriptor).
static SERIAL: Mutex<()> = Mutex::new(());

struct Dir {
    path: PathBuf,
    start: std::time::Instant,
    _serial: MutexGuard<'static, ()>,
}

impl Dir {
    fn new(tag: &str) -> Dir {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let path = std::env::temp_dir().join(format!("wf-hooks-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("d")).unwrap();
        Dir {
            path,
            start: std::time::Instant::now(),
            _serial: serial,
        }
    }

    fn hooks_dir(&self) -> PathBuf {
        self.path.join("d")
    }

    fn log(&self) -> PathBuf {
        self.path.join("log")
    }

    /// A `/bin/sh` hook with this body and mode.
    fn script(&self, name: &str, body: &str, mode: u32) {
        let file = self.hooks_dir().join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A hook that appends one line with its name, arguments and environment to the log.
    fn recorder(&self, name: &str, mode: u32) {
        let line = format!(
            "echo \"{name} $# $1 $2 name=$WAN_NAME if=$WAN_INTERFACE state=$WAN_STATE \
             prev=$WAN_PREVIOUS_STATE active=[$WAN_ACTIVE] event=$WAN_EVENT \
             family=[$WAN_FAMILY] conn=${{WAN_CONNECTIVITY-unset}} home=[$HOME]\" >> {}",
            self.log().display()
        );
        self.script(name, &line, mode);
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// Reaps until every hook has run (bounded).
    fn drain(&self, hooks: &mut Hooks) {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !hooks.is_idle() {
            assert!(std::time::Instant::now() < until, "hooks never finished");
            std::thread::sleep(Duration::from_millis(5));
            hooks.reap(self.now());
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn event(wan: &str, state: State) -> HookEvent {
    HookEvent {
        wan: wan.into(),
        interface: "wwan0".into(),
        kind: HookKind::Transition,
        family: None,
        state,
        previous: State::Up,
        active: String::new(),
    }
}

/// Whether the process is gone (or a zombie nobody has reaped yet: it runs no more).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

#[test]
fn hooks_run_in_name_order_with_arguments_and_environment() {
    let dir = Dir::new("order");
    dir.recorder("20-second", 0o755);
    dir.recorder("10-first", 0o700);
    dir.recorder("15-not-executable", 0o644);
    dir.recorder(".hidden", 0o755);
    dir.recorder("10-first~", 0o755);
    dir.recorder("10-first.dpkg-old", 0o755);
    dir.recorder("10-first.rpmnew", 0o755);
    dir.recorder("30-world-writable", 0o777);
    std::fs::create_dir(dir.hooks_dir().join("05-a-directory")).unwrap();
    let mut hooks = Hooks::new(dir.hooks_dir(), Duration::from_secs(5));
    hooks.queue(dir.now(), event("lte", State::Down));
    let mut switch = event("fiber", State::Up);
    switch.kind = HookKind::Switch;
    switch.family = Some(Family::V6);
    switch.active = "fiber".into();
    hooks.queue(dir.now(), switch);
    let mut lost = event("lte", State::Down);
    lost.kind = HookKind::Connectivity;
    hooks.queue(dir.now(), lost);
    dir.drain(&mut hooks);
    let tail =
        "if=wwan0 state=down prev=up active=[] event=transition family=[] conn=unset home=[]";
    let tail2 =
        "if=wwan0 state=up prev=up active=[fiber] event=switch family=[ipv6] conn=unset home=[]";
    let tail3 =
        "if=wwan0 state=down prev=up active=[] event=connectivity family=[] conn=none home=[]";
    assert_eq!(
        dir.lines(),
        [
            format!("10-first 2 lte transition name=lte {tail}"),
            format!("20-second 2 lte transition name=lte {tail}"),
            format!("10-first 2 fiber switch name=fiber {tail2}"),
            format!("20-second 2 fiber switch name=fiber {tail2}"),
            format!("10-first 2 lte connectivity name=lte {tail3}"),
            format!("20-second 2 lte connectivity name=lte {tail3}"),
        ]
    );
}

#[test]
fn a_failing_hook_does_not_stop_the_next() {
    let dir = Dir::new("failing");
    dir.script("10-fails", "exit 3", 0o755);
    dir.script("15-dies", "kill -TERM $$", 0o755);
    dir.script("17-bad-interpreter", "", 0o755);
    std::fs::write(
        dir.hooks_dir().join("17-bad-interpreter"),
        "#!/nonexistent/sh\n",
    )
    .unwrap();
    dir.recorder("20-runs", 0o755);
    let mut hooks = Hooks::new(dir.hooks_dir(), Duration::from_secs(5));
    hooks.queue(dir.now(), event("lte", State::Down));
    dir.drain(&mut hooks);
    assert_eq!(dir.lines().len(), 1);
    assert!(dir.lines()[0].starts_with("20-runs 2 lte transition"));
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_its_children() {
    let dir = Dir::new("timeout");
    let pids = dir.path.join("pids");
    let body = format!(
        "echo $$ > {0}\nsleep 30 &\necho $! >> {0}\nwait",
        pids.display()
    );
    dir.script("10-hangs", &body, 0o755);
    dir.recorder("20-after", 0o755);
    let mut hooks = Hooks::new(dir.hooks_dir(), Duration::from_millis(200));
    let started = std::time::Instant::now();
    hooks.queue(dir.now(), event("lte", State::Down));
    let deadline = hooks.poll_at().expect("a deadline for the running hook");
    assert!(deadline <= dir.now() + Duration::from_millis(200));
    dir.drain(&mut hooks);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "killed long before sleep 30 ends"
    );
    assert_eq!(dir.lines().len(), 1, "the next hook still ran");
    let pids = std::fs::read_to_string(pids).unwrap();
    let pids: Vec<&str> = pids.lines().collect();
    assert_eq!(pids.len(), 2, "shell and sleep started");
    hooks.reap(dir.now());
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while !pids.iter().all(|p| is_gone(p)) {
        assert!(
            std::time::Instant::now() < until,
            "hook processes survive: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
        hooks.reap(dir.now());
    }
}

#[test]
fn a_full_queue_drops_the_oldest_waiting_event() {
    let dir = Dir::new("overflow");
    let body = format!("echo $WAN_NAME >> {}", dir.log().display());
    dir.script("10-record", &body, 0o755);
    let mut hooks = Hooks::new(dir.hooks_dir(), Duration::from_secs(5));
    let total = MAX_QUEUED + 6;
    // Event 0 starts at once; 1..=69 wait, and 64 fit: 1..=5 are dropped.
    for i in 0..total {
        hooks.queue(dir.now(), event(&i.to_string(), State::Down));
    }
    dir.drain(&mut hooks);
    let expected: Vec<String> = std::iter::once(0)
        .chain(6..total)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(dir.lines(), expected);
}

#[test]
fn hooks_added_at_run_time_are_seen() {
    let dir = Dir::new("added");
    let mut hooks = Hooks::new(dir.hooks_dir(), Duration::from_secs(5));
    hooks.queue(dir.now(), event("lte", State::Down));
    dir.drain(&mut hooks);
    dir.recorder("10-new", 0o755);
    hooks.queue(dir.now(), event("lte", State::Up));
    dir.drain(&mut hooks);
    assert_eq!(dir.lines().len(), 1);
}

#[test]
fn kill_all_stops_the_running_hook_and_forgets_the_queue() {
    let dir = Dir::new("killall");
    let pids = dir.path.join("pids");
    dir.script(
        "10-hangs",
        &format!("echo $$ > {}\nexec sleep 30", pids.display()),
        0o755,
    );
    let mut hooks = Hooks::new(dir.hooks_dir(), Duration::from_secs(60));
    hooks.queue(dir.now(), event("lte", State::Down));
    hooks.queue(dir.now(), event("lte", State::Up));
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&pids)
        .map(|p| p.trim().is_empty())
        .unwrap_or(true)
    {
        assert!(std::time::Instant::now() < until, "hook never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    hooks.kill_all();
    assert!(hooks.is_idle());
    let pid = std::fs::read_to_string(&pids).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while !is_gone(&pid) {
        assert!(std::time::Instant::now() < until, "hook survives kill_all");
        std::thread::sleep(Duration::from_millis(10));
        hooks.reap(dir.now());
    }
}

#[test]
fn missing_directory_means_no_hooks() {
    let mut hooks = Hooks::new(
        Path::new("/nonexistent/wf-hooks").into(),
        Duration::from_secs(1),
    );
    hooks.queue(Instant::ZERO, event("lte", State::Down));
    assert!(hooks.is_idle());
}
