#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian machine lacks, and says so.
# Called by `npm test` (pretest), so a newcomer and CI get the same set-up.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# chromium: the browser test drives Debian's build through playwright-core (test/browser/).
# pebble (ACME test CA, scripts/pebble.sh), haproxy (TLS proxy in front), systemd (systemd-analyze verify of deploy/),
# prometheus (promtool checks the /-/metrics text).
# podman, runc, mmdebstrap: test/deploy/container.test.ts builds and runs the image (scripts/container-base.sh).
# docker-registry (a real upstream registry), skopeo (pushes images into it), umoci (builds OCI images),
# apache2-utils (htpasswd for its basic auth): test/upstream/.
pkgs=(gnupg appc-spec openssl xz-utils bzip2 golang-go golang-github-appc-spec-dev golang-golang-x-crypto-dev
  radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl chromium
  pebble haproxy systemd prometheus podman runc mmdebstrap
  docker-registry skopeo umoci apache2-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-test-tools: installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# acfetch: the rkt-equivalent client (test/clients/acfetch), built with Debian's Go libraries;
# rebuilt when its source is newer than the binary.
acfetch_src="$here/test/clients/acfetch"
acfetch_out="$here/.cache/acfetch"
if [ ! -x "$acfetch_out" ] || [ "$acfetch_src/main.go" -nt "$acfetch_out" ]; then
  echo "install-test-tools: building acfetch into $acfetch_out" >&2
  ACFETCH_OUT="$acfetch_out" "$acfetch_src/build.sh"
fi

for tool in gpg gpgconf actool openssl xz bzip2 radosgw ceph-mon ceph-osd /usr/lib/chromium/chromium pebble pebble-challtestsrv haproxy systemd-analyze promtool podman runc mmdebstrap docker-registry skopeo umoci htpasswd; do
  command -v "$tool" >/dev/null || { echo "install-test-tools: $tool is still missing" >&2; exit 1; }
done

# The container test's base: a local stand-in for the official Node image the Dockerfile starts
# from, built once into .cache/ (no container registry is reachable from the test machines).
"$here/scripts/container-base.sh"
