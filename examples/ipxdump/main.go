// Command ipxdump prints one line per IPX frame of a capture file or a
// live interface, tcpdump style:
//
//	00:00:00.000000 Ethernet_II 00000001:0a0b0c0d0e0f:4001 > 00000001:ffffffffffff:0453: RIP len 40 hops 0
//
// that is: time (UTC), frame type, source > destination, packet type,
// IPX length, hop count, then a one-line summary of the RIP, SAP or SPX
// layer after IPX when the package decoding it is linked in (see the
// import_*.go files). Frames that carry no IPX are skipped and counted.
//
// Usage:
//
//	ipxdump -r capture.pcap
//	ipxdump -i eth0          (Linux; needs CAP_NET_RAW)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: ipxdump (-r FILE | -i IFACE) [-c COUNT]

Print one line per IPX frame (Ethernet II, 802.3 raw, 802.2 or SNAP):
time (UTC), frame type, source > destination, packet type, length, hops,
and a summary of the RIP, SAP or SPX layer when it is decoded.

  -r FILE   read a pcap or pcapng capture with Ethernet link type
  -i IFACE  capture live on a network interface (Linux only, needs
            CAP_NET_RAW)
  -c COUNT  stop after COUNT IPX frames (0: no limit)
  -h        show this help

Example:
  go run ./examples/ipxdump -r examples/ipxdump/testdata/sample.pcap
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ipxdump:", err)
		os.Exit(1)
	}
}

// run is main without the process: it parses args, dumps to stdout and
// reports the skipped-frame count on stderr.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ipxdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	file := fs.String("r", "", "")
	iface := fs.String("i", "", "")
	count := fs.Int("c", 0, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (*file == "") == (*iface == "") {
		fs.Usage()
		return errors.New("give exactly one of -r and -i")
	}
	if *count < 0 {
		return errors.New("-c must not be negative")
	}
	d := &dumper{w: stdout, limit: *count}
	var err error
	if *file != "" {
		err = d.readFile(*file)
	} else {
		err = d.readLive(*iface)
	}
	if d.skipped > 0 {
		fmt.Fprintf(stderr, "ipxdump: %d IPX frames, %d other frames skipped\n", d.printed, d.skipped)
	}
	return err
}
