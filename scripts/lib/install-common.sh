# shellcheck shell=bash
# shellcheck disable=SC2154  # PROG, ROLE, UNITS and CONFIG_NAME are set by the sourcing script
# shellcheck disable=SC2034  # file_changed, venv, config, ... are read by the installers' hooks
#
# The shared body of scripts/install-edge.sh and scripts/install-hub.sh: sourced, not run.
#
# The installer sets, before sourcing this file:
#   PROG            name in messages: install-edge, install-hub
#   ROLE            edge or hub: the pip extra, the user's comment, messages
#   UNITS           array: unit files in systemd/ to install and enable
#   CONFIG_NAME     the role's config file in /etc/poskamling
#   PIP_NOTE        optional: text after the "pip install ..." message
#   installer_dir   the installer's own directory (the default --source is its parent)
# then calls `install_main "$@"`. It may define these hooks, each called if defined:
#   role_checks        checks, before anything is changed (require_source_file PATH)
#   role_user_setup    after the service user and group exist (not with --no-user)
#   role_dirs          after /etc/poskamling exists: more directories (ensure_dir)
#   role_venv_args     before a new venv is created: append options to the array venv_args
#   role_after_pip     after a successful pip install
#   role_config_files  before the units are installed (install_file)
#   role_extra_files   after the units are installed (install_file)
#   role_after_enable  on a live system, after systemctl daemon-reload and enable
#   role_say_start     on a live system without the config: how the service gets started
#   role_next_steps    at the very end, when the config does not exist yet
# Hooks may read: root, prefix, staged, make_user, use_systemctl, use_pip, python,
# source_dir, venv, config; install_file sets changed (any change) and file_changed (last call).

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

# run_hook NAME: call the installer's function NAME if it defines one.
run_hook() {
    if declare -F "$1" >/dev/null; then
        "$1"
    fi
}

# require_source_file PATH: PATH must exist in the source tree.
require_source_file() {
    [ -f "$1" ] || die "$1 not found: is --source '$source_dir' a poskamling checkout?"
}

# install_file SRC DEST MODE: copy when missing or different, so a second run touches nothing.
# Sets file_changed to 1 if it copied, else 0; a copy also sets changed=1.
install_file() {
    local src=$1 dest=$2 mode=$3
    file_changed=0
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        return 0
    fi
    install -D -m "$mode" "$src" "$dest"
    say "installed ${dest#"$prefix"}"
    file_changed=1
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

# ---- options ------------------------------------------------------------------------------

parse_args() {
    root=${DESTDIR:-/}
    make_user=1
    use_systemctl=1
    use_pip=1
    python=${PYTHON:-python3}
    source_dir=$(CDPATH='' cd -- "$installer_dir/.." && pwd)

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
}

# ---- checks, before anything is changed ------------------------------------------------

check_setup() {
    local needed found
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
        require_source_file "$needed"
    done
    run_hook role_checks
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
    config=/etc/poskamling/$CONFIG_NAME
    changed=0
    file_changed=0
}

# ---- service user -----------------------------------------------------------------------

setup_user() {
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
        run_hook role_user_setup
    fi

    if [ "$staged" = 0 ] && ! getent passwd poskamling >/dev/null; then
        warn "user 'poskamling' does not exist (--no-user): create it before starting the service, then re-run this script to fix ownership"
    fi
}

# ---- directories --------------------------------------------------------------------------

setup_dirs() {
    ensure_dir "$prefix/opt/poskamling" 0755
    ensure_dir "$prefix/etc/poskamling" 0750 root:poskamling
    run_hook role_dirs
    ensure_dir "$prefix/var/lib/poskamling" 0750 poskamling:poskamling
}

# ---- venv and package -------------------------------------------------------------------

setup_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        venv_args=()
        run_hook role_venv_args
        [ "$use_pip" = 1 ] || venv_args+=(--without-pip)
        "$python" -m venv ${venv_args[@]+"${venv_args[@]}"} "$venv" || die "could not create the venv at $venv (apt-get install python3-venv?)"
        say "created venv ${venv#"$prefix"}"
    fi
    if [ "$use_pip" = 1 ]; then
        if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
            "$venv/bin/python" -m ensurepip --upgrade >/dev/null || die "the venv at $venv has no pip and ensurepip failed"
        fi
        say "pip install ${source_dir}[$ROLE]${PIP_NOTE:-}"
        "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "${source_dir}[$ROLE]" \
            || die "pip install failed (see above); the previous installation, if any, is unchanged or partly updated"
        [ -x "$venv/bin/poskamling" ] || die "pip finished but $venv/bin/poskamling is missing"
        changed=1
        run_hook role_after_pip
    else
        say "skipping pip install (--skip-pip): $venv has no poskamling package"
    fi
}

# ---- config files and units ----------------------------------------------------------------

install_files() {
    local unit
    run_hook role_config_files
    for unit in "${UNITS[@]}"; do
        install_file "$source_dir/systemd/$unit" "$prefix/etc/systemd/system/$unit" 0644
    done
    run_hook role_extra_files
}

# ---- systemd ------------------------------------------------------------------------------

setup_systemd() {
    if [ "$use_systemctl" = 0 ]; then
        say "not calling systemctl (--no-systemctl); later: systemctl daemon-reload && systemctl enable ${UNITS[*]}"
    elif [ "$staged" = 1 ]; then
        systemctl --root="$root" --quiet enable "${UNITS[@]}"
        say "enabled ${UNITS[*]} in $root"
    else
        systemctl daemon-reload
        systemctl --quiet enable "${UNITS[@]}"
        run_hook role_after_enable
        if [ ! -f "$config" ]; then
            run_hook role_say_start
        elif [ "$changed" = 1 ] || ! systemctl --quiet is-active "${UNITS[@]}"; then
            systemctl restart "${UNITS[@]}"
            say "restarted ${UNITS[*]}"
        fi
    fi
}

install_main() {
    parse_args "$@"
    check_setup
    setup_user
    setup_dirs
    setup_venv
    install_files
    setup_systemd

    say "done: $ROLE installed${prefix:+ under $prefix}"
    if [ ! -f "$prefix$config" ]; then
        run_hook role_next_steps
    fi
}
