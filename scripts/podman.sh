#!/usr/bin/env bash
# Runs podman with this checkout's own settings: `scripts/podman.sh build ...`, `scripts/podman.sh run ...`.
# Images and containers live under .cache/containers/, apart from any other podman user on the machine,
# and every container and build step gets the runtime and limits that work in a sandbox like CI's:
# crun fails on hybrid cgroups, and ulimits above the sandbox's own cannot be raised.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/.cache/containers"
mkdir -p "$dir"

# Written through a temporary file and a rename, so a concurrent run never reads half a file.
write_if_changed() {
  local file="$1" text="$2"
  [ -f "$file" ] && [ "$(cat "$file")" = "$text" ] && return 0
  printf '%s\n' "$text" >"$file.$$"
  mv -f "$file.$$" "$file"
}

write_if_changed "$dir/containers.conf" "[containers]
default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
tmp_dir = \"$dir/tmp\""

write_if_changed "$dir/storage.conf" "[storage]
driver = \"overlay\"
graphroot = \"$dir/storage\"
runroot = \"$dir/run\""

export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
exec podman "$@"
