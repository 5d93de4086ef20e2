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
# What the binary links: this crate (MIT or Apache-2.0) and, from Cargo.lock for the target
# (cargo tree -e normal,no-proc-macro), neli (BSD-3-Clause, its notice must ship), lexopt,
# memoffset and nix (MIT), byteorder (Unlicense or MIT) and crates under MIT or
# Apache-2.0. Build-time proc-macros are not linked. The license files of the crates that
# are not MIT or Apache-2.0 at our choice are recorded here, so they ship with the image's
# license manifest; scripts/check-packaging.sh checks these paths against Cargo.lock.
LICENSE = "(MIT | Apache-2.0) & BSD-3-Clause & MIT & (Unlicense | MIT)"
LIC_FILES_CHKSUM = "file://LICENSE-MIT;md5=c2c51c510eab682abc1c93068f63fcf2 \
                    file://LICENSE-APACHE;md5=3b83ef96387f14655fc854ddc3c6bd57 \
                    file://${CARGO_VENDORING_DIRECTORY}/neli-0.7.5/LICENSE;md5=f4b2294d123ea55d8e9a3ab48a7751c0 \
                    file://${CARGO_VENDORING_DIRECTORY}/lexopt-0.3.2/LICENSE;md5=b8e97d3bdc0d12b1a2528d5a52417f25 \
                    file://${CARGO_VENDORING_DIRECTORY}/memoffset-0.9.1/LICENSE;md5=a1574130be3735fa47b2ac6ee6dba590 \
                    file://${CARGO_VENDORING_DIRECTORY}/nix-0.29.0/LICENSE;md5=c3daafddcb5c838aa721e37010f5dca1"

# The release tarball: `git archive` of the tag v${PV} (scripts/release.sh makes it and
# writes its sha256 here; the packaging directories are not in it, so it cannot contain its
# own sum). It unpacks to ${BP}/, the default S on every series (${WORKDIR}/${BP} on
# scarthgap, ${UNPACKDIR}/${BP} from whinlatter on). To build from a checkout instead, see
# "Building from a checkout" in the layer's README (externalsrc).
SRC_URI = "https://github.com/wanfailover/wanfailover/releases/download/v${PV}/${BP}.tar.gz"
SRC_URI[sha256sum] = "028b8564007b65c55dd6a451d2c866bfa1d7afcb366acf4bcd6d5a4827ecc5db"

require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates systemd update-rc.d

# Optional parts (Cargo features, DESIGN.md §12), all on by default like Cargo's own
# default. Without any of them the binary is the failover daemon alone. `balance` turns
# `routing` on by itself (the Cargo feature requires it).
PACKAGECONFIG ??= "snmp watch metrics checks routing balance"
PACKAGECONFIG[snmp] = "--features snmp"
PACKAGECONFIG[watch] = "--features watch"
PACKAGECONFIG[metrics] = "--features metrics"
PACKAGECONFIG[checks] = "--features checks"
PACKAGECONFIG[routing] = "--features routing"
PACKAGECONFIG[balance] = "--features balance"
CARGO_BUILD_FLAGS:append = " --no-default-features"

# `socket_group` in wanfailover.conf names the group whose members may use the control
# socket; the group must exist. Set WANFAILOVER_SOCKET_GROUP (local.conf or a .bbappend):
# the package then creates it as a system group and turns `socket_group` on in the
# example configuration it installs.
WANFAILOVER_SOCKET_GROUP ??= ""
inherit_defer ${@'useradd' if d.getVar('WANFAILOVER_SOCKET_GROUP') else ''}
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system ${WANFAILOVER_SOCKET_GROUP}"

# The release profile in Cargo.toml strips the binary. Keep the symbols (and line tables) in
# the build instead, so that do_package splits them into ${PN}-dbg and strips ${PN} itself:
# the image gets the same small binary, and crash addresses stay decodable. This also keeps
# the "already-stripped" QA check meaningful instead of skipping it.
export CARGO_PROFILE_RELEASE_STRIP = "false"
export CARGO_PROFILE_RELEASE_DEBUG = "1"

do_install:append() {
    install -D -m 0644 ${S}/etc/wanfailover.conf ${D}${sysconfdir}/wanfailover.conf
    if [ -n "${WANFAILOVER_SOCKET_GROUP}" ]; then
        sed -i -e 's,^# *socket_group = .*,socket_group = "${WANFAILOVER_SOCKET_GROUP}",' \
            ${D}${sysconfdir}/wanfailover.conf
    fi
    install -d -m 0755 ${D}${sysconfdir}/wanfailover.d

    if ${@bb.utils.contains('PACKAGECONFIG', 'snmp', 'true', 'false', d)}; then
        install -D -m 0644 ${S}/mibs/WANFAILOVER-MIB.txt \
            ${D}${datadir}/snmp/mibs/WANFAILOVER-MIB.txt
    fi

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
