################################################################################
#
# wanfailover
#
################################################################################

# The tag v$(WANFAILOVER_VERSION), fetched as GitHub's archive of it like Buildroot's own
# cargo packages. The download post-process vendors the crates locked in Cargo.lock and
# repacks: the tarball Buildroot hashes is wanfailover-$(WANFAILOVER_VERSION)-cargoN.tar.gz,
# N the vendoring format of the Buildroot release (see wanfailover.hash).
WANFAILOVER_VERSION = 0.1.1
WANFAILOVER_SITE = $(call github,wanfailover,wanfailover,v$(WANFAILOVER_VERSION))
# What the binary links (cargo tree -e normal,no-proc-macro): this crate, neli
# (BSD-3-Clause), lexopt, memoffset and nix (MIT), byteorder (Unlicense or MIT),
# the rest MIT or Apache-2.0.
WANFAILOVER_LICENSE = Apache-2.0 or MIT, BSD-3-Clause (neli), MIT (lexopt, memoffset, nix), Unlicense or MIT (byteorder)
WANFAILOVER_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT \
	VENDOR/neli/LICENSE \
	VENDOR/lexopt/LICENSE \
	VENDOR/memoffset/LICENSE \
	VENDOR/nix/LICENSE
WANFAILOVER_CPE_ID_VENDOR = wanfailover

# Optional parts (Cargo features, all on by default in Cargo.toml): build exactly the
# ones selected in Config.in.
WANFAILOVER_FEATURES = \
	$(if $(BR2_PACKAGE_WANFAILOVER_SNMP),snmp) \
	$(if $(BR2_PACKAGE_WANFAILOVER_WATCH),watch) \
	$(if $(BR2_PACKAGE_WANFAILOVER_METRICS),metrics) \
	$(if $(BR2_PACKAGE_WANFAILOVER_CHECKS),checks) \
	$(if $(BR2_PACKAGE_WANFAILOVER_ROUTING),routing) \
	$(if $(BR2_PACKAGE_WANFAILOVER_BALANCE),balance)
WANFAILOVER_CARGO_FEATURE_OPTS = --no-default-features \
	$(if $(strip $(WANFAILOVER_FEATURES)),--features $(subst $(space),$(comma),$(strip $(WANFAILOVER_FEATURES))))
WANFAILOVER_CARGO_BUILD_OPTS = $(WANFAILOVER_CARGO_FEATURE_OPTS)
WANFAILOVER_CARGO_INSTALL_OPTS = $(WANFAILOVER_CARGO_FEATURE_OPTS)

# No WANFAILOVER_CARGO_ENV: the binary is built with Buildroot's profile (opt-level from
# BR2_OPTIMIZE_*, LTO with BR2_ENABLE_LTO, 16 codegen units) like every cargo package.
# Cargo.toml's release profile keeps what Buildroot does not set (panic = "abort").
# For the smallest binary choose BR2_OPTIMIZE_S and BR2_ENABLE_LTO; docs/packaging.md
# gives the sizes of both.

WANFAILOVER_SOCKET_GROUP = $(call qstrip,$(BR2_PACKAGE_WANFAILOVER_SOCKET_GROUP))
ifneq ($(WANFAILOVER_SOCKET_GROUP),)
define WANFAILOVER_USERS
	- - $(WANFAILOVER_SOCKET_GROUP) -1 * - - - wanfailover control socket
endef
endif

WANFAILOVER_CONFIG_FILE = $(call qstrip,$(BR2_PACKAGE_WANFAILOVER_CONFIG_FILE))

ifeq ($(WANFAILOVER_CONFIG_FILE),)
# The example configuration, with socket_group turned on when a group is configured.
define WANFAILOVER_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/etc/wanfailover.conf $(TARGET_DIR)/etc/wanfailover.conf
	$(if $(WANFAILOVER_SOCKET_GROUP),$(SED) 's,^# *socket_group = .*,socket_group = "$(WANFAILOVER_SOCKET_GROUP)",' \
		$(TARGET_DIR)/etc/wanfailover.conf)
endef
else
define WANFAILOVER_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(WANFAILOVER_CONFIG_FILE) $(TARGET_DIR)/etc/wanfailover.conf
endef
endif
WANFAILOVER_POST_INSTALL_TARGET_HOOKS += WANFAILOVER_INSTALL_CONFIG

define WANFAILOVER_INSTALL_HOOKS_DIR
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/wanfailover.d
endef
WANFAILOVER_POST_INSTALL_TARGET_HOOKS += WANFAILOVER_INSTALL_HOOKS_DIR

ifeq ($(BR2_PACKAGE_WANFAILOVER_SNMP),y)
define WANFAILOVER_INSTALL_MIB
	$(INSTALL) -D -m 0644 $(@D)/mibs/WANFAILOVER-MIB.txt \
		$(TARGET_DIR)/usr/share/snmp/mibs/WANFAILOVER-MIB.txt
endef
WANFAILOVER_POST_INSTALL_TARGET_HOOKS += WANFAILOVER_INSTALL_MIB
endif

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
