#!/bin/bash
# Throwaway ACME test CA on loopback: Let's Encrypt's pebble (Debian package) + pebble-challtestsrv as its DNS.
# (A copy of ../shared/tools/pebble.sh, kept here so the tests need nothing outside the repository.)
# usage: pebble.sh start|stop   (state under $D; prints the directory URL and the two CA files a client needs)
# For tests of acihost's ACME certificate acquisition against a real RFC 8555 server that really validates.
# Ports, all 127.0.0.1: 14000 ACME directory (https://localhost:14000/dir), 15000 pebble management (HTTPS),
#   8053 mock DNS (udp+tcp; every name -> A 127.0.0.1, no AAAA), 8055 challtestsrv management (HTTP),
#   and pebble validates challenges against NAME:${HTTP01_PORT:-5002} (HTTP-01) and NAME:${TLSALPN01_PORT:-5001}
#   (TLS-ALPN-01): the code under test must serve those there, this script leaves both ports free.
# Installs pebble (plus openssl, curl) with apt-get when missing (root needed; ~10 s). Start takes under 1 s.
# Two CAs: $D/listener-ca.pem signs pebble's own HTTPS listener (trust it to talk to the directory);
#   $D/issued-root.pem is the root of the certificates pebble issues, new on every start (GET /roots/0 on 15000).
#   Issued chains are leaf + 1 intermediate: serve the full chain or a client with only the root fails.
# Gotchas: validation is real and instant (PEBBLE_VA_NOSLEEP=1) and pebble sends 3 validation requests per
#   challenge; for the same account it reuses a valid authorization 50% of the time (PEBBLE_AUTHZREUSE), so a
#   client must not expect a challenge every time. The fixed ports allow one instance per machine.
# acme-client (npm): pass skipChallengeVerification: true (it cannot resolve test names itself) and a small
#   backoffMin (its default 5 s poll sometimes turns a ~0.1 s issuance into 5 s); an untrusted listener CA makes
#   it retry ~75 s and then fail with "Cannot read properties of undefined (reading 'config')".
set -euo pipefail
D=${D:-${TMPDIR:-/tmp}/acihost-pebble}
HTTP01_PORT=${HTTP01_PORT:-5002}; TLSALPN01_PORT=${TLSALPN01_PORT:-5001}
ACME_PORT=14000; MGMT_PORT=15000; DNS_PORT=8053; CTS_MGMT_PORT=8055
install() {
  command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null && command -v openssl >/dev/null \
    && command -v curl >/dev/null && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pebble openssl curl ca-certificates >/dev/null; }
ours() { [ -d "/proc/$1" ] && grep -qa pebble "/proc/$1/cmdline" 2>/dev/null; }   # guards against a recycled pid
stop() { for n in pebble challtestsrv; do f="$D/$n.pid"; [ -f "$f" ] && ours "$(cat "$f")" && kill "$(cat "$f")" 2>/dev/null || true; done
  for n in pebble challtestsrv; do f="$D/$n.pid"; [ -f "$f" ] || continue; p=$(cat "$f")
    for i in $(seq 1 50); do ours "$p" || break; sleep 0.1; done
    ours "$p" && { kill -9 "$p" 2>/dev/null || true; }; rm -f "$f"; done; }
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
fail() { echo "pebble.sh: $*" >&2; for n in challtestsrv pebble; do [ -f "$D/$n.log" ] && { echo "--- $D/$n.log" >&2; tail -n 20 "$D/$n.log" >&2; }; done; stop; exit 1; }
case "${1:-}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
install
[ -d "$D" ] && stop
for p in $ACME_PORT $MGMT_PORT $DNS_PORT $CTS_MGMT_PORT; do busy "$p" && { echo "pebble.sh: 127.0.0.1:$p is already in use" >&2; exit 1; }; done
T0=$(date +%s%N)
rm -rf "$D"; mkdir -p "$D"
# Throw-away CA + certificate for pebble's own HTTPS listener (localhost and 127.0.0.1); Debian ships none.
cat > "$D/openssl-ext.cnf" <<'EXT'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
EC=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${EC[@]}" -keyout "$D/listener-ca.key" -out "$D/listener-ca.pem" -days 30 \
  -subj "/CN=acihost pebble listener CA" -config "$D/openssl-ext.cnf" -extensions ca 2>/dev/null
openssl req -new "${EC[@]}" -keyout "$D/listener.key" -out "$D/listener.csr" -subj "/CN=localhost" -config "$D/openssl-ext.cnf" 2>/dev/null
openssl x509 -req -in "$D/listener.csr" -CA "$D/listener-ca.pem" -CAkey "$D/listener-ca.key" -set_serial "0x$(openssl rand -hex 8)" \
  -days 30 -extfile "$D/openssl-ext.cnf" -extensions leaf -out "$D/listener.pem" 2>/dev/null
cat > "$D/pebble-config.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$MGMT_PORT",
    "certificate": "$D/listener.pem",
    "privateKey": "$D/listener.key",
    "httpPort": $HTTP01_PORT,
    "tlsPort": $TLSALPN01_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON
# Mock DNS only: its own challenge listeners are off so they do not take the challenge ports. No AAAA answers:
# pebble dials the first address it resolves, AAAA first, so the default ::1 would miss a server on 127.0.0.1.
nohup pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" \
  -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$CTS_MGMT_PORT" >"$D/challtestsrv.log" 2>&1 </dev/null &
echo $! > "$D/challtestsrv.pid"
PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1} PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-0} \
  nohup pebble -config "$D/pebble-config.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$D/pebble.log" 2>&1 </dev/null &
echo $! > "$D/pebble.pid"
CURL=(curl -sf --max-time 5 --cacert "$D/listener-ca.pem")
for i in $(seq 1 100); do
  kill -0 "$(cat "$D/challtestsrv.pid")" 2>/dev/null || fail "pebble-challtestsrv exited"
  kill -0 "$(cat "$D/pebble.pid")" 2>/dev/null || fail "pebble exited"
  busy $CTS_MGMT_PORT && "${CURL[@]}" -o /dev/null "https://localhost:$ACME_PORT/dir" && break
  [ "$i" = 100 ] && fail "the directory did not answer in 10 s"; sleep 0.1
done
"${CURL[@]}" -o "$D/issued-root.pem" "https://localhost:$MGMT_PORT/roots/0" && grep -q 'BEGIN CERTIFICATE' "$D/issued-root.pem" \
  || fail "could not fetch the issuing root from https://localhost:$MGMT_PORT/roots/0"
cat > "$D/env" <<ENV
ACME_DIRECTORY_URL=https://localhost:$ACME_PORT/dir
ACME_DIRECTORY_CA=$D/listener-ca.pem
ACME_ISSUED_ROOT=$D/issued-root.pem
ACME_HTTP01_PORT=$HTTP01_PORT
ACME_TLSALPN01_PORT=$TLSALPN01_PORT
ENV
echo "pebble ACME test CA up in $(( ($(date +%s%N) - T0) / 1000000 )) ms (state in $D):"
echo "  directory URL:  https://localhost:$ACME_PORT/dir"
echo "  directory CA:   $D/listener-ca.pem  (signs pebble's own HTTPS listener: trust it, e.g. NODE_EXTRA_CA_CERTS)"
echo "  issued root:    $D/issued-root.pem  (root of the certificates pebble issues, new each start;"
echo "                  curl --cacert $D/listener-ca.pem https://localhost:$MGMT_PORT/roots/0)"
echo "  challenges:     every name resolves to 127.0.0.1 for pebble; it checks HTTP-01 at"
echo "                  http://NAME:$HTTP01_PORT/.well-known/acme-challenge/TOKEN and TLS-ALPN-01 at NAME:$TLSALPN01_PORT"
echo "  env file:       $D/env  (ACME_DIRECTORY_URL, ACME_DIRECTORY_CA, ACME_ISSUED_ROOT, ACME_HTTP01_PORT, ACME_TLSALPN01_PORT)"
echo "  stop with:      D=$D $0 stop"
