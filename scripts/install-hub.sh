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
# Kept in step with install-edge.sh: the two differ only where the roles differ.
set -euo pipefail

PROG=install-hub
ROLE=hub
UNITS=(poskamling-hub.service)
CONFIG_NAME=hub.yaml
BROKER_DROPIN=mosquitto.service.d/poskamling.conf

usage() {
    cat <<EOF
Usage: $0 [options]

Install or update the poskamling $ROLE on this machine (run as root), or into a staging
directory with --root.

Options:
  --root DIR       install below DIR instead of / (default: \$DESTDIR, else /).
                   A venv is not relocatable: build SD-card images by running this
                   script inside the image (chroot), not with --root.
  --no-user        do not create the 'poskamling' user (required with --root);
                   on / its directories are still given to it if it exists
  --no-systemctl   do not call systemctl (no daemon-reload, enable or restart)
  --skip-pip       create the venv but do not pip-install poskamling into it
  --python PATH    Python 3.11+ for the venv (default: \$PYTHON, else python3)
  --source DIR     poskamling source tree (default: this script's repository)
  -h, --help       show this help
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

root=${DESTDIR:-/}
make_user=1
use_systemctl=1
use_pip=1
python=${PYTHON:-python3}
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

while [ $# -gt 0 ]; do
    case $1 in
        --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift 2 ;;
        --root=*) root=${1#*=}; shift ;;
        --no-user) make_user=0; shift ;;
        --no-systemctl) use_systemctl=0; shift ;;
        --skip-pip) use_pip=0; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs a path"; python=$2; shift 2 ;;
        --python=*) python=${1#*=}; shift ;;
        --source) [ $# -ge 2 ] || die "--source needs a directory"; source_dir=$2; shift 2 ;;
        --source=*) source_dir=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done

# ---- checks, before anything is changed ------------------------------------------------

[ -n "$root" ] || root=/
case $root in /*) ;; *) root="$(pwd)/$root" ;; esac
root=${root%/}           # "/" becomes "", "/tmp/r/" becomes "/tmp/r"
staged=0
[ -z "$root" ] || staged=1

if [ "$staged" = 1 ] && [ "$make_user" = 1 ]; then
    die "--root installs files only: add --no-user (create the user on the target system by running this script there)"
fi
if [ "$staged" = 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "must run as root to install into / (try: sudo $0), or stage with --root DIR --no-user"
fi
for needed in "$source_dir/pyproject.toml" "${UNITS[@]/#/$source_dir/systemd/}" "$source_dir/systemd/$BROKER_DROPIN"; do
    [ -f "$needed" ] || die "$needed not found: is --source '$source_dir' a poskamling checkout?"
done
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    found=$("$python" --version 2>&1 | head -n 1 || true)
    die "Python 3.11 or newer is needed for the venv; '$python' says: ${found:-nothing} (use --python PATH)"
fi
if [ "$use_systemctl" = 1 ]; then
    command -v systemctl >/dev/null 2>&1 || die "systemctl not found: use --no-systemctl"
    if [ "$staged" = 0 ] && [ ! -d /run/systemd/system ]; then
        die "systemd is not running on this machine: use --no-systemctl and enable the units later"
    fi
fi

prefix=$root
venv=$prefix/opt/poskamling/venv
changed=0

# install_file SRC DEST MODE: copy when missing or different, so a second run touches nothing.
install_file() {
    local src=$1 dest=$2 mode=$3
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        return 0
    fi
    install -D -m "$mode" "$src" "$dest"
    say "installed ${dest#"$prefix"}"
    changed=1
}

# ensure_dir DIR MODE [OWNER:GROUP]; ownership only on / and once the user exists.
ensure_dir() {
    local dir=$1 mode=$2 owner=${3:-}
    [ -d "$dir" ] || say "created ${dir#"$prefix"}"
    install -d -m "$mode" "$dir"
    if [ -n "$owner" ] && [ "$staged" = 0 ] && getent passwd poskamling >/dev/null; then
        chown "$owner" "$dir"
    fi
}

# ---- service user -----------------------------------------------------------------------

if [ "$make_user" = 1 ]; then
    if ! getent group poskamling >/dev/null; then
        groupadd --system poskamling
        say "created group poskamling"
    fi
    if ! getent passwd poskamling >/dev/null; then
        useradd --system --gid poskamling --home-dir /var/lib/poskamling --no-create-home \
            --shell /usr/sbin/nologin --comment "poskamling $ROLE" poskamling
        say "created user poskamling"
    fi
fi

if [ "$staged" = 0 ] && ! getent passwd poskamling >/dev/null; then
    warn "user 'poskamling' does not exist (--no-user): create it before starting the service, then re-run this script to fix ownership"
fi

# ---- directories --------------------------------------------------------------------------

ensure_dir "$prefix/opt/poskamling" 0755
ensure_dir "$prefix/etc/poskamling" 0750 root:poskamling
ensure_dir "$prefix/var/lib/poskamling" 0750 poskamling:poskamling

# ---- venv and package -------------------------------------------------------------------

if [ ! -x "$venv/bin/python" ]; then
    venv_args=()
    [ "$use_pip" = 1 ] || venv_args+=(--without-pip)
    "$python" -m venv ${venv_args[@]+"${venv_args[@]}"} "$venv" || die "could not create the venv at $venv (apt-get install python3-venv?)"
    say "created venv ${venv#"$prefix"}"
fi
if [ "$use_pip" = 1 ]; then
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        "$venv/bin/python" -m ensurepip --upgrade >/dev/null || die "the venv at $venv has no pip and ensurepip failed"
    fi
    say "pip install $source_dir[$ROLE]"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$source_dir[$ROLE]" \
        || die "pip install failed (see above); the previous installation, if any, is unchanged or partly updated"
    [ -x "$venv/bin/poskamling" ] || die "pip finished but $venv/bin/poskamling is missing"
    changed=1
else
    say "skipping pip install (--skip-pip): $venv has no poskamling package"
fi

# ---- units --------------------------------------------------------------------------------

for unit in "${UNITS[@]}"; do
    install_file "$source_dir/systemd/$unit" "$prefix/etc/systemd/system/$unit" 0644
done
changed_before_broker=$changed
changed=0
install_file "$source_dir/systemd/$BROKER_DROPIN" "$prefix/etc/systemd/system/$BROKER_DROPIN" 0644
broker_changed=$changed
changed=$((changed_before_broker || broker_changed))
if [ "$staged" = 0 ] && ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    warn "mosquitto is not installed: apt-get install mosquitto, then configure it (firmware-config/mosquitto/)"
fi

# ---- systemd ------------------------------------------------------------------------------

config=/etc/poskamling/$CONFIG_NAME
if [ "$use_systemctl" = 0 ]; then
    say "not calling systemctl (--no-systemctl); later: systemctl daemon-reload && systemctl enable ${UNITS[*]}"
elif [ "$staged" = 1 ]; then
    systemctl --root="$root" --quiet enable "${UNITS[@]}"
    say "enabled ${UNITS[*]} in $root"
else
    systemctl daemon-reload
    systemctl --quiet enable "${UNITS[@]}"
    if systemctl --quiet is-active mosquitto.service && [ "$broker_changed" = 1 ]; then
        # The drop-in (restart policy, file limit) only applies from the broker's next start.
        systemctl restart mosquitto.service
        say "restarted mosquitto.service (posts reconnect by themselves)"
    fi
    if [ ! -f "$config" ]; then
        say "enabled ${UNITS[*]}; write $config, then run systemctl start ${UNITS[*]}"
    elif [ "$changed" = 1 ] || ! systemctl --quiet is-active "${UNITS[@]}"; then
        systemctl restart "${UNITS[@]}"
        say "restarted ${UNITS[*]}"
    fi
fi

say "done: $ROLE installed${prefix:+ under $prefix}"
if [ ! -f "$prefix$config" ]; then
    say "next: write the hub's config $config (root:poskamling, mode 0640: it holds secrets)"
fi
