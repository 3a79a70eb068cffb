// Command spxcat is netcat for SPX: it connects to an SPX listener, or
// listens for one connection, and copies standard input to the connection
// and the connection to standard output.
//
// Usage:
//
//	spxcat [flags] network:node:socket   dial
//	spxcat [flags] -l [-p socket]        listen for one connection
//
// One link is used:
//
//	-memlan-demo          self-contained demo: an in-memory segment where a
//	                      second stack runs an SPX echo service, dialled
//	                      when no address is given; -loss impairs it
//	-udp-server host:port the DOSBox IPX tunnel server (port 213 by default)
//	-ether IFACE[:frame[:net]]
//	                      raw Ethernet on Linux (needs CAP_NET_RAW)
//
// At the end of standard input spxcat releases its direction of an SPX II
// connection (the peer reads end of file and may still answer); it exits
// when the peer's data ends too. A plain SPX connection has no
// half-close, so there spxcat waits for the peer to end the connection,
// as netcat does. An interrupt ends the connection.
//
// Examples:
//
//	echo hello | spxcat -memlan-demo
//	spxcat -udp-server 127.0.0.1:21300 -l -p 5000
//	spxcat -udp-server 127.0.0.1:21300 00000000:7f0000013039:5000 < file
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
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/spx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	link    linkflag.Link
	listen  bool
	socket  uint64
	plain   bool
	loss    float64
	timeout time.Duration
	verbose bool
	dst     ipx.Addr
	dstSet  bool
}

const usageText = `usage: spxcat [flags] network:node:socket   (dial)
       spxcat [flags] -l [-p socket]        (listen for one connection)

Copies standard input to an SPX connection and the connection to standard
output. Addresses and sockets are hex, e.g. 00000001:02000000002a:5000.

Link (choose one):
  -memlan-demo           in-memory segment with an SPX echo service,
                         dialled when no address is given
  -udp-server host:port  DOSBox IPX tunnel server
  -ether IFACE[:frame[:net]]
                         raw Ethernet (Linux, CAP_NET_RAW)

Flags:
`

// parse reads the command line; its errors are usage errors.
func parse(args []string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := linkflag.NewFlagSet("spxcat", usageText)
	o.link.Register(fs, "use an in-memory segment with an SPX echo service")
	fs.BoolVar(&o.listen, "l", false, "listen for one connection instead of dialling")
	o.socket = 0x5000
	fs.Var((*hexValue)(&o.socket), "p", "`socket` (hex) to listen on with -l")
	fs.BoolVar(&o.plain, "plain", false, "speak plain SPX only (no SPX II, packets of at most 576 bytes)")
	fs.Float64Var(&o.loss, "loss", 0, "packet loss probability on the -memlan-demo segment")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up registering with the tunnel server and dialling after `duration`")
	fs.BoolVar(&o.verbose, "v", false, "report the connection and its counters on standard error")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if err := o.link.Choose(); err != nil {
		return o, fs, err
	}
	demo := o.link.Kind == linkflag.Demo
	switch {
	case fs.NArg() > 1:
		return o, fs, linkflag.Usagef("one address expected, got %q", fs.Args())
	case o.listen && fs.NArg() == 1:
		return o, fs, linkflag.Usagef("-l takes no address")
	case !o.listen && !demo && fs.NArg() == 0:
		return o, fs, linkflag.Usagef("no address to dial")
	case o.socket == 0 || o.socket > math.MaxUint16:
		return o, fs, linkflag.Usagef("-p %x: a socket is 1 to ffff", o.socket)
	case !(o.loss >= 0 && o.loss < 1):
		return o, fs, linkflag.Usagef("-loss %v: want 0 <= loss < 1", o.loss)
	case o.loss != 0 && !demo:
		return o, fs, linkflag.Usagef("-loss applies to -memlan-demo only")
	case o.timeout <= 0:
		return o, fs, linkflag.Usagef("-timeout %v: must be positive", o.timeout)
	}
	if fs.NArg() == 1 {
		a, err := linkflag.ParseAddr(fs.Arg(0), 0)
		if err != nil {
			return o, fs, linkflag.Usagef("%v", err)
		}
		o.dst, o.dstSet = a, true
	}
	return o, fs, nil
}

// hexValue is a flag.Value for numbers written in hex, as IPX numbers
// are: here the socket of -p.
type hexValue uint64

func (h *hexValue) String() string { return fmt.Sprintf("%x", uint64(*h)) }

func (h *hexValue) Set(s string) error {
	var v uint64
	if _, err := fmt.Sscanf(strings.TrimPrefix(s, "0x"), "%x", &v); err != nil {
		return fmt.Errorf("not hex: %q", s)
	}
	*h = hexValue(v)
	return nil
}

// run is main without the process. It returns the exit status: 0 when
// the copy finished, 1 on a connection or link failure or data the peer
// never acknowledged, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, fs, err := parse(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	// -timeout bounds the registration with a tunnel server too.
	octx, ocancel := context.WithTimeout(ctx, o.timeout)
	stack, demoAddr, closeAll, err := openLink(octx, o)
	ocancel()
	if err != nil {
		fmt.Fprintln(stderr, "spxcat:", err)
		return 1
	}
	defer closeAll()
	cfg := spx.Config{PlainSPX: o.plain}

	var conn *spx.Conn
	if o.listen {
		ln, err := spx.ListenConfig(stack, ipx.Socket(o.socket), cfg)
		if err != nil {
			fmt.Fprintln(stderr, "spxcat:", err)
			return 1
		}
		defer ln.Close()
		fmt.Fprintf(stderr, "spxcat: listening on %v\n", ln.Addr())
		stopClose := context.AfterFunc(ctx, func() { ln.Close() })
		conn, err = ln.AcceptSPX()
		stopClose()
		if err != nil {
			fmt.Fprintln(stderr, "spxcat:", err)
			return 1
		}
	} else {
		dst := demoAddr
		if o.dstSet {
			dst = o.dst
		}
		dctx, cancel := context.WithTimeout(ctx, o.timeout)
		if o.link.Kind != linkflag.Demo {
			// Another network is reached through a router RIP told of.
			err = o.link.WaitRoute(dctx, stack, dst.Net)
		}
		if err == nil {
			conn, err = spx.DialConfig(dctx, stack, dst, cfg)
		}
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "spxcat:", err)
			return 1
		}
	}
	if o.verbose {
		fmt.Fprintf(stderr, "spxcat: connected %v -> %v (%s)\n", conn.LocalAddr(), conn.RemoteAddr(), version(conn))
	}
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClose()
	err = copyBoth(conn, stdin, stdout)
	if o.verbose {
		printStats(stderr, conn)
	}
	if err != nil {
		fmt.Fprintln(stderr, "spxcat:", err)
		return 1
	}
	return 0
}

// version names the protocol conn speaks.
func version(conn *spx.Conn) string {
	if conn.SPX2() {
		return "SPX II"
	}
	return "SPX"
}

// printStats reports conn's counters after the copy, and the packet size
// then in force: an SPX II listener learns the size the dialer negotiates
// only after the connection is set up.
func printStats(w io.Writer, conn *spx.Conn) {
	st := conn.Stats()
	fmt.Fprintf(w, "spxcat: %s, sending up to %d data bytes per packet\n", version(conn), conn.MaxData())
	fmt.Fprintf(w, "spxcat: packets: %d sent, %d received; %d retransmitted (%d fast), %d timeouts\n",
		st.PacketsSent, st.PacketsReceived, st.Retransmits, st.FastRetransmits, st.Timeouts)
	fmt.Fprintf(w, "spxcat: received: %d duplicate, %d out of order, %d out of window, %d bogus acks\n",
		st.Duplicates, st.OutOfOrder, st.OutOfWindow, st.BogusAcks)
	fmt.Fprintf(w, "spxcat: %d keepalives, %d congestion events, window %d packets, smoothed rtt %v\n",
		st.KeepAlives, st.CongestionEvents, st.Cwnd, st.SRTT.Round(time.Microsecond))
}

// copyBoth copies in to conn and conn to out until both directions end.
func copyBoth(conn *spx.Conn, in io.Reader, out io.Writer) error {
	sent := make(chan error, 1)
	go func() {
		if _, err := io.Copy(conn, in); err != nil {
			sent <- err
			return
		}
		if conn.SPX2() {
			sent <- conn.CloseWrite()
			return
		}
		// Plain SPX cannot half-close: wait for the peer to end the
		// connection, as netcat waits after the end of its input.
		sent <- nil
	}()
	_, recvErr := io.Copy(out, conn)
	var sendErr error
	if recvErr == nil {
		// The peer's data ended cleanly; ours may still be on its way
		// (SPX II peers take data after releasing their direction).
		sendErr = <-sent
		// Close waits until the peer has acknowledged our data and
		// reports it if that never happened.
		if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return errors.Join(sendErr, err)
		}
	} else {
		conn.Close() // also ends a send blocked on the connection
		select {
		case sendErr = <-sent:
		case <-time.After(100 * time.Millisecond):
			// Still reading input (a terminal, say) though the
			// connection is over: exit without it.
		}
	}
	switch {
	case errors.Is(sendErr, net.ErrClosed):
		sendErr = nil // we closed it: the receive side says why
	case errors.Is(sendErr, spx.ErrTerminated):
		// The peer ended the connection with input still to send.
		sendErr = fmt.Errorf("%w (%w)", spx.ErrNotDelivered, sendErr)
	}
	return errors.Join(sendErr, recvErr)
}
