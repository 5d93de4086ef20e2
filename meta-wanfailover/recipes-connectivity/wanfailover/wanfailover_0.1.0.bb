SUMMARY = "WAN failover daemon for embedded Linux gateways"
DESCRIPTION = "wanfailover watches several WAN links (rtnetlink link events, ICMP \
               probes through each WAN), runs a state machine with hysteresis per WAN \
               and ranks their default routes by rewriting route metrics, so the best \
               healthy WAN always carries the traffic. Foreign default routes are \
               restored on exit."
HOMEPAGE = "https://github.com/wanfailover/wanfailover"
BUGTRACKER = "https://github.com/wanfailover/wanfailover/issues"
SECTION = "net"
CVE_PRODUCT = "wanfailover"
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE-MIT;md5=c2c51c510eab682abc1c93068f63fcf2 \
                    file://LICENSE-APACHE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# destsuffix=${BP} with the default S unpacks to the same place on every series:
# ${WORKDIR}/${BP} on scarthgap, ${UNPACKDIR}/${BP} from whinlatter on.
SRC_URI = "git://github.com/wanfailover/wanfailover.git;protocol=https;branch=main;destsuffix=${BP}"
# The commit of the release tag v${PV}. Integrators pin the commit they ship (and regenerate
# wanfailover-crates.inc with `bitbake -c update_crates wanfailover` when Cargo.lock changed).
SRCREV = "0000000000000000000000000000000000000000"

require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates systemd update-rc.d

# The release profile in Cargo.toml strips the binary. Keep the symbols (and line tables) in
# the build instead, so that do_package splits them into ${PN}-dbg and strips ${PN} itself:
# the image gets the same small binary, and crash addresses stay decodable. This also keeps
# the "already-stripped" QA check meaningful instead of skipping it.
export CARGO_PROFILE_RELEASE_STRIP = "false"
export CARGO_PROFILE_RELEASE_DEBUG = "1"

do_install:append() {
    install -D -m 0644 ${S}/etc/wanfailover.conf ${D}${sysconfdir}/wanfailover.conf
    install -d -m 0755 ${D}${sysconfdir}/wanfailover.d

    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -D -m 0644 ${S}/dist/wanfailover.service \
            ${D}${systemd_system_unitdir}/wanfailover.service
        sed -i -e 's,/usr/bin/,${bindir}/,g' -e 's,/etc/,${sysconfdir}/,g' \
            ${D}${systemd_system_unitdir}/wanfailover.service
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -D -m 0755 ${S}/dist/wanfailover.init ${D}${sysconfdir}/init.d/wanfailover
        sed -i -e 's,/usr/bin/,${bindir}/,g' -e 's,/etc/,${sysconfdir}/,g' \
            ${D}${sysconfdir}/init.d/wanfailover
    fi
}

CONFFILES:${PN} = "${sysconfdir}/wanfailover.conf"

SYSTEMD_SERVICE:${PN} = "wanfailover.service"

INITSCRIPT_NAME = "wanfailover"
# After networking (S01 in rc2-5), stopped before it (K80 in rc0/6) so the daemon can hand
# the default routes back while the interfaces still exist.
INITSCRIPT_PARAMS = "start 50 2 3 4 5 . stop 20 0 1 6 ."
