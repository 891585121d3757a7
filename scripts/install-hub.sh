#!/usr/bin/env bash
# Install or update the poskamling hub at the police sector (Debian / Raspberry Pi OS).
#
#   sudo scripts/install-hub.sh                  install on this server
#   scripts/install-hub.sh --root /tmp/r --no-user --no-systemctl --skip-pip     CI / tests
#
# Idempotent: a second run changes nothing on disk, except that pip reinstalls the package
# from the source tree (that is how an update after `git pull` arrives).
# Layout: venv /opt/poskamling/venv, config /etc/poskamling, data /var/lib/poskamling,
# units /etc/systemd/system/poskamling-hub.service and the mosquitto.service drop-in
# /etc/systemd/system/mosquitto.service.d/poskamling.conf, service user `poskamling`.
# The broker itself (apt-get install mosquitto) and its configuration (firmware-config/mosquitto/)
# are set up separately.
# The steps shared with install-edge.sh are in lib/install-common.sh; this file holds only
# what is particular to the hub (see the hooks listed there).
set -euo pipefail

PROG=install-hub
ROLE=hub
UNITS=(poskamling-hub.service)
CONFIG_NAME=hub.yaml
BROKER_DROPIN=mosquitto.service.d/poskamling.conf
broker_changed=0

role_checks() {
    require_source_file "$source_dir/systemd/$BROKER_DROPIN"
}

# The broker's drop-in, installed after the unit.
role_extra_files() {
    install_file "$source_dir/systemd/$BROKER_DROPIN" "$prefix/etc/systemd/system/$BROKER_DROPIN" 0644
    broker_changed=$file_changed
    if [ "$staged" = 0 ] && ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
        warn "mosquitto is not installed: apt-get install mosquitto, then configure it (firmware-config/mosquitto/)"
    fi
}

role_after_enable() {
    if systemctl --quiet is-active mosquitto.service && [ "$broker_changed" = 1 ]; then
        # The drop-in (restart policy, file limit) only applies from the broker's next start.
        systemctl restart mosquitto.service
        say "restarted mosquitto.service (posts reconnect by themselves)"
    fi
}

role_say_start() {
    say "enabled ${UNITS[*]}; write $config, then run systemctl start ${UNITS[*]}"
}

role_next_steps() {
    say "next: write the hub's config $config (root:poskamling, mode 0640: it holds secrets)"
}

installer_dir=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
[ -f "$installer_dir/lib/install-common.sh" ] \
    || { printf '%s: error: %s not found: keep scripts/lib next to this script\n' "$PROG" "$installer_dir/lib/install-common.sh" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/lib/install-common.sh
. "$installer_dir/lib/install-common.sh"
install_main "$@"
