// Command ipxping sends Novell IPX Ping requests (socket 0x9086, the
// protocol of IPXPING.NLM) to an IPX address and prints round-trip times
// and loss, like ping.
//
// Usage:
//
//	ipxping [flags] [network:node[:socket]]
//
// The link is chosen with -link:
//
//	memlan   self-contained demo: an in-memory segment where a second
//	         stack answers (the default target); -loss and -delay impair it
//	udp      the DOSBox IPX tunnel: -server host:port (default port 213)
//	ether    raw Ethernet on Linux: -I interface, -frame type; needs
//	         CAP_NET_RAW
//
// Examples:
//
//	ipxping -link memlan -c 4 -loss 0.25
//	ipxping -link udp -server 127.0.0.1:213 00000000:7f0000013039
//	ipxping -link ether -I eth0 -net 1 -c 5 00000001:02000000002a
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	kind     string        // -link: memlan, udp or ether
	link     linkflag.Link // -server, -I, -frame, -net; Kind set by openLink
	count    int
	interval time.Duration
	timeout  time.Duration
	size     int
	ptype    uint
	loss     float64
	delay    time.Duration
	dst      ipx.Addr
	dstSet   bool
}

const usageText = `usage: ipxping [flags] [network:node[:socket]]

Sends Novell IPX Ping requests (socket 9086 unless given) and prints
round-trip times and loss. The address is hex, e.g. 00000001:02000000002a.

  -link memlan   in-memory demo; a second stack on the segment answers
                 (default target), impaired with -loss and -delay
  -link udp      DOSBox IPX tunnel client of -server host[:port]
  -link ether    raw Ethernet on -I interface (Linux, CAP_NET_RAW)

Flags:
`

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := linkflag.NewFlagSet("ipxping", usageText, stderr)
	fs.StringVar(&o.kind, "link", "memlan", "link: memlan, udp or ether")
	fs.StringVar(&o.link.Server, "server", "127.0.0.1:213", "tunnel server for -link udp")
	fs.StringVar(&o.link.Iface, "I", "", "network interface for -link ether")
	o.link.RegisterSegment(fs)
	fs.IntVar(&o.count, "c", 0, "stop after `count` replies or timeouts (0: until interrupted)")
	fs.DurationVar(&o.interval, "i", time.Second, "`interval` between requests")
	fs.DurationVar(&o.timeout, "W", time.Second, "`timeout` for each reply")
	fs.IntVar(&o.size, "s", 56, "IPX packet `size` in bytes, header included (40..576)")
	fs.UintVar(&o.ptype, "t", uint(echo.PacketType), "IPX packet `type` of the requests")
	fs.Float64Var(&o.loss, "loss", 0, "memlan: packet loss probability")
	fs.DurationVar(&o.delay, "delay", 0, "memlan: one-way delay")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 1:
		return o, fmt.Errorf("one address expected, got %q", fs.Args())
	case o.count < 0:
		return o, fmt.Errorf("-c %d: negative count", o.count)
	case o.interval <= 0 || o.timeout <= 0:
		return o, errors.New("-i and -W must be positive")
	case o.size < ipx.HeaderLen+echo.HeaderLen || o.size > ipx.MaxPacketLen:
		return o, fmt.Errorf("-s %d: size must be %d..%d", o.size, ipx.HeaderLen+echo.HeaderLen, ipx.MaxPacketLen)
	case o.ptype > 0xFF:
		return o, fmt.Errorf("-t %d: packet type is one byte", o.ptype)
	case o.kind != "memlan" && (o.loss != 0 || o.delay != 0):
		return o, errors.New("-loss and -delay apply to -link memlan only")
	}
	if fs.NArg() == 1 {
		a, err := parseTarget(fs.Arg(0))
		if err != nil {
			return o, err
		}
		o.dst, o.dstSet = a, true
	}
	return o, nil
}

// parseTarget parses network:node[:socket], the socket defaulting to
// echo.Socket.
func parseTarget(s string) (ipx.Addr, error) {
	if a, err := ipx.ParseAddr(s); err == nil {
		return a, nil
	}
	return ipx.ParseAddr(s + ":" + echo.Socket.String())
}

// run is main without the process: it returns the exit status, 0 if any
// reply came, 1 if none did or the link failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ipxping:", err)
		return 2
	}
	stack, target, closeAll, err := openLink(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "ipxping:", err)
		return 1
	}
	defer closeAll()
	if o.dstSet {
		target = o.dst
	}
	if target == (ipx.Addr{}) {
		fmt.Fprintln(stderr, "ipxping: no address given")
		return 2
	}
	conn, err := stack.Listen(0)
	if err != nil {
		fmt.Fprintln(stderr, "ipxping:", err)
		return 1
	}
	// Closing the Conn on interrupt ends a pending wait at once.
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClose()
	return pingLoop(ctx, o, echo.NewClient(conn), target, stdout, stderr)
}

func pingLoop(ctx context.Context, o options, c *echo.Client, dst ipx.Addr, stdout, stderr io.Writer) int {
	c.Type = ipx.PacketType(o.ptype)
	pad := o.size - ipx.HeaderLen - echo.HeaderLen
	fmt.Fprintf(stdout, "PING %v: %d bytes (%d-byte ping header, %d data)\n", dst, o.size, echo.HeaderLen, pad)
	var st rttStats
	for id := 0; o.count == 0 || id < o.count; id++ {
		start := time.Now()
		rep, err := c.Ping(dst, uint16(id), pad, o.timeout)
		st.sent++
		switch {
		case err == nil:
			st.add(rep.RTT)
			fmt.Fprintf(stdout, "%d bytes from %v: id=%d hops=%d time=%s\n",
				rep.Len+ipx.HeaderLen, rep.From, id, rep.Hops, ms(rep.RTT))
		case echo.IsTimeout(err):
			fmt.Fprintf(stdout, "request timeout for id=%d\n", id)
		case ctx.Err() != nil:
			st.sent-- // interrupted, not lost
		default:
			fmt.Fprintln(stderr, "ipxping:", err)
			st.print(stdout, dst)
			return 1
		}
		if ctx.Err() != nil || (o.count != 0 && id+1 == o.count) {
			break
		}
		if wait := o.interval - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			break
		}
	}
	st.print(stdout, dst)
	if st.received == 0 {
		return 1
	}
	return 0
}

// rttStats accumulates what ping prints at the end.
type rttStats struct {
	sent, received      int
	min, max, sum, sum2 float64 // milliseconds
}

func (s *rttStats) add(d time.Duration) {
	v := float64(d) / float64(time.Millisecond)
	if s.received == 0 || v < s.min {
		s.min = v
	}
	s.max = max(s.max, v)
	s.sum += v
	s.sum2 += v * v
	s.received++
}

func (s *rttStats) print(w io.Writer, dst ipx.Addr) {
	fmt.Fprintf(w, "--- %v ipxping statistics ---\n", dst)
	loss := 0.0
	if s.sent > 0 {
		loss = 100 * float64(s.sent-s.received) / float64(s.sent)
	}
	fmt.Fprintf(w, "%d packets transmitted, %d received, %.1f%% packet loss\n", s.sent, s.received, loss)
	if s.received > 0 {
		n := float64(s.received)
		avg := s.sum / n
		mdev := math.Sqrt(max(s.sum2/n-avg*avg, 0))
		fmt.Fprintf(w, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", s.min, avg, s.max, mdev)
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}
