// Command mirrorkv runs one server of a mirrored key-value pair, a client
// of one, or a tunnel relay that carries a pair, each as its own process.
//
// Usage:
//
//	mirrorkv [link flags] -role primary|secondary -peer NET:NODE -key HEX [flags]
//	mirrorkv client [link flags] [-server NET:NODE:SOCKET] put KEY VALUE
//	mirrorkv client [link flags] get KEY
//	mirrorkv client [link flags] cas KEY OLD NEW
//	mirrorkv client [link flags] -batch < requests
//	mirrorkv relay [-listen host:port]
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
// The relay is a tunnel server for a pair: udp.Server (ipxserver) drops
// the pair's replies, whose source is the internal address, as spoofed,
// and cannot route requests to the internal network. This one relays as
// DOSBox does and routes by RIP.
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
