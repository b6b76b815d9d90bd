# Shared helpers for scripts/*: paths, interpreter discovery, stamps, the Python 3.14 chroot.
# shellcheck shell=bash
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENVS="$REPO/.venv"
CACHE="${HOMEIQ_CACHE:-$REPO/.cache}"
CHROOT="$CACHE/chroot-sid"
export PYTHONPATH="$REPO/custom_components/homeiq${PYTHONPATH:+:$PYTHONPATH}"

log() { printf '[homeiq] %s\n' "$*" >&2; }

# find_python 3.13 -> path of an interpreter of that minor version (pyenv, Debian, PATH).
find_python() {
  local want=$1 cand
  for cand in \
    "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/"$want"*/bin/python3 \
    "$HOME"/.pyenv/versions/"$want"*/bin/python3 \
    /usr/bin/python"$want" /usr/local/bin/python"$want" "$(command -v python"$want" || true)" \
    "$(command -v python3 || true)"; do
    [ -x "$cand" ] || continue
    if [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; then
      echo "$cand"; return 0
    fi
  done
  return 1
}

# stamp_of FILE... -> one hash of the given files' contents (plus extra words passed via STAMP_EXTRA)
# Files included with `-r` count too, so a change to an included pin list rebuilds the venv.
stamp_of() {
  local f inc
  {
    for f in "$@"; do
      cat "$f"
      sed -n 's/^-r[[:space:]]*//p' "$f" | while read -r inc; do cat "$(dirname "$f")/$inc"; done
    done
    echo "${STAMP_EXTRA:-}"
  } | sha256sum | cut -d' ' -f1
}

stamp_ok() { [ -f "$1/.homeiq-stamp" ] && [ "$(cat "$1/.homeiq-stamp")" = "$2" ]; }

# Run a command inside the Debian sid chroot (Python 3.14) with the repository bind-mounted at
# the same path, so venvs and paths are identical inside and out. Mounts are undone on exit.
in_chroot() {
  local mounted_proc=0 mounted_repo=0 mounted_shm=0 rc=0
  mkdir -p "$CHROOT$REPO"
  if ! mountpoint -q "$CHROOT/proc"; then mount -t proc proc "$CHROOT/proc"; mounted_proc=1; fi
  if ! mountpoint -q "$CHROOT$REPO"; then mount --bind "$REPO" "$CHROOT$REPO"; mounted_repo=1; fi
  mkdir -p "$CHROOT/dev/shm"
  if ! mountpoint -q "$CHROOT/dev/shm"; then mount -t tmpfs shm "$CHROOT/dev/shm"; mounted_shm=1; fi
  cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
  chroot "$CHROOT" env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    PIP_CERT=/etc/ssl/certs/host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    PYTHONPATH="$PYTHONPATH" CI="${CI:-}" HOMEIQ_CACHE="$CACHE" \
    bash -c "cd '$REPO' && $*" || rc=$?
  [ $mounted_shm = 1 ] && umount "$CHROOT/dev/shm" || true
  [ $mounted_repo = 1 ] && umount "$CHROOT$REPO" || true
  [ $mounted_proc = 1 ] && umount "$CHROOT/proc" || true
  return $rc
}
