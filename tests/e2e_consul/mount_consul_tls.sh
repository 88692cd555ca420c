#!/usr/bin/env bash
# shovelfs over a Consul agent that serves https and requires an ACL token,
# end to end: the Consul test agent with a throwaway PKI
# (tests/consul/make_test_pki.sh, openssl), a shovel-worker registered over
# TLS, and a real FUSE mount whose CA and token come only from
# -o consul_cacert= and consul_token_file= (as an /etc/fstab line gives them:
# no environment). A CA that does not match fails the mount with one line
# that names it. FAILS when anything cannot start. Teardown unmounts and ends
# what it started, by pid.
#   tests/e2e_consul/mount_consul_tls.sh BUILD_DIR CONSUL_TEST_AGENT MAKE_TEST_PKI
set -uo pipefail
build=$(cd "${1:?usage: mount_consul_tls.sh BUILD_DIR AGENT PKI}" && pwd)
agent_bin=${2:?usage: mount_consul_tls.sh BUILD_DIR AGENT PKI}
make_pki=${3:?usage: mount_consul_tls.sh BUILD_DIR AGENT PKI}
e2e_name=e2e-consul-tls
. "$(dirname "$0")/../fs/e2e_lib.sh"  # $tmp, pass/fail/expect/die, cleanup
mp=$tmp/mnt
pki=$tmp/pki
mkdir -p "$mp" "$pki"
mounts+=("$mp")
unset CONSUL_CACERT CONSUL_CAPATH CONSUL_CLIENT_CERT CONSUL_CLIENT_KEY CONSUL_HTTP_ADDR \
  CONSUL_HTTP_SSL CONSUL_HTTP_SSL_VERIFY CONSUL_HTTP_TOKEN CONSUL_HTTP_TOKEN_FILE \
  SHOVEL_WORKERS SHOVEL_KEY_FILE SHOVEL_WORKER_KEY
token=e2e-$RANDOM-token

"$make_pki" "$pki" || die "make_test_pki.sh failed (is openssl installed?)"
"$agent_bin" --node n1=127.0.0.1:0 --ready-file "$tmp/agent" \
  --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --acl-token "$token" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/agent" ] && break; sleep 0.1; done
[ -s "$tmp/agent" ] || die "consul-test-agent did not start"
url=https://$(sed -n 's/^n1=//p' "$tmp/agent")

(umask 077 && echo "$token" >"$tmp/token")
CONSUL_HTTP_TOKEN=$token CONSUL_CACERT=$pki/ca.pem "$build/worker/shovel-worker" --listen tcp://127.0.0.1:0 \
  --node-id w1 --max-memory 128MiB --consul "$url" --consul-ttl 2s 2>"$tmp/w1.log" &
pids+=($!)
ctl() {
  CONSUL_HTTP_TOKEN=$token CONSUL_CACERT=$pki/ca.pem "$build/cli/shovelctl" --consul "$url" "$@"
}
for _ in $(seq 100); do
  [ "$(ctl --json members 2>/dev/null | grep -o '"node_id"' | wc -l)" = 1 ] && break
  sleep 0.1
done
expect "the worker registered over TLS" 1 "$(ctl --json members | grep -o '"node_id"' | wc -l)"

# A CA that did not sign the agent's certificate: no mount, one line naming it.
start=$(date +%s)
timeout 60 "$build/fs/shovelfs" "$mp" -f \
  -o "consul=$url,consul_cacert=$pki/other-ca.pem,consul_token_file=$tmp/token" 2>"$tmp/bad.log"
code=$?
took=$(($(date +%s) - start))
if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && [ "$took" -lt 10 ] &&
  grep -q "TLS certificate of the Consul agent not trusted (CONSUL_CACERT=$pki/other-ca.pem)" \
    "$tmp/bad.log"; then
  pass "a CA that does not match fails the mount at once, naming consul_cacert's file"
else
  fail "wrong CA: exit $code after ${took}s: $(cat "$tmp/bad.log")"
fi
grep -q " $mp fuse" /proc/mounts && fail "the wrong CA left a mount"

# The right CA and no token: refused by the agent's ACLs, named.
timeout 60 "$build/fs/shovelfs" "$mp" -f -o "consul=$url,consul_cacert=$pki/ca.pem" \
  2>"$tmp/notoken.log"
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q "CONSUL_HTTP_TOKEN" "$tmp/notoken.log"; then
  pass "without consul_token_file= the mount fails naming CONSUL_HTTP_TOKEN"
else
  fail "no token: exit $code: $(cat "$tmp/notoken.log")"
fi

"$build/fs/shovelfs" "$mp" -f \
  -o "consul=$url,consul_cacert=$pki/ca.pem,consul_token_file=$tmp/token" 2>"$tmp/fs.log" &
pids+=($!)
for _ in $(seq 100); do grep -q " $mp fuse.shovelfs " /proc/mounts && break; sleep 0.1; done
grep -q " $mp fuse.shovelfs " /proc/mounts || { cat "$tmp/fs.log"; die "shovelfs did not mount"; }
pass "shovelfs mounted with -o consul=https://...,consul_cacert=FILE,consul_token_file=FILE"
echo "hello over https" >"$mp/greeting"
expect "cat reads what echo wrote" "hello over https" "$(cat "$mp/greeting")"
expect "shovelctl sees the same bytes" "hello over https" "$(ctl get greeting)"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
