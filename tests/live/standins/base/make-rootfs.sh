#!/bin/bash
# Makes the stand-ins' Debian bookworm root file system in $1 (an empty directory); tests/live/standins.py
# then imports it as datalyptica-standin/debian:bookworm. $2 is a directory of extra CA certificates
# (*.crt) that TLS from inside builds must trust (this machine's egress CA); it may be empty.
set -euo pipefail

rootfs=$1
extra_ca_dir=$2
mirror=http://deb.debian.org/debian

debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror"

# The suites the upstream debian:bookworm image lists, so builds on top get security fixes too.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Like the upstream -slim images: packages installed later leave out documentation and manuals.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/standin-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
EOF

# Like the upstream images: apt keeps no downloaded packages nor binary caches in the image.
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"

# Named *.crt under /usr/local/share/ca-certificates, the certificates survive every later
# update-ca-certificates (ca-certificates-java runs one) and reach Java's trust store too.
find "$extra_ca_dir" -maxdepth 1 -name '*.crt' -exec cp -t "$rootfs/usr/local/share/ca-certificates/" {} +
chroot "$rootfs" update-ca-certificates

chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/usr/share/doc/*/changelog*
# Docker provides these at run time.
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"
