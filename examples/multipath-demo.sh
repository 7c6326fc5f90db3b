#!/bin/sh
# Multipath TCP over two links, on one machine: builds two network namespaces (client, server)
# joined by two veth links on different subnets, each limited to RATE Mbit/s; runs
# `sockunit run examples/units` in the server namespace (hello.socket: SocketProtocol=mptcp, port
# 8080) and fetches http://10.0.1.2:8080/ from the client namespace over MPTCP, then prints the
# connection's subflows: one per link. Everything it creates is removed when it ends (also on
# Ctrl-C). Needs root, iproute2 (ip, tc), Node 20 and a built package (npm run build).
#
#   sudo examples/multipath-demo.sh [RATE_MBIT]        # default 20
#
# The recipe is the one in the MPTCP path-manager docs: the server announces its second address
# (`ip mptcp endpoint add ... signal`), the client accepts announcements (`add_addr_accepted`).
set -eu

RATE=${1:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE=$(command -v node)
C="sockunit-demo-$$-c"
S="sockunit-demo-$$-s"
MANAGER=""
# A control socket of its own, so a manager already running on this machine is not in the way.
CONTROL_DIR=$(mktemp -d /tmp/sockunit-demo-XXXXXX)

if [ "$(id -u)" != 0 ]; then
  echo "multipath-demo: needs root to create network namespaces; run: sudo $0 $*" >&2
  exit 1
fi
if [ ! -f "$ROOT/dist/cli/bin.js" ]; then
  echo "multipath-demo: $ROOT/dist is missing; build it first: (cd $ROOT && npm run build)" >&2
  exit 1
fi

cleanup() {
  [ -n "$MANAGER" ] && kill "$MANAGER" 2>/dev/null && wait "$MANAGER" 2>/dev/null
  ip netns del "$C" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  rm -rf "$CONTROL_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== two namespaces, two links of $RATE Mbit/s each"
ip netns add "$C"
ip netns add "$S"
for ns in "$C" "$S"; do
  ip -n "$ns" link set lo up
  # rp_filter would drop packets of the second subflow arriving on "the other" link.
  ip netns exec "$ns" sysctl -qw net.mptcp.enabled=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
for i in 1 2; do
  ip -n "$C" link add "c$i" type veth peer name "s$i" netns "$S"
  ip -n "$C" addr add "10.0.$i.1/24" dev "c$i"
  ip -n "$S" addr add "10.0.$i.2/24" dev "s$i"
  ip -n "$C" link set "c$i" up
  ip -n "$S" link set "s$i" up
  tc -n "$C" qdisc add dev "c$i" root tbf rate "${RATE}mbit" burst 16kb latency 100ms
  tc -n "$S" qdisc add dev "s$i" root tbf rate "${RATE}mbit" burst 16kb latency 100ms
  echo "   link $i: client 10.0.$i.1 (c$i) <-> server 10.0.$i.2 (s$i)"
done
# The server announces its second address; the client accepts up to 2 announcements.
ip -n "$S" mptcp endpoint add 10.0.2.2 dev s2 signal
ip -n "$S" mptcp limits set subflows 2 add_addr_accepted 0
ip -n "$C" mptcp limits set subflows 2 add_addr_accepted 2

echo "== sockunit doctor in the client namespace"
ip netns exec "$C" "$NODE" "$ROOT/dist/cli/bin.js" doctor || true

echo "== sockunit run examples/units in the server namespace"
ip netns exec "$S" "$NODE" "$ROOT/dist/cli/bin.js" run "$ROOT/examples/units" --control-socket "$CONTROL_DIR/control.sock" &
MANAGER=$!
i=0
until ip netns exec "$S" ss -Hltn 'sport = :8080' | grep -q LISTEN; do
  i=$((i + 1))
  if [ "$i" -gt 50 ]; then
    echo "multipath-demo: nothing listens on port 8080 in $S after 10 s" >&2
    exit 1
  fi
  sleep 0.2
done

echo "== GET http://10.0.1.2:8080/ from the client namespace, over MPTCP"
ip netns exec "$C" "$NODE" "$ROOT/examples/multipath-demo-client.mjs" http://10.0.1.2:8080/
echo "== sockunit list-sockets: the manager's view of its listeners"
"$NODE" "$ROOT/dist/cli/bin.js" list-sockets --control-socket "$CONTROL_DIR/control.sock"
echo "== the server kernel's counters: 1 MPTCP connection accepted, 1 extra subflow joined"
ip netns exec "$S" nstat -asz MPTcpExtMPCapableSYNRX MPTcpExtMPJoinSynRx MPTcpExtMPJoinAckRx | sed -n '2,$p'
