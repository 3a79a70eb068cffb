// Command ipxroute is an IPX RIP router between links named by flags. It
// joins, for example, DOSBox games on a UDP tunnel to a real Ethernet LAN,
// forwarding packets between them and exchanging routes with NetWare
// routers and servers, and prints its routing table whenever it changes.
//
// Usage:
//
//	ipxroute [flags]
//
// Links (each flag may be repeated; at least one link is needed):
//
//	-udp-server host:port[/net]    join a DOSBox IPX tunnel server as a
//	                               client; net (hex) numbers that segment
//	-udp-listen host:port/net      be the tunnel server DOSBox clients
//	                               connect to (ipxnet connect), routing
//	                               for them; net (hex) numbers the tunnel
//	-udp-peer LOCAL=REMOTE/net     point-to-point IPX over UDP to another
//	                               router (IPv4 host:port each end)
//	-ether IFACE:frame:net         raw Ethernet (Linux, CAP_NET_RAW);
//	                               frame is auto, ethernet_ii, 802.3,
//	                               802.2 or snap; net in hex
//	-memlan-demo                   self-contained demo on in-memory
//	                               segments with two more routers
//
// A DOSBox tunnel server relays by the nodes in the IPX header and knows
// no routers, so to forward between a tunnel and other networks the
// router must be the tunnel server (-udp-listen): it then receives every
// packet for a node the server does not know. As a client of another
// server (-udp-server) it exchanges routes over the tunnel but cannot
// forward through it: the server relays only what a client sends from
// its own node. Two routing tunnel servers are joined by -udp-peer:
//
//	ipxroute -udp-listen 127.0.0.1:21301/a -udp-peer 127.0.0.1:21311=127.0.0.1:21312/c
//	ipxroute -udp-listen 127.0.0.1:21302/b -udp-peer 127.0.0.1:21312=127.0.0.1:21311/c
//
// A client of either tunnel learns its network number from the router
// (linkflag.DialTunnel) and reaches the other.
//
// It runs SAP as routers do, passing the services heard on one link to
// the others, and can be a server itself:
//
//	-echo                          answer ipxping (socket 9086)
//	-sap TYPE:NAME:SOCKET          advertise a service (hex type and
//	                               socket, e.g. 4:FS1:0451; repeatable)
//
// Port 213, the tunnel's usual port, needs root; any port above 1023
// does not.
//
// Examples:
//
//	ipxroute -memlan-demo -duration 3m
//	ipxroute -udp-listen 127.0.0.1:21300/a -echo -sap 4:FS1:0451
//	ipxroute -udp-listen 0.0.0.0:213/b -ether eth0:802.2:0000000a
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/examples/internal/serve"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/sap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage: ipxroute [flags]

An IPX RIP router between the links named by flags (each may repeat).
It forwards packets between them and prints its table on every change.

  -udp-server host:port[/net]  DOSBox IPX tunnel client; net in hex
  -udp-listen host:port/net    be a DOSBox IPX tunnel server and route
                               for its clients; net in hex
  -udp-peer LOCAL=REMOTE/net   point-to-point IPX over UDP to another
                               router: joins two -udp-listen routers
  -ether IFACE:frame:net       raw Ethernet (Linux, CAP_NET_RAW); frame is
                               auto, ethernet_ii, 802.3, 802.2 or snap
  -memlan-demo                 in-memory demo with two more routers

It passes SAP between its links too; with -echo it answers ipxping and
with -sap TYPE:NAME:SOCKET (repeatable) it advertises a service. Port
213 needs root: choose one above 1023 to run unprivileged.

Flags:
`

// listFlag collects the values of a repeated flag.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(*l, " ") }

// Set implements flag.Value: each use of the flag adds a value.
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	udp, udpListen, ether []string
	peers                 []string
	demo                  bool
	interval              time.Duration
	duration              time.Duration
	verbose               bool
	services              serve.Flags
}

// parse reads the command line; its errors are usage errors.
func parse(args []string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := linkflag.NewFlagSet("ipxroute", usageText)
	fs.Var((*listFlag)(&o.udp), "udp-server", "DOSBox tunnel server `host:port[/net]` to join (repeatable)")
	fs.Var((*listFlag)(&o.udpListen), "udp-listen", "run a tunnel server on `host:port/net` and route for its clients (repeatable)")
	fs.Var((*listFlag)(&o.ether), "ether", "raw Ethernet link `IFACE:frame:net` (repeatable)")
	fs.Var((*listFlag)(&o.peers), "udp-peer", "point-to-point IPX over UDP to another router, `LOCAL=REMOTE/net` (repeatable)")
	fs.BoolVar(&o.demo, "memlan-demo", false, "run on in-memory segments with two demo routers")
	fs.DurationVar(&o.interval, "interval", rip.DefaultUpdateInterval, "RIP and SAP broadcast `interval`")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this `duration` (0: until interrupted)")
	fs.BoolVar(&o.verbose, "v", false, "log route changes and errors to stderr")
	o.services.Register(fs)
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fs, linkflag.Usagef("unexpected arguments %q", fs.Args())
	case len(o.udp) == 0 && len(o.udpListen) == 0 && len(o.ether) == 0 && len(o.peers) == 0 && !o.demo:
		return o, fs, linkflag.Usagef("no links: give -udp-server, -udp-listen, -udp-peer, -ether or -memlan-demo")
	case o.interval <= 0:
		return o, fs, linkflag.Usagef("-interval %v: must be positive", o.interval)
	case o.duration < 0:
		return o, fs, linkflag.Usagef("-duration %v: must not be negative", o.duration)
	}
	// Check every link's value before opening any.
	for _, spec := range o.udp {
		if _, _, _, err := parseUDP(spec); err != nil {
			return o, fs, linkflag.Usagef("-udp-server %v", err)
		}
	}
	for _, spec := range o.udpListen {
		if _, _, err := parseUDPListen(spec); err != nil {
			return o, fs, linkflag.Usagef("-udp-listen %v", err)
		}
	}
	for _, spec := range o.ether {
		if _, _, _, err := parseEther(spec); err != nil {
			return o, fs, linkflag.Usagef("-ether %v", err)
		}
	}
	for _, spec := range o.peers {
		if _, _, _, err := parsePeer(spec); err != nil {
			return o, fs, linkflag.Usagef("-udp-peer %v", err)
		}
	}
	return o, fs, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parse(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	stack, err := ipx.NewStack(ipx.StackConfig{Forward: true, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "ipxroute:", err)
		return 1
	}
	// Closed in this order at the end: what runs on the Stack, the Stack
	// with its links, then the tunnel servers whose Ports were links, so
	// that nothing reports a link the program closed itself.
	var servers []*udp.Server
	defer func() {
		stack.Close()
		for _, srv := range servers {
			srv.Close()
		}
	}()
	var demo *demoNet
	if o.demo {
		demo, err = startDemo(stack, o.interval)
		if err != nil {
			fmt.Fprintln(stderr, "ipxroute:", err)
			return 1
		}
		defer demo.close()
	}
	for _, s := range o.udp {
		if err := addUDP(ctx, stack, s); err != nil {
			fmt.Fprintln(stderr, "ipxroute:", err)
			return 1
		}
	}
	for _, s := range o.udpListen {
		srv, err := addUDPServer(stack, s, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "ipxroute:", err)
			return 1
		}
		servers = append(servers, srv)
	}
	for _, s := range o.peers {
		if err := addPeer(stack, s); err != nil {
			fmt.Fprintln(stderr, "ipxroute:", err)
			return 1
		}
	}
	for _, s := range o.ether {
		if err := addEther(stack, s); err != nil {
			fmt.Fprintln(stderr, "ipxroute:", err)
			return 1
		}
	}
	for _, l := range stack.Links() {
		fmt.Fprintf(stdout, "link %d: network %v node %v mtu %d\n", l.ID, l.Network, l.Node, l.MTU)
	}
	router, err := rip.NewRouter(stack, rip.Config{UpdateInterval: o.interval, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "ipxroute:", err)
		return 1
	}
	defer router.Close()
	// Subscribed before anything else can delay it: the routes learned
	// so far print as the changes they were.
	sub, known := router.Table().SubscribeRoutes(1024)
	defer sub.Close()
	for _, r := range known {
		if r.Origin == rip.OriginRIP {
			printEvent(stdout, rip.Event{Network: r.Network, New: r, Reason: rip.ReasonNew})
		}
	}
	// A router carries SAP too: its Advertiser passes the services it
	// hears on one link to the others, and advertises -sap's.
	svc, err := serve.Start(stack, o.services, true, sap.Config{Interval: o.interval, Routes: router.Table(), Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "ipxroute:", err)
		return 1
	}
	defer svc.Close()
	for _, e := range o.services.SAP {
		fmt.Fprintf(stdout, "advertising %04x %s on socket %v\n", uint16(e.Type), e.Name, e.Addr.Socket)
	}
	if o.services.Echo {
		fmt.Fprintf(stdout, "answering ipxping on socket %v\n", echo.Socket)
	}
	if demo != nil {
		go demo.script(ctx)
	}
	watch(ctx, router.Table(), sub, stdout)
	return 0
}

// watch prints each change of best route, then the whole table, until
// ctx ends. Changes that come together (one update) print one table.
func watch(ctx context.Context, table *rip.Table, sub *rip.Subscription, w io.Writer) {
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			printEvent(w, ev)
		}
		settle := time.NewTimer(100 * time.Millisecond)
	gather:
		for {
			select {
			case ev := <-sub.C:
				printEvent(w, ev)
			case <-settle.C:
				break gather
			case <-ctx.Done():
				settle.Stop()
				return
			}
		}
		printTable(w, table, time.Since(start))
	}
}

func printEvent(w io.Writer, ev rip.Event) {
	fmt.Fprintf(w, "change %v: %v, now %s\n", ev.Network, ev.Reason, describe(ev.New))
}

func describe(r rip.Route) string {
	switch {
	case r.Origin == rip.OriginConnected:
		return fmt.Sprintf("connected on link %d", r.Link)
	case !r.Reachable():
		return "unreachable"
	}
	return fmt.Sprintf("%d hops %d ticks via link %d node %v", r.Hops, r.Ticks, r.Link, r.NextHop)
}

// printTable writes the table in columns.
func printTable(w io.Writer, table *rip.Table, at time.Duration) {
	now := time.Now()
	routes := table.Routes()
	fmt.Fprintf(w, "routing table at +%v, %d routes:\n", at.Round(time.Millisecond), len(routes))
	fmt.Fprintf(w, "  %-8s %4s %5s %4s %-12s %-9s %s\n", "network", "hops", "ticks", "link", "next hop", "origin", "age")
	for _, r := range routes {
		hops := strconv.Itoa(int(r.Hops))
		if !r.Reachable() {
			hops = "16"
		}
		next, age := "-", "-"
		if r.Origin == rip.OriginRIP {
			next = r.NextHop.String()
			age = r.Age(now).Round(time.Second).String()
		}
		fmt.Fprintf(w, "  %-8v %4s %5d %4d %-12s %-9v %s\n", r.Network, hops, r.Ticks, r.Link, next, r.Origin, age)
	}
}
