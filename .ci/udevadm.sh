#!/usr/bin/env bash
# Provide `udevadm verify` (systemd >= 254) for the udev rules lint without installing anything:
# Debian 12 ships udev 252, so fetch udev + libsystemd-shared from <codename>-backports of the mirror
# this machine's apt already uses, unpack them into a scratch folder and print a wrapper's path.
# Prints nothing and exits non-zero when that is not possible; the caller then skips the lint.
set -euo pipefail
work="$1"
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$codename" ] || exit 1
# The Debian mirror configured on this machine (deb822 or one-line sources), not a name of ours.
mirror="$( { grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list || true; } \
          | grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ' || true)"
[ -n "$mirror" ] || exit 1
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} ${codename}-backports main" > "$work/sources.list"
opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
timeout 180 apt-get -qq "${opts[@]}" update
(cd "$work" && timeout 180 apt-get -qq "${opts[@]}" download "udev/${codename}-backports" \
    "libsystemd-shared/${codename}-backports")
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
lib="$(find "$work/x" -name 'libsystemd-shared-*.so' -printf '%h\n' | head -n 1)"
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "$lib" "$work/x/bin/udevadm" > "$work/udevadm"
chmod +x "$work/udevadm"
"$work/udevadm" verify --help >/dev/null 2>&1
echo "$work/udevadm"
