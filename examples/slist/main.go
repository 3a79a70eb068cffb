// Command slist lists the servers of one SAP service type on an IPX
// network, like NetWare's SLIST: name, network, node and hops of every
// server that answers a general SAP query.
//
// Usage:
//
//	slist [flags]
//
// One link is used:
//
//	-memlan-demo          self-contained demo: an in-memory network with a
//	                      few servers, one of them behind a router
//	-udp-server host:port the DOSBox IPX tunnel server (port 213 by default)
//	-ether IFACE[:frame[:net]]
//	                      raw Ethernet on Linux (needs CAP_NET_RAW)
//
// On a tunnel, ipxserver -sap or ipxroute -sap advertises services for
// slist to find.
//
// Examples:
//
//	slist -memlan-demo
//	slist -memlan-demo -type 7
//	slist -udp-server 127.0.0.1:21300
//	slist -ether eth0:802.2:1 -type ffff
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/sap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	link     linkflag.Link
	typ      sap.ServiceType
	wait     time.Duration
	attempts int
	nearest  bool
}

const usageText = `usage: slist [flags]

Lists the servers of a SAP service type (file servers, 0004, by default)
that answer a general query on the chosen link: name, network, node, hops.

  -memlan-demo             in-memory demo network with a few servers
  -udp-server host[:port]  DOSBox IPX tunnel server (default port 213)
  -ether IFACE[:frame[:net]]
                           raw Ethernet on Linux (CAP_NET_RAW)

On a tunnel, ipxserver -sap or ipxroute -sap advertises services.

Flags:
`

// parse reads the command line; its errors are usage errors.
func parse(args []string) (*options, *flag.FlagSet, error) {
	o := &options{typ: sap.TypeFileServer}
	fs := linkflag.NewFlagSet("slist", usageText)
	o.link.Register(fs, "query a self-contained in-memory demo network")
	fs.Func("type", "service `type` in hex: 4 file servers, 7 print servers, ffff all (default 4)", func(s string) error {
		v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
		if err != nil || v == 0 {
			return fmt.Errorf("%q is not a service type: 1 to ffff in hex", s)
		}
		o.typ = sap.ServiceType(v)
		return nil
	})
	fs.DurationVar(&o.wait, "wait", sap.DefaultWait, "how long to collect answers to each query")
	fs.IntVar(&o.attempts, "attempts", sap.DefaultAttempts, "queries sent before giving up when nobody answers")
	fs.BoolVar(&o.nearest, "nearest", false, "ask for the nearest server only (a nearest query)")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		return o, fs, linkflag.Usagef("unexpected arguments %q", fs.Args())
	}
	if err := o.link.Choose(); err != nil {
		return o, fs, err
	}
	switch {
	case o.wait <= 0:
		return o, fs, linkflag.Usagef("-wait %v: must be positive", o.wait)
	case o.attempts <= 0:
		return o, fs, linkflag.Usagef("-attempts %d: must be positive", o.attempts)
	case o.link.Kind == linkflag.Demo && o.link.Network+1 >= ipx.NetworkDefault:
		return o, fs, linkflag.Usagef("-net %v: the demo numbers its second network -net plus 1, which must be below fffffffe", o.link.Network)
	}
	return o, fs, nil
}

// run is main without the process: 0 if servers were found, 1 if none
// answered or the link failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parse(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	stack, closeAll, err := openLink(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "slist:", err)
		return 1
	}
	defer closeAll()
	conn, err := stack.Listen(0)
	if err != nil {
		fmt.Fprintln(stderr, "slist:", err)
		return 1
	}
	defer conn.Close()
	c, err := sap.NewClient(conn, sap.ClientConfig{Wait: o.wait, Attempts: o.attempts})
	if err != nil {
		fmt.Fprintln(stderr, "slist:", err)
		return 2
	}
	var found []sap.Reply
	if o.nearest {
		var r sap.Reply
		r, err = c.Nearest(ctx, o.typ)
		found = []sap.Reply{r}
	} else {
		found, err = c.Query(ctx, o.typ)
	}
	if errors.Is(err, sap.ErrNoService) {
		fmt.Fprintf(stdout, "No servers of type %04x found\n", uint16(o.typ))
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "slist:", err)
		return 1
	}
	print(stdout, o.typ, found)
	return 0
}

// print writes the table in SLIST's spirit: one server a line.
func print(w io.Writer, typ sap.ServiceType, rs []sap.Reply) {
	fmt.Fprintf(w, "Known %s\n\n", kind(typ))
	fmt.Fprintf(w, "%-47s  %-8s  %-12s  %4s\n", "Name", "Network", "Node", "Hops")
	fmt.Fprintf(w, "%-47s  %-8s  %-12s  %4s\n", strings.Repeat("-", 4), strings.Repeat("-", 8), strings.Repeat("-", 12), strings.Repeat("-", 4))
	for _, r := range rs {
		name := r.Name.String()
		if typ == sap.TypeWildcard {
			name = fmt.Sprintf("%s (%04x)", name, uint16(r.Type))
		}
		fmt.Fprintf(w, "%-47s  %-8s  %-12s  %4d\n", name, r.Addr.Net, r.Addr.Node, r.Hops)
	}
	s := "s"
	if len(rs) == 1 {
		s = ""
	}
	fmt.Fprintf(w, "\nTotal of %d server%s found\n", len(rs), s)
}

func kind(typ sap.ServiceType) string {
	switch typ {
	case sap.TypeFileServer:
		return "NetWare File Servers"
	case sap.TypePrintServer:
		return "Print Servers"
	case sap.TypeWildcard:
		return "servers of every type"
	}
	return fmt.Sprintf("servers of type %04x", uint16(typ))
}
