# shellcheck shell=bash
# Helpers shared by the testbed's scripts (scripts/machine.sh, scripts/sandbox.sh): messages, root,
# the ownership marker that keeps them off folders they did not create, the Debian archive's URL.
# The sourcing script sets TESTBED (the prefix of its messages), and DIR and MARK before ours().

die() { echo "${TESTBED:-testbed}: $*" >&2; exit 1; }
log() { echo "${TESTBED:-testbed}: $*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root (${ROOT_WHY:-it installs packages and starts daemons})"; }
ours() { [ -f "$MARK" ] || die "$DIR was not created by this script (no $MARK); refusing to touch it"; }
valid_name() { [[ $1 =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "not a machine name: $1 (lower-case letters, digits, -)"; }

# The Debian archive this host installs from (never another host: the only network is the archive).
mirror() {
  local m
  m=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/\?$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$m" ] || die "cannot find the Debian archive's URL in /etc/apt/sources.list.d/debian.sources"
  echo "$m"
}

# The packages from apt that are missing, installed: install_missing PKG...
install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ih][^n]' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

# Index a flat apt repository of .deb files: Packages, and a Release that names it, so that apt fetches
# exactly that file instead of probing for compressed indexes the repository does not have (each probe
# prints "Err: ... Method gave a blank filename" on a run that went well).
flat_repo() {
  local dir=$1
  (
    cd "$dir" || exit
    dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null
    {
      echo "Date: $(LC_ALL=C date -Ru)"
      echo "SHA256:"
      printf ' %s %s Packages\n' "$(sha256sum <Packages | cut -d' ' -f1)" "$(stat -c %s Packages)"
    } >Release
  )
}
