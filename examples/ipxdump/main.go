// Command ipxdump prints one line per IPX packet of a capture file or a
// live interface, tcpdump style:
//
//	00:00:00.000000 Ethernet_II 00000001:0a0b0c0d0e0f:4001 > 00000001:ffffffffffff:0453: RIP len 40 hops 0
//
// that is: time (UTC), how the packet travelled (its Ethernet frame type,
// or UDP and the IP addresses and ports of a DOSBox-style tunnel on any
// port), source > destination, the protocol (RIP, SAP or SPX when the
// package decoding it is linked in, see the import_*.go files, else the
// IPX packet type), IPX length, hop count, then a one-line summary of the
// protocol. Frames that carry no IPX are skipped and counted; a summary
// line on standard error always ends the dump.
//
// Usage:
//
//	ipxdump -r capture.pcap
//	ipxdump -ether eth0      (Linux; needs CAP_NET_RAW)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
)

const usage = `usage: ipxdump (-r FILE | -ether IFACE) [-c COUNT]

Print one line per IPX packet: time (UTC), how it travelled (Ethernet
II, 802.3 raw, 802.2 or SNAP, or UDP for a DOSBox-style tunnel on any
port), source > destination, protocol, length, hops, and a summary of
the RIP, SAP or SPX layer when it is decoded.

  -r FILE       read a pcap or pcapng capture: Ethernet, raw IP,
                Linux cooked or BSD loopback
  -ether IFACE  capture live on a network interface (Linux only, needs
                CAP_NET_RAW); -i is the same
  -c COUNT      stop after COUNT IPX packets (0: no limit)
  -h            show this help

Example:
  go run ./examples/ipxdump -r examples/ipxdump/testdata/sample.pcap
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	file, iface string
	count       int
}

// parse reads the command line; its errors are usage errors.
func parse(args []string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := linkflag.NewFlagSet("ipxdump", usage)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	fs.StringVar(&o.file, "r", "", "")
	fs.StringVar(&o.iface, "ether", "", "")
	fs.StringVar(&o.iface, "i", "", "")
	fs.IntVar(&o.count, "c", 0, "")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fs, linkflag.Usagef("unexpected argument %q", fs.Arg(0))
	case (o.file == "") == (o.iface == ""):
		return o, fs, linkflag.Usagef("give exactly one of -r FILE and -ether IFACE")
	case o.count < 0:
		return o, fs, linkflag.Usagef("-c %d: must not be negative", o.count)
	}
	return o, fs, nil
}

// run is main without the process: it dumps to stdout, reports the
// counts on stderr and returns the exit status: 0, 1 if reading failed,
// 2 for a usage error. The end of ctx ends a live capture, cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parse(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	d := &dumper{w: stdout, limit: o.count, status: stderr}
	if o.file != "" {
		err = d.readFile(o.file)
	} else {
		err = d.readLive(ctx, o.iface)
	}
	d.summary(stderr, err)
	if err != nil {
		if !errors.Is(err, errTruncated) {
			fmt.Fprintln(stderr, "ipxdump:", err)
		}
		return 1
	}
	return 0
}
