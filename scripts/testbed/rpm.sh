# shellcheck shell=bash
# The same set as Docker's rpm packages (docker-ce.spec, containerd.io's spec): built with rpmbuild
# from the same payload (deb.sh), served by a createrepo_c repository, installed by Debian's dnf and rpm.

# The scriptlets as systemd's rpm macros expand them with systemctl called directly (EL8's
# %systemd_post, %systemd_preun, %systemd_postun_with_restart): the upgrade's %postun try-restarts.
rpm_unit_scripts() { # unit
  cat <<EOF
%post
if [ \$1 -eq 1 ] ; then
        # Initial installation
        systemctl --no-reload preset $1 >/dev/null 2>&1 || :
fi
${RPM_POST_EXTRA:-}

%preun
if [ \$1 -eq 0 ] ; then
        # Package removal, not upgrade
        systemctl --no-reload disable --now $1 >/dev/null 2>&1 || :
fi

%postun
if [ \$1 -ge 1 ] ; then
        # Package upgrade, not uninstall
        systemctl try-restart $1 >/dev/null 2>&1 || :
fi
EOF
}

# build_rpm PACKAGE UPSTREAM [FAULT]: one .rpm of the set into the pool.
build_rpm() {
  local pkg=$1 up=$2 flt=${3:-} evr ver rel epoch out w
  [[ $up =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not an upstream version: $up"
  evr=$(rpm_version "$pkg" "$up"); epoch=""; [[ $evr == *:* ]] && epoch=${evr%%:*}
  ver=${evr#*:}; rel=${ver#*-}; ver=${ver%%-*}
  out="$POOL/rpm/$pkg-$ver-$rel${flt:+.$flt}.x86_64.rpm"
  [ -f "$out" ] && { echo "$out"; return 0; }
  mkdir -p "$POOL/rpm"
  w=$(mktemp -d)
  mkdir -p "$w/stage" "$w/out"
  UNITDIR=usr/lib/systemd/system payload "$pkg" "$up" "$w/stage"
  local requires="" extra="" pre="" scriptlets=""
  case "$pkg" in
    docker-ce)
      requires="Requires: /usr/sbin/groupadd, docker-ce-cli, systemd, iptables, containerd.io >= 1.4.1, tar, xz"
      extra=$'Conflicts: docker, docker-io\nObsoletes: docker-engine'
      scriptlets=$(RPM_POST_EXTRA=$'if ! getent group docker > /dev/null; then\n    groupadd --system docker\nfi' rpm_unit_scripts docker.service) ;;
    containerd.io)
      extra=$'Provides: containerd, runc\nObsoletes: containerd, runc'
      scriptlets=$(rpm_unit_scripts containerd.service) ;;
  esac
  case "$flt" in
    "") ;;
    dockerd-exits) printf '#!/bin/sh\necho "broken build: dockerd exits at once" >&2\nexit 1\n' >"$w/stage/usr/bin/dockerd" ;;
    preinst-sleeps) pre=$'%pre\nsleep '"${DLU_PREINST_SLEEP:-30}" ;;
    preinst-fails) pre=$'%pre\necho "pre: failing on purpose" >&2\nexit 1' ;;
    *) die "unknown fault $flt (dockerd-exits, preinst-sleeps, preinst-fails)" ;;
  esac
  {
    echo "Name: $pkg"
    echo "Version: $ver"
    echo "Release: $rel"
    [ -z "$epoch" ] || echo "Epoch: $epoch"
    echo "Summary: $pkg repacked for docker-live-upgrade's machine tests"
    echo "License: ASL 2.0"
    echo "AutoReqProv: no"
    [ -z "$requires" ] || echo "$requires"
    [ -z "$extra" ] || echo "$extra"
    printf '\n%%description\nDebian binaries under the name and version form of Docker packages.\n\n'
    printf '%%install\ncp -a %s/. %%{buildroot}/\n\n%%files\n' "$w/stage"
    (cd "$w/stage" && find . \( -type f -o -type l \) -printf '/%P\n' | sort | sed 's#^/etc/#%config(noreplace) /etc/#')
    printf '\n%s\n\n%s\n' "$pre" "$scriptlets"
  } >"$w/$pkg.spec"
  rpmbuild -bb --quiet --target x86_64 --define "_topdir $w/top" --define "_rpmdir $w/out" \
    --define "_build_name_fmt %%{NAME}.rpm" --define "__os_install_post %{nil}" --define "debug_package %{nil}" \
    --define "_build_id_links none" --define "_binary_payload w1.gzdio" "$w/$pkg.spec" >"$w/build.log" 2>&1 \
    || { tail -n 20 "$w/build.log" >&2; die "rpmbuild $pkg failed"; }
  cp "$w/out/$pkg.rpm" "$out.part.$$" && mv -f "$out.part.$$" "$out"   # whole or not at all (see build)
  rm -rf "$w"
  echo "$out"
}

# What an rpm host has that the packages require: a Debian root provides it from dpkg's side.
build_rpm_host() {
  local out="$POOL/rpm/machine-release-12-1.noarch.rpm" w
  [ -f "$out" ] && { echo "$out"; return 0; }
  mkdir -p "$POOL/rpm"; w=$(mktemp -d); mkdir -p "$w/out"
  cat >"$w/machine-release.spec" <<'EOF'
Name: machine-release
Version: 12
Release: 1
Summary: What the Debian root of a test machine provides to rpm packages
License: MIT
BuildArch: noarch
Provides: /bin/sh, /usr/sbin/groupadd, systemd, iptables, tar, xz, system-release, system-release(releasever) = 9

%description
The test machine's shell, systemd and tools come from dpkg; this tells rpm they are there, and dnf
which release the host is (9, as on EL9).

%files
EOF
  rpmbuild -bb --quiet --define "_topdir $w/top" --define "_rpmdir $w/out" --define "_build_name_fmt %%{NAME}.rpm" \
    "$w/machine-release.spec" >"$w/build.log" 2>&1 || { tail -n 20 "$w/build.log" >&2; die "rpmbuild machine-release failed"; }
  cp "$w/out/machine-release.rpm" "$out.part.$$" && mv -f "$out.part.$$" "$out"; rm -rf "$w"
  echo "$out"
}

# publish_rpm DIR SPEC...: a dnf repository over the base set and the given specs.
publish_rpm() {
  local repo=$1; shift
  mkdir -p "$repo"; rm -rf "$repo"/*.rpm "$repo"/*.deb "$repo"/Packages "$repo"/repodata   # emptied, not replaced: machines bind it
  cp "$(build_rpm_host)" "$repo/"
  build_each build_rpm "$repo" "$@"
  createrepo_c -q "$repo" >/dev/null
}
