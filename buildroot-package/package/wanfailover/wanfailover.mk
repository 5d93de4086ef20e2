################################################################################
#
# wanfailover
#
################################################################################

# The release tag. Buildroot clones it, vendors the crates locked in Cargo.lock
# (cargo vendor --locked) and hashes the resulting tarball: update
# wanfailover.hash together with this line.
WANFAILOVER_VERSION = v0.1.0
WANFAILOVER_SITE = https://github.com/wanfailover/wanfailover.git
WANFAILOVER_SITE_METHOD = git
WANFAILOVER_LICENSE = MIT or Apache-2.0
WANFAILOVER_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE
WANFAILOVER_CPE_ID_VENDOR = wanfailover

# The cargo infrastructure replaces the crate's release profile with the
# global optimisation settings (opt-level from BR2_OPTIMIZE_*, LTO only with
# BR2_ENABLE_LTO, 16 codegen units). Put the crate's own size profile back:
# the binary then stays within its size budget (600 KiB aarch64, 900 KiB
# armv7). <PKG>_CARGO_ENV comes last in the environment, so it wins.
WANFAILOVER_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL="z" \
	CARGO_PROFILE_RELEASE_LTO="true" \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS="1"

WANFAILOVER_CONFIG_FILE = $(call qstrip,$(BR2_PACKAGE_WANFAILOVER_CONFIG_FILE))

define WANFAILOVER_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 \
		$(if $(WANFAILOVER_CONFIG_FILE),$(WANFAILOVER_CONFIG_FILE),$(@D)/etc/wanfailover.conf) \
		$(TARGET_DIR)/etc/wanfailover.conf
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/wanfailover.d
endef
WANFAILOVER_POST_INSTALL_TARGET_HOOKS += WANFAILOVER_INSTALL_CONFIG

# S50: after S40network and the DHCP clients (S41dhcpcd), like other network
# daemons. Stopped in reverse order, i.e. before the network goes down, so it
# can hand the default routes back.
define WANFAILOVER_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(WANFAILOVER_PKGDIR)/S50wanfailover \
		$(TARGET_DIR)/etc/init.d/S50wanfailover
endef

define WANFAILOVER_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/dist/wanfailover.service \
		$(TARGET_DIR)/usr/lib/systemd/system/wanfailover.service
endef

$(eval $(cargo-package))
