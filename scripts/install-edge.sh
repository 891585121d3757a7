#!/usr/bin/env bash
# Install or update the poskamling edge agent on a Raspberry Pi (Raspberry Pi OS / Debian).
#
#   sudo scripts/install-edge.sh                 install on this Pi
#   scripts/install-edge.sh --root /tmp/r --no-user --no-systemctl --skip-pip    CI / tests
#
# Idempotent: a second run changes nothing on disk, except that pip reinstalls the package
# from the source tree (that is how an update after `git pull` arrives).
# Layout: venv /opt/poskamling/venv, config /etc/poskamling, data /var/lib/poskamling,
# unit /etc/systemd/system/poskamling-edge.service, service user `poskamling`.
# The steps shared with install-hub.sh are in lib/install-common.sh; this file holds only
# what is particular to the edge (see the hooks listed there).
set -euo pipefail

PROG=install-edge
ROLE=edge
UNITS=(poskamling-edge.service)
CONFIG_NAME=edge.yaml
PIP_NOTE=" (this takes a while on a Pi)"
EXTRA_GROUPS=(gpio video)

# The unit's SupplementaryGroups=: GPIO and the cameras.
role_user_setup() {
    local group
    for group in "${EXTRA_GROUPS[@]}"; do
        if ! getent group "$group" >/dev/null; then
            warn "group '$group' does not exist here (it does on Raspberry Pi OS); the unit's SupplementaryGroups= will fail until it does"
        elif ! id -nG poskamling | tr ' ' '\n' | grep -qx "$group"; then
            usermod --append --groups "$group" poskamling
            say "added poskamling to group $group"
        fi
    done
}

role_dirs() {
    ensure_dir "$prefix/etc/poskamling/examples" 0750 root:poskamling
}

role_venv_args() {
    # System site packages: gpiozero's pin backend comes from apt (python3-lgpio), because
    # building lgpio from PyPI needs swig and the C library.
    venv_args+=(--system-site-packages)
}

role_after_pip() {
    if [ -r /proc/device-tree/model ] && grep -qa "Raspberry Pi" /proc/device-tree/model \
        && ! "$venv/bin/python" -c 'import lgpio' 2>/dev/null; then
        warn "lgpio is not importable: gpiozero will fall back to slower pin backends; apt-get install python3-lgpio"
    fi
}

# Config examples, installed before the unit.
role_config_files() {
    local example
    for example in "$source_dir"/firmware-config/edge-*.yaml; do
        [ -f "$example" ] || continue
        install_file "$example" "$prefix/etc/poskamling/examples/$(basename "$example")" 0640
    done
}

role_say_start() {
    say "enabled ${UNITS[*]}; it starts once $config exists (written by 'poskamling device add' on the hub): then run systemctl start ${UNITS[*]}"
}

role_next_steps() {
    say "next: put the post's config at $config (root:poskamling, mode 0640; examples in /etc/poskamling/examples),"
    say "      check it with: sudo -u poskamling /opt/poskamling/venv/bin/poskamling edge doctor --config $config"
}

installer_dir=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
[ -f "$installer_dir/lib/install-common.sh" ] \
    || { printf '%s: error: %s not found: keep scripts/lib next to this script\n' "$PROG" "$installer_dir/lib/install-common.sh" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/lib/install-common.sh
. "$installer_dir/lib/install-common.sh"
install_main "$@"
