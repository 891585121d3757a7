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
set -euo pipefail

PROG=install-edge
ROLE=edge
UNITS=(poskamling-edge.service)
CONFIG_NAME=edge.yaml
EXTRA_GROUPS=(gpio video)

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
for needed in "$source_dir/pyproject.toml" "${UNITS[@]/#/$source_dir/systemd/}"; do
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
    for group in "${EXTRA_GROUPS[@]}"; do
        if ! getent group "$group" >/dev/null; then
            warn "group '$group' does not exist here (it does on Raspberry Pi OS); the unit's SupplementaryGroups= will fail until it does"
        elif ! id -nG poskamling | tr ' ' '\n' | grep -qx "$group"; then
            usermod --append --groups "$group" poskamling
            say "added poskamling to group $group"
        fi
    done
fi

if [ "$staged" = 0 ] && ! getent passwd poskamling >/dev/null; then
    warn "user 'poskamling' does not exist (--no-user): create it before starting the service, then re-run this script to fix ownership"
fi

# ---- directories --------------------------------------------------------------------------

ensure_dir "$prefix/opt/poskamling" 0755
ensure_dir "$prefix/etc/poskamling" 0750 root:poskamling
ensure_dir "$prefix/etc/poskamling/examples" 0750 root:poskamling
ensure_dir "$prefix/var/lib/poskamling" 0750 poskamling:poskamling

# ---- venv and package -------------------------------------------------------------------

if [ ! -x "$venv/bin/python" ]; then
    # System site packages: gpiozero's pin backend comes from apt (python3-lgpio), because
    # building lgpio from PyPI needs swig and the C library.
    venv_args=(--system-site-packages)
    [ "$use_pip" = 1 ] || venv_args+=(--without-pip)
    "$python" -m venv "${venv_args[@]}" "$venv" || die "could not create the venv at $venv (apt-get install python3-venv?)"
    say "created venv ${venv#"$prefix"}"
fi
if [ "$use_pip" = 1 ]; then
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        "$venv/bin/python" -m ensurepip --upgrade >/dev/null || die "the venv at $venv has no pip and ensurepip failed"
    fi
    say "pip install $source_dir[$ROLE] (this takes a while on a Pi)"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$source_dir[$ROLE]" \
        || die "pip install failed (see above); the previous installation, if any, is unchanged or partly updated"
    [ -x "$venv/bin/poskamling" ] || die "pip finished but $venv/bin/poskamling is missing"
    changed=1
    if [ -r /proc/device-tree/model ] && grep -qa "Raspberry Pi" /proc/device-tree/model \
        && ! "$venv/bin/python" -c 'import lgpio' 2>/dev/null; then
        warn "lgpio is not importable: gpiozero will fall back to slower pin backends; apt-get install python3-lgpio"
    fi
else
    say "skipping pip install (--skip-pip): $venv has no poskamling package"
fi

# ---- config examples and units ------------------------------------------------------------

for example in "$source_dir"/firmware-config/edge-*.yaml; do
    [ -f "$example" ] || continue
    install_file "$example" "$prefix/etc/poskamling/examples/$(basename "$example")" 0640
done
for unit in "${UNITS[@]}"; do
    install_file "$source_dir/systemd/$unit" "$prefix/etc/systemd/system/$unit" 0644
done

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
    if [ ! -f "$config" ]; then
        say "enabled ${UNITS[*]}; it starts once $config exists (written by 'poskamling device add' on the hub): then run systemctl start ${UNITS[*]}"
    elif [ "$changed" = 1 ] || ! systemctl --quiet is-active "${UNITS[@]}"; then
        systemctl restart "${UNITS[@]}"
        say "restarted ${UNITS[*]}"
    fi
fi

say "done: $ROLE installed${prefix:+ under $prefix}"
if [ ! -f "$prefix$config" ]; then
    say "next: put the post's config at $config (root:poskamling, mode 0640; examples in /etc/poskamling/examples),"
    say "      check it with: sudo -u poskamling /opt/poskamling/venv/bin/poskamling edge doctor --config $config"
fi
