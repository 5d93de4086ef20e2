//! Real servers in the lab's ISP namespaces, for the check tests: busybox `httpd` with CGI
//! scripts (a 204 endpoint, a captive portal's redirect and login page) and `dnsmasq`
//! answering one test name; nft rules of a test's own.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{wait_for, Lab};

/// Where the servers listen: addresses on the `lo` of every ISP namespace.
pub const WEB: &str = "203.0.113.53";
pub const WEB6: &str = "2001:db8:ff::53";
pub const DNS: &str = "198.51.100.53";
/// The name dnsmasq answers, with `WEB` (and `WEB6`).
pub const NAME: &str = "example.test";
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The servers these tests run (scripts/setup.sh installs them).
pub const SERVERS: &[&str] = &["busybox", "dnsmasq"];

/// A server process in an ISP namespace, killed on drop (also when a test fails).
pub struct Server(Option<Child>);

impl Server {
    /// Starts `args` in ISP `isp` and waits until something listens on `local` there.
    pub fn spawn(lab: &Lab, isp: u32, args: &[&str], local: &str) -> Server {
        let ns = lab.isp_ns(isp);
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let server = Server(Some(child));
        let up = wait_for(Duration::from_secs(15), || {
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "ss", "-Hln", "src", local])
                .output()
                .expect("run ss");
            !out.stdout.is_empty()
        });
        assert!(up, "{args:?} is not listening in {ns}");
        server
    }

    /// busybox httpd serving `root` on port 80 of `addr`.
    pub fn web(lab: &Lab, isp: u32, root: &Path, addr: &str) -> Server {
        let listen = match ip(addr) {
            IpAddr::V6(a) => format!("[{a}]:80"),
            IpAddr::V4(a) => format!("{a}:80"),
        };
        let root = root.to_str().unwrap();
        let args = ["busybox", "httpd", "-f", "-p", &listen, "-h", root];
        Server::spawn(lab, isp, &args, &listen)
    }

    /// dnsmasq answering `NAME` (`WEB`, `WEB6`) and nothing else, on port 53 of `DNS` and
    /// the `extra` addresses.
    pub fn dns(lab: &Lab, isp: u32, dir: &Path, extra: &[&str]) -> Server {
        let pidfile = format!(
            "--pid-file={}/dnsmasq-{}.pid",
            dir.display(),
            lab.isp_ns(isp)
        );
        let mut args = vec![
            "dnsmasq".to_string(),
            "--keep-in-foreground".into(),
            "--conf-file=/dev/null".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            format!("--address=/{NAME}/{WEB}"),
            format!("--address=/{NAME}/{WEB6}"),
            "--bind-interfaces".into(),
            pidfile,
        ];
        for addr in [DNS].iter().chain(extra) {
            args.push(format!("--listen-address={addr}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::spawn(lab, isp, &args, &format!("{DNS}:53"))
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A document root: CGI scripts for a 204 endpoint, a captive portal's redirect and its
/// login page, and a static page with NetworkManager's text.
pub fn docroot(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("www");
    let cgi = root.join("cgi-bin");
    std::fs::create_dir_all(&cgi).unwrap();
    let scripts = [
        ("generate_204", r"Status: 204 No Content\r\n\r\n"),
        (
            "portal",
            r"Status: 302 Found\r\nLocation: http://192.0.2.1/login\r\n\r\n",
        ),
        (
            "login",
            r"Content-Type: text/html\r\n\r\n<html><title>Hotel WiFi login</title></html>\n",
        ),
    ];
    for (name, reply) in scripts {
        let path = cgi.join(name);
        std::fs::write(&path, format!("#!/bin/sh\nprintf '{reply}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(root.join("online.txt"), "NetworkManager is online\n").unwrap();
    root
}

/// Runs nft commands in ISP `isp` from a file (one table of our own, apart from lab.sh's).
pub fn nft(lab: &Lab, isp: u32, dir: &Path, rules: &str) {
    let file = dir.join(format!("nft-{isp}.conf"));
    std::fs::write(&file, rules).unwrap();
    let ok = Command::new("ip")
        .args(["netns", "exec", &lab.isp_ns(isp), "nft", "-f"])
        .arg(&file)
        .status()
        .unwrap()
        .success();
    assert!(ok, "nft -f {rules}");
}
