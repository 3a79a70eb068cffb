// Command ipxping sends Novell IPX Ping requests (socket 0x9086, the
// protocol of IPXPING.NLM) to an IPX address and prints round-trip times
// and loss, like ping.
//
// Usage:
//
//	ipxping [flags] LINK [network:node[:socket]]
//
// LINK is one of:
//
//	-memlan-demo              self-contained demo: an in-memory segment where
//	                          a second stack answers (the default target);
//	                          -loss and -delay impair it
//	-udp-server host:port     the DOSBox IPX tunnel (default port 213)
//	-ether IFACE[:frame[:net]] raw Ethernet on Linux; needs CAP_NET_RAW
//
// Something must answer: ipxserver -echo, ipxroute -echo, a NetWare server
// with IPXPING.NLM loaded or a Cisco router.
//
// Examples:
//
//	ipxping -memlan-demo -c 4 -loss 0.25
//	ipxping -udp-server 127.0.0.1:21300 -c 3 00000000:7f0000015334
//	ipxping -ether eth0:802.2:1 -c 5 00000001:02000000002a
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
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
	link     linkflag.Link
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

const usageText = `usage: ipxping [flags] LINK [network:node[:socket]]

Sends Novell IPX Ping requests (socket 9086 unless given) and prints
round-trip times and loss. The address is hex, e.g. 00000001:02000000002a.
LINK is one of:

  -memlan-demo              in-memory demo; a second stack on the segment
                            answers (the default target), impaired with
                            -loss and -delay
  -udp-server host[:port]   DOSBox IPX tunnel server (default port 213)
  -ether IFACE[:frame[:net]] raw Ethernet (Linux, CAP_NET_RAW)

On a real link something must answer: ipxserver -echo or ipxroute -echo,
IPXPING.NLM on a NetWare server, or a Cisco router.

Flags:
`

// routeWait bounds the wait for a route to another network: routers
// answer the RIP request sent at start at once.
const routeWait = 3 * time.Second

// minSize is the smallest ping: an IPX header and a ping header.
const minSize = ipx.HeaderLen + echo.HeaderLen

// parse reads the command line; its errors are usage errors.
func parse(args []string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := linkflag.NewFlagSet("ipxping", usageText)
	o.link.Register(fs, "ping a responder on an in-memory demo segment")
	fs.IntVar(&o.count, "c", 0, "stop after `count` replies or timeouts (0: until interrupted)")
	fs.DurationVar(&o.interval, "i", time.Second, "`interval` between requests")
	fs.DurationVar(&o.timeout, "W", time.Second, "`timeout` for each reply")
	fs.IntVar(&o.size, "s", 56, fmt.Sprintf("IPX packet `size` in bytes, header included (%d up to the link's MTU)", minSize))
	fs.UintVar(&o.ptype, "t", uint(echo.PacketType), "IPX packet `type` of the requests")
	fs.Float64Var(&o.loss, "loss", 0, "-memlan-demo: packet loss `probability`, 0 to 1")
	fs.DurationVar(&o.delay, "delay", 0, "-memlan-demo: one-way `delay`")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	return o, fs, o.check(fs)
}

// check validates the flags after parsing.
func (o *options) check(fs *flag.FlagSet) error {
	if err := o.link.Choose(); err != nil {
		return err
	}
	demo := o.link.Kind == linkflag.Demo
	switch {
	case fs.NArg() > 1:
		return linkflag.Usagef("one address expected, got %q", fs.Args())
	case fs.NArg() == 0 && !demo:
		return linkflag.Usagef("no address to ping")
	case o.count < 0:
		return linkflag.Usagef("-c %d: negative count", o.count)
	case o.interval <= 0:
		return linkflag.Usagef("-i %v: the interval must be positive", o.interval)
	case o.timeout <= 0:
		return linkflag.Usagef("-W %v: the timeout must be positive", o.timeout)
	case o.size < minSize:
		return linkflag.Usagef("-s %d: a ping is at least %d bytes (IPX and ping headers)", o.size, minSize)
	case o.size > math.MaxUint16:
		return linkflag.Usagef("-s %d: over the link's MTU", o.size)
	case o.ptype > 0xFF:
		return linkflag.Usagef("-t %d: the packet type is one byte (0 to 255)", o.ptype)
	case !(o.loss >= 0 && o.loss <= 1):
		return linkflag.Usagef("-loss %v: a probability is 0 to 1", o.loss)
	case o.delay < 0:
		return linkflag.Usagef("-delay %v: negative delay", o.delay)
	case !demo && (o.loss != 0 || o.delay != 0):
		return linkflag.Usagef("-loss and -delay apply to -memlan-demo only")
	}
	if fs.NArg() == 1 {
		a, err := linkflag.ParseAddr(fs.Arg(0), echo.Socket)
		if err != nil {
			return linkflag.Usagef("%v", err)
		}
		o.dst, o.dstSet = a, true
	}
	return nil
}

// run is main without the process: it returns the exit status, 0 if any
// reply came, 1 if none did or the link failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parse(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
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
	if mtu := linkMTU(stack); o.size > mtu {
		return linkflag.Usage(stderr, fs, linkflag.Usagef("-s %d: over the link's MTU of %d bytes", o.size, mtu))
	}
	if o.link.Kind != linkflag.Demo {
		// Another network is reached through a router RIP told of.
		wctx, cancel := context.WithTimeout(ctx, routeWait)
		err := o.link.WaitRoute(wctx, stack, target.Net)
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "ipxping:", err)
			return 1
		}
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

// linkMTU is the largest packet every link of s carries.
func linkMTU(s *ipx.Stack) int {
	mtu := math.MaxInt
	for _, l := range s.Links() {
		mtu = min(mtu, l.MTU)
	}
	return mtu
}

// notSent reports whether err is a failure to send the request, which
// then does not count as transmitted.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "write"
}

func pingLoop(ctx context.Context, o *options, c *echo.Client, dst ipx.Addr, stdout, stderr io.Writer) int {
	c.Type = ipx.PacketType(o.ptype)
	pad := o.size - minSize
	fmt.Fprintf(stdout, "PING %v: %d bytes (%d-byte ping header, %d data)\n", dst, o.size, echo.HeaderLen, pad)
	var st rttStats
	status := 0
	for id := 0; o.count == 0 || id < o.count; id++ {
		start := time.Now()
		rep, err := c.Ping(dst, uint16(id), pad, o.timeout)
		switch {
		case err == nil:
			st.sent++
			st.add(rep.RTT)
			short := ""
			if got := rep.Len + ipx.HeaderLen; got < o.size {
				short = fmt.Sprintf(" (short: %d bytes sent)", o.size)
			}
			fmt.Fprintf(stdout, "%d bytes from %v: id=%d hops=%d time=%s%s\n",
				rep.Len+ipx.HeaderLen, rep.From, id, rep.Hops, ms(rep.RTT), short)
		case echo.IsTimeout(err):
			st.sent++
			fmt.Fprintf(stdout, "request timeout for id=%d\n", id)
		case ctx.Err() != nil:
			// Interrupted: the request went but its wait was cut short,
			// so it is neither answered nor lost.
		default:
			if !notSent(err) {
				st.sent++
			}
			fmt.Fprintln(stderr, "ipxping:", err)
			status = 1
		}
		if status != 0 || ctx.Err() != nil || (o.count != 0 && id+1 == o.count) {
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
	return status
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
