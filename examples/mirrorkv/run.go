package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/rip"
)

// Defaults of the engine's address and the MSL socket.
const (
	defaultInternalNet ipx.Network = 0x00C0FFEE
	defaultMSLSocket   ipx.Socket  = 0x4B00
)

var defaultInternalNode = ipx.Node{0, 0, 0, 0, 0, 1}

// run is main without the process: 0 on success, 1 on failure, 2 for a
// usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "client":
		return runClient(ctx, args[1:], stdin, stdout, stderr)
	case len(args) > 0 && args[0] == "relay":
		return runRelay(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "arbiter":
		return runArbiter(ctx, args[1:], stdout, stderr)
	}
	o, fs, err := parseServer(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	if err := runServer(ctx, o, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "mirrorkv:", err)
		return 1
	}
	return 0
}

// linkFlags are the link flags every mode but the relay takes.
type linkFlags struct {
	link     linkflag.Link
	udpLocal string
}

func (l *linkFlags) register(fs *flag.FlagSet) {
	l.link.Register(fs, "refused: separate processes share no in-memory LAN (mirrordemo runs a pair on one)")
	fs.StringVar(&l.udpLocal, "udp-local", "", "this end's UDP `host:port` on the tunnel, which fixes its node (default: any free port)")
}

func (l *linkFlags) choose() error {
	if err := l.link.Choose(); err != nil {
		return err
	}
	switch {
	case l.link.Kind == linkflag.Demo:
		return linkflag.Usagef("-memlan-demo: separate processes share no in-memory LAN; run mirrordemo for a pair on one")
	case l.udpLocal != "" && l.link.Kind != linkflag.UDP:
		return linkflag.Usagef("-udp-local needs -udp-server")
	}
	return nil
}

// open returns a Stack on the chosen link, numbered -net, and this
// end's address on it. The Stack runs no RIP yet: the caller starts the
// router it needs (a server's advertises the internal network), which
// linkflag.Link.Open's listener would keep off RIP's socket.
// openListening is open with a listen-only RIP router on the Stack, for
// the modes that only need routes (a client, the arbiter); done closes
// both.
func (l *linkFlags) openListening(ctx context.Context) (st *ipx.Stack, lan ipx.Addr, done func(), err error) {
	st, lan, err = l.open(ctx)
	if err != nil {
		return nil, lan, nil, err
	}
	router, err := rip.NewRouter(st, rip.Config{ListenOnly: true})
	if err != nil {
		st.Close()
		return nil, lan, nil, err
	}
	return st, lan, func() { router.Close(); st.Close() }, nil
}

func (l *linkFlags) open(ctx context.Context) (*ipx.Stack, ipx.Addr, error) {
	if l.link.Kind == linkflag.Ether {
		lk, err := ether.Listen(l.link.Iface, ether.Config{FrameType: l.link.Frame})
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				return nil, ipx.Addr{}, fmt.Errorf("-ether %s: raw Ethernet needs CAP_NET_RAW (run as root): %w", l.link.Iface, err)
			}
			return nil, ipx.Addr{}, fmt.Errorf("-ether %s: %w", l.link.Iface, err)
		}
		st, err := linkflag.NewStack(lk, l.link.Network, ipx.StackConfig{})
		if err != nil {
			return nil, ipx.Addr{}, err
		}
		li := st.Links()[0]
		return st, ipx.Addr{Net: li.Network, Node: li.Node}, nil
	}
	var lk *udp.Link
	var err error
	if l.udpLocal == "" {
		lk, err = linkflag.DialUDP(ctx, l.link.Server)
	} else {
		lk, err = dialFrom(ctx, l.udpLocal, l.link.Server)
	}
	if err != nil {
		return nil, ipx.Addr{}, err
	}
	// The tunnel numbers no network; the mirror needs one for its probe.
	st, err := linkflag.NewStack(lk, l.link.Network, ipx.StackConfig{})
	if err != nil {
		return nil, ipx.Addr{}, err
	}
	return st, ipx.Addr{Net: l.link.Network, Node: lk.Node()}, nil
}

// dialFrom registers with the tunnel server from the UDP address local.
func dialFrom(ctx context.Context, local, server string) (*udp.Link, error) {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, strconv.Itoa(udp.DefaultPort))
	}
	sa, err := net.ResolveUDPAddr("udp4", server)
	if err != nil {
		return nil, err
	}
	la, err := net.ResolveUDPAddr("udp4", local)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp4", la)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, linkflag.RegisterTimeout)
	defer cancel()
	ap := sa.AddrPort()
	lk, err := udp.NewLink(ctx, pc, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), udp.Config{})
	if err != nil {
		pc.Close()
		return nil, err
	}
	return lk, nil
}

// parseNetNode parses NET:NODE, both hex.
func parseNetNode(s string) (ipx.Addr, error) {
	n, node, ok := strings.Cut(s, ":")
	if !ok {
		return ipx.Addr{}, fmt.Errorf("%q: want NET:NODE", s)
	}
	net, err := linkflag.ParseNetwork(n)
	if err != nil {
		return ipx.Addr{}, err
	}
	nd, err := ipx.ParseNode(node)
	if err != nil {
		return ipx.Addr{}, err
	}
	return ipx.Addr{Net: net, Node: nd}, nil
}

// parseSocket parses a socket number in hex.
func parseSocket(s string) (ipx.Socket, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("socket %q: want a nonzero 16-bit hex number", s)
	}
	return ipx.Socket(v), nil
}

// parseKey decodes a hex key of at least mirror.MinKeyLen bytes.
func parseKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("key: not hex: %v", err)
	}
	if len(k) < mirror.MinKeyLen {
		return nil, fmt.Errorf("key of %d bytes, want at least %d", len(k), mirror.MinKeyLen)
	}
	return k, nil
}

// readKeyFile reads a hex key from a file of at most 4 KiB.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, err
	}
	k, err := parseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
