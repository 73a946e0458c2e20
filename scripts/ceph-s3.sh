#!/bin/bash
# Copied from ../shared/tools/ceph-s3.sh so the project carries what its tests need.
# Throwaway single-node Ceph RGW (S3) on loopback: 1 mon + 1 bluestore OSD on a sparse file + 1 radosgw.
# usage: ceph-s3.sh start|resume|stop   (state under $D; no cephx; S3 on 127.0.0.1:${RGW_PORT:-7480})
# A real, production S3 implementation (Ceph Pacific from Debian), for tests of the object-store backend.
# Installs radosgw, ceph-mon, ceph-osd and ceph-common with apt-get when they are missing (root needed).
# Fresh start takes about 16-20 s; the first bucket operation on a new cluster about 2 s more.
# Gotchas: ms_mon_client_mode=crc is required without cephx; small PG counts are required on one OSD;
# the fixed ports (3300, 6800-6807, RGW_PORT) allow one cluster per machine at a time.
set -euo pipefail
D=${D:-${TMPDIR:-/tmp}/acihost-ceph}; PORT=${RGW_PORT:-7480}; export CEPH_CONF="$D/ceph.conf"
install() {
  command -v radosgw >/dev/null && command -v ceph-osd >/dev/null && command -v ceph-mon >/dev/null && command -v ceph >/dev/null && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl >/dev/null; }
AK=${AK:-TESTACCESSKEY123}; SK=${SK:-testsecretkey1234567890}
stop() { for n in client.rgw.a osd.0 mon.a; do f="$D/run/$n.pid"; [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  for n in client.rgw.a osd.0 mon.a; do f="$D/run/$n.pid"; [ -f "$f" ] || continue; p=$(cat "$f")
    for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done; done; }
wait_up() {
  for i in $(seq 1 120); do ceph osd stat 2>/dev/null | grep -q ' 1 up' && break; sleep 0.5; done
  radosgw -n client.rgw.a
  for i in $(seq 1 240); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 200 ] && break; sleep 0.5; done; }
[ "${1:-}" = stop ] && { stop; exit 0; }
install
if [ "${1:-}" = resume ] && [ -f "$CEPH_CONF" ]; then ceph-mon -i a; ceph-osd -i 0 2>/dev/null; wait_up; echo resumed; exit 0; fi
rm -rf "$D"; mkdir -p "$D"/{mon,osd/ceph-0,rgw,log,run}
FSID=$(uuidgen)
cat > "$CEPH_CONF" <<CONF
[global]
fsid = $FSID
mon_host = v2:127.0.0.1:3300
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# daemons default to ms_mon_client_mode=secure, which is impossible without cephx (rgw hangs 300 s, -13)
ms_mon_client_mode = crc
run_dir = $D/run
log_file = $D/log/\$name.log
admin_socket = $D/run/\$name.asok
pid_file = $D/run/\$name.pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
[mon]
mon_data = $D/mon/\$cluster-\$id
[osd]
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = ${BLOCK_SIZE:-4294967296}
osd_memory_target = 1073741824
[client.rgw.a]
rgw_data = $D/rgw
rgw_frontends = beast endpoint=127.0.0.1:$PORT
CONF
monmaptool --create --addv a "[v2:127.0.0.1:3300]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$D/monmap"
ceph-mon -i a
U=$(uuidgen); ID=$(ceph osd new "$U")
ceph-osd -i "$ID" --mkfs --osd-uuid "$U" >/dev/null 2>&1   # prints harmless "_read_bdev_label failed" noise
ceph-osd -i "$ID" 2>/dev/null
wait_up
radosgw-admin user create --uid=registry --display-name=registry --access-key="$AK" --secret-key="$SK" >/dev/null
echo "S3 ready on http://127.0.0.1:$PORT (access key $AK, secret key $SK, region us-east-1, path-style)"
