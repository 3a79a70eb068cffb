// Command mirrorkv runs one server of a mirrored key-value pair, a client
// of one, a tunnel relay that carries a pair, or an arbiter for pairs,
// each as its own process.
//
// Usage:
//
//	mirrorkv [link flags] -role primary|secondary -peer NET:NODE -key HEX [flags]
//	mirrorkv client [link flags] [-server NET:NODE:SOCKET] put KEY VALUE
//	mirrorkv client [link flags] get KEY
//	mirrorkv client [link flags] cas KEY OLD NEW
//	mirrorkv client [link flags] -batch < requests
//	mirrorkv relay [-listen host:port]
//	mirrorkv arbiter [link flags] -key HEX|-key-file F [-socket HEX] [-state FILE]
//
// Link flags are the other tools': -udp-server host:port (a DOSBox-style
// IPX tunnel) or -ether IFACE[:frame[:net]] (raw Ethernet), and -net, an
// Ethernet LAN's network number (default 1). A tunnel is network 1: the
// tunnel numbers none, and the mirror probes its peer at a LAN address.
// -memlan-demo is refused: separate processes share no in-memory LAN;
// mirrordemo runs a pair on one. -udp-local fixes this end's UDP address
// on a tunnel, and so its node (address and port), which the other
// server names with -peer.
//
// A server serves the engine at -internal-net:-internal-node:-socket
// (default 00c0ffee:000000000001:4a00) on both machines. Its MSL, the
// link that mirrors every request to the other server, is an SPX
// connection on the LAN: it listens at -msl-listen and dials -msl-peer
// (default the peer's LAN address at the -msl-listen socket). Both
// servers need the same -key, at least 16 bytes in hex (or -key-file, a
// file holding it in hex). The server logs role changes to stderr,
// prints its status on SIGUSR1 or on the line "status" on its stdin,
// publishes its counters by expvar under "mirror" at -debug-addr
// (/debug/vars), and exits on SIGINT or SIGTERM.
//
// With -arbiter NET:NODE[:SOCKET] (socket default 4a01; give it to both
// servers) a server answers clients alone, or takes over from a failed
// primary, only in an epoch the arbiter granted it, so that even a full
// partition between the two servers cannot leave two primaries; but
// while the arbiter is unreachable neither server can go on alone. The
// arbiter's key is -arbiter-key HEX or -arbiter-key-file F, by default
// the MSL key. "mirrorkv arbiter" runs one (package mirror/ipxarbiter) on
// its link, prints its address, logs each grant and denial to stderr and
// exits on SIGINT or SIGTERM. Give it -state FILE, where it keeps its
// grants: without it a restarted arbiter may grant an epoch twice, which
// is what it is there to prevent. Run it on neither server.
//
// With -health-fail-file PATH a server's health check (run every
// -health-interval, default 1s) fails while PATH exists. An operator's
// "touch PATH" on the primary hands the primary role to the secondary,
// as a planned switchover does, if the secondary is mirrored and its own
// check passes; otherwise the primary stays and logs why. "rm PATH" ends
// the failure, but the role does not come back by itself (no
// preemption, as in SFT III). The status line shows the arbiter's last
// answer, the claims and denials, and the health check's state.
//
// The relay is a tunnel server for a pair: a plain udp.Server
// (ipxserver) drops the pair's replies, whose source is the internal
// address, as spoofed, and cannot route requests to the internal
// network. This one is a udp.Server with ServerConfig.Route: it relays
// as DOSBox does and routes by RIP.
//
// Example, on one machine:
//
//	mirrorkv relay -listen 127.0.0.1:2130 &
//	mirrorkv -udp-server 127.0.0.1:2130 -udp-local 127.0.0.1:4001 -role primary \
//	    -peer 1:7f0000010fa2 -key 000102030405060708090a0b0c0d0e0f &
//	mirrorkv -udp-server 127.0.0.1:2130 -udp-local 127.0.0.1:4002 -role secondary \
//	    -peer 1:7f0000010fa1 -key 000102030405060708090a0b0c0d0e0f &
//	mirrorkv client -udp-server 127.0.0.1:2130 put greeting hello
//
// The same pair with an arbiter (started first: a primary answers once
// granted an epoch), and a health check on each server:
//
//	mirrorkv relay -listen 127.0.0.1:2130 &
//	mirrorkv arbiter -udp-server 127.0.0.1:2130 -udp-local 127.0.0.1:4003 \
//	    -key 101112131415161718191a1b1c1d1e1f -state /var/lib/mirrorkv/arbiter.json &
//	# mirrorkv: arbiter at 00000001:7f0000010fa3:4a01 (grants kept in ...)
//	mirrorkv -udp-server 127.0.0.1:2130 -udp-local 127.0.0.1:4001 -role primary \
//	    -peer 1:7f0000010fa2 -key 000102030405060708090a0b0c0d0e0f \
//	    -arbiter 1:7f0000010fa3 -arbiter-key 101112131415161718191a1b1c1d1e1f \
//	    -health-fail-file /run/mirrorkv/a.fail &
//	mirrorkv -udp-server 127.0.0.1:2130 -udp-local 127.0.0.1:4002 -role secondary \
//	    -peer 1:7f0000010fa1 -key 000102030405060708090a0b0c0d0e0f \
//	    -arbiter 1:7f0000010fa3 -arbiter-key 101112131415161718191a1b1c1d1e1f \
//	    -health-fail-file /run/mirrorkv/b.fail &
//	touch /run/mirrorkv/a.fail    # the secondary becomes primary
//	rm /run/mirrorkv/a.fail
//
// A client sends one request, or with -batch each line of its stdin
// ("put KEY VALUE", "get KEY", "cas KEY OLD NEW") in turn as one client,
// printing a reply line for each.
//
// Exit status: 0 on success, 1 on failure (for a client: no reply, a key
// not found, a CAS that found another value), 2 on a usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
