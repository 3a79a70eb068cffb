// Package linkflag is what the example programs share to read their
// command line, choose an IPX link from it and build a Stack on it.
//
// Every program that joins an IPX network takes its link the same way:
//
//	-memlan-demo              an in-memory demo network, which each program
//	                          builds itself (its topology is the program's own)
//	-udp-server host[:port]   a DOSBox-style IPX tunnel, through ipx/udp
//	                          (port 213 when none is given)
//	-ether IFACE[:frame[:net]] raw Ethernet on Linux, through ipx/ether;
//	                          frame is auto (the default), ethernet_ii,
//	                          802.3, 802.2 or snap; needs CAP_NET_RAW
//
// -net numbers the local segment of the demo and of raw Ethernet when
// the -ether value does not (a tunnel server assigns its own). [Link.Register]
// adds these flags, [Link.Choose] checks what was given, and [Link.Open]
// opens a tunnel or Ethernet link and a host Stack on it. ipxroute, which
// takes several links, uses the parts: [ParseEther], [ParseNetwork] and
// [DialTunnel].
//
// Numbers are hex, as IPX numbers are written: -net 0000beef, -net beef
// and -net 0xbeef are the same network.
//
// A command line error is reported once, as "prog: what is wrong", with a
// pointer to -h, and the program exits with status 2: [NewFlagSet] makes a
// FlagSet that parses silently and [Usage] reports its errors.
package linkflag

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/rip"
)

// DefaultNetwork numbers the local segment when -net is not given.
const DefaultNetwork ipx.Network = 1

// RegisterTimeout bounds the registration with a tunnel server, which
// answers at once when it is there. A shorter deadline on the context
// given to Open, DialUDP or DialTunnel wins.
const RegisterTimeout = 10 * time.Second

// Errors, matchable with errors.Is.
var (
	// ErrUsage marks an error in the command line: the program prints
	// it once and exits with status 2.
	ErrUsage = errors.New("usage")
	// ErrBadFrame reports a frame type name that is not one of auto,
	// ethernet_ii, 802.3, 802.2 or snap.
	ErrBadFrame = errors.New("unknown frame type")
	// ErrBadNetwork reports a network number that is not hex, does not
	// fit in 32 bits or cannot number a segment.
	ErrBadNetwork = errors.New("not a segment's network number")
	// ErrChoice reports that not exactly one link was named.
	ErrChoice = errors.New("choose one link: -memlan-demo, -udp-server or -ether")
)

// Usagef returns an error wrapping ErrUsage, worded by format.
func Usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// usageError is an error in the command line; err, if not nil, is what
// it is besides.
type usageError struct {
	msg string
	err error
}

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// Kind is the kind of link chosen.
type Kind int

// The kinds of link.
const (
	None  Kind = iota // no link chosen yet
	Demo              // in-memory demo network, built by the program
	UDP               // DOSBox-style tunnel client
	Ether             // raw Ethernet
)

// String returns the flag that chooses k.
func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case Demo:
		return "-memlan-demo"
	case UDP:
		return "-udp-server"
	case Ether:
		return "-ether"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Link is a link chosen on the command line and what opening it takes.
// The zero Link has Kind None.
type Link struct {
	Kind Kind
	// Server is the tunnel server, host[:port], for UDP.
	Server string
	// Iface is the network interface for Ether.
	Iface string
	// Frame is the frame type for Ether; 0 answers in the framing heard.
	Frame ipx.FrameType
	// Network numbers the local segment for Ether and Demo.
	Network ipx.Network

	routes *rip.Table // what the Stack's RIP listener learned

	demo   bool // -memlan-demo was given
	netSet bool // -net was given
	ether  etherSpec
}

// etherSpec is the parsed value of -ether.
type etherSpec struct {
	iface   string
	frame   ipx.FrameType
	network ipx.Network
	hasNet  bool
}

// Register adds -memlan-demo (described by demoUsage), -udp-server,
// -ether and -net to fs. Call Choose after fs.Parse.
func (l *Link) Register(fs *flag.FlagSet, demoUsage string) {
	fs.BoolVar(&l.demo, "memlan-demo", false, demoUsage)
	fs.StringVar(&l.Server, "udp-server", "", "DOSBox IPX tunnel server `host:port` (default port 213)")
	fs.Func("ether", "raw Ethernet `IFACE[:frame[:net]]` (Linux, CAP_NET_RAW); frame: "+frameChoices, func(s string) error {
		iface, ft, n, hasNet, err := ParseEther(s)
		if err != nil {
			return err
		}
		l.ether = etherSpec{iface, ft, n, hasNet}
		return nil
	})
	l.Network = DefaultNetwork
	fs.Func("net", "`network` number (hex) of the demo's or raw Ethernet's segment (default 00000001)", func(s string) error {
		n, err := ParseNetwork(s)
		if err != nil {
			return err
		}
		l.Network, l.netSet = n, true
		return nil
	})
}

// Choose sets Kind and the link's fields from the flags Register added.
// It returns an error wrapping ErrUsage: wrapping ErrChoice too unless
// exactly one link was named.
func (l *Link) Choose() error {
	var kinds []Kind
	if l.demo {
		kinds = append(kinds, Demo)
	}
	if l.Server != "" {
		kinds = append(kinds, UDP)
	}
	if l.ether.iface != "" {
		kinds = append(kinds, Ether)
	}
	if len(kinds) != 1 {
		return &usageError{msg: ErrChoice.Error(), err: ErrChoice}
	}
	switch kinds[0] {
	case UDP:
		if l.netSet {
			return Usagef("-net: the tunnel server numbers a -udp-server segment")
		}
	case Ether:
		if l.ether.hasNet {
			if l.netSet && l.Network != l.ether.network {
				return Usagef("-net %v and -ether %s:...:%v disagree", l.Network, l.ether.iface, l.ether.network)
			}
			l.Network = l.ether.network
		}
		l.Iface, l.Frame = l.ether.iface, l.ether.frame
	}
	l.Kind = kinds[0]
	return nil
}

// Open opens the UDP or Ether link l names and returns a Stack with cfg
// on it, owning the link: closing the Stack closes it. A Demo link is the
// program's to build, so Open refuses it, and None.
//
// The Stack runs RIP as a listener, as a NetWare workstation does: it
// asks for every route at once and learns what routers advertise, so
// that other networks can be reached; WaitRoute waits for one.
func (l *Link) Open(ctx context.Context, cfg ipx.StackConfig) (*ipx.Stack, error) {
	var s *ipx.Stack
	switch l.Kind {
	case UDP:
		lk, network, err := DialTunnel(ctx, l.Server)
		if err != nil {
			return nil, err
		}
		if s, err = NewStack(lk, network, cfg); err != nil {
			return nil, err
		}
	case Ether:
		if l.Iface == "" {
			return nil, errors.New("linkflag: raw Ethernet needs an interface")
		}
		lk, err := ether.Listen(l.Iface, ether.Config{FrameType: l.Frame})
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("-ether %s: raw Ethernet needs CAP_NET_RAW (run as root): %w", l.Iface, err)
			}
			return nil, fmt.Errorf("-ether %s: %w", l.Iface, err)
		}
		if s, err = NewStack(lk, l.Network, cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("linkflag: cannot open link %v", l.Kind)
	}
	// The listener ends with the Stack.
	r, err := rip.NewRouter(s, rip.Config{ListenOnly: true})
	if err != nil {
		s.Close()
		return nil, err
	}
	l.routes = r.Table()
	return s, nil
}

// ErrNoRoute reports that no router offered a route to a network.
var ErrNoRoute = errors.New("no route")

// WaitRoute returns once the Stack Open built can reach network n: at
// once for 0 (this network) and for a network of its own links, else
// when RIP has learned a route, or with an error wrapping ErrNoRoute
// when ctx ends first.
func (l *Link) WaitRoute(ctx context.Context, s *ipx.Stack, n ipx.Network) error {
	if n == ipx.NetworkLocal {
		return nil
	}
	for _, li := range s.Links() {
		if li.Network == n {
			return nil
		}
	}
	if l.routes == nil {
		return fmt.Errorf("network %v: %w", n, ErrNoRoute)
	}
	sub := l.routes.Subscribe(16)
	defer sub.Close()
	// Events wake the wait; the tick covers events missed by a full
	// buffer.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if rt, ok := l.routes.Lookup(n); ok && rt.Reachable() {
			return nil
		}
		select {
		case <-sub.C:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("network %v: %w: no router on this link advertises it", n, ErrNoRoute)
		}
	}
}

// NewStack returns a Stack with cfg and l added as network, closing l if
// that fails so the caller owns nothing on error.
func NewStack(l ipx.Link, network ipx.Network, cfg ipx.StackConfig) (*ipx.Stack, error) {
	s, err := ipx.NewStack(cfg)
	if err != nil {
		l.Close()
		return nil, err
	}
	if _, err := s.AddLink(l, network); err != nil {
		s.Close()
		l.Close()
		return nil, err
	}
	return s, nil
}

const frameChoices = "auto, ethernet_ii, 802.3, 802.2 or snap"

// ParseFrame parses a frame type name, in any case: auto (0: the link
// answers in the framing it hears), ethernet_ii, 802.3 (raw), 802.2 or
// snap. Errors wrap ErrBadFrame.
func ParseFrame(s string) (ipx.FrameType, error) {
	switch strings.ToLower(s) {
	case "auto":
		return 0, nil
	case "ethernet_ii":
		return ipx.FrameEthernetII, nil
	case "802.3":
		return ipx.Frame8023Raw, nil
	case "802.2":
		return ipx.Frame8022, nil
	case "snap":
		return ipx.FrameSNAP, nil
	}
	return 0, fmt.Errorf("frame %q: %w (want %s)", s, ErrBadFrame, frameChoices)
}

// ParseEther parses the value of -ether, IFACE[:frame[:net]]: an
// interface name, a frame type (default auto) and a network number, which
// hasNet reports. Errors wrap ErrBadFrame or ErrBadNetwork, or say what
// is missing.
func ParseEther(s string) (iface string, ft ipx.FrameType, network ipx.Network, hasNet bool, err error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return "", 0, 0, false, fmt.Errorf("%q: want IFACE[:frame[:net]], e.g. eth0:802.2:0000000a", s)
	}
	if len(parts) >= 2 {
		if ft, err = ParseFrame(parts[1]); err != nil {
			return "", 0, 0, false, err
		}
	}
	if len(parts) == 3 {
		if network, err = ParseNetwork(parts[2]); err != nil {
			return "", 0, 0, false, err
		}
		hasNet = true
	}
	return parts[0], ft, network, hasNet, nil
}

// ParseNetwork parses the number of a segment in hex, with or without a
// 0x prefix. 0 (this network), fffffffe (the default route) and ffffffff
// (every network) number no segment. Errors wrap ErrBadNetwork.
func ParseNetwork(s string) (ipx.Network, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	n, err := strconv.ParseUint(digits, 16, 32)
	if err != nil {
		why := "not hex"
		if errors.Is(err, strconv.ErrRange) {
			why = "over 32 bits"
		}
		return 0, fmt.Errorf("network %q: %w (%s)", s, ErrBadNetwork, why)
	}
	switch network := ipx.Network(n); network {
	case ipx.NetworkLocal:
		return 0, fmt.Errorf("network %q: %w (0 means this network, whichever it is)", s, ErrBadNetwork)
	case ipx.NetworkDefault:
		return 0, fmt.Errorf("network %q: %w (fffffffe is the default route)", s, ErrBadNetwork)
	case ipx.NetworkAll:
		return 0, fmt.Errorf("network %q: %w (ffffffff means every network)", s, ErrBadNetwork)
	}
	return ipx.Network(n), nil
}

// NewFlagSet returns a FlagSet for the program name that parses silently
// (Usage reports its errors, once) and whose Usage prints usage followed
// by the flags' defaults on the FlagSet's output.
func NewFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// Usage reports err, the result of parsing and checking fs's command
// line, on w and returns the exit status: for flag.ErrHelp the usage text
// and 0, for any other error one line naming it and where help is, and 2.
func Usage(w io.Writer, fs *flag.FlagSet, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		out := fs.Output()
		fs.SetOutput(w)
		fs.Usage()
		fs.SetOutput(out)
		return 0
	}
	fmt.Fprintf(w, "%s: %v\nRun '%s -h' for usage.\n", fs.Name(), err, fs.Name())
	return 2
}

// BindError explains err, from listening on the UDP address addr: a
// port below 1024 needs privileges, so it says how to choose another.
func BindError(addr string, err error) error {
	if !errors.Is(err, os.ErrPermission) {
		return err
	}
	host, _, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		host = "127.0.0.1"
	}
	return fmt.Errorf("%w: ports below 1024 need root; choose another, e.g. %s, and give clients the same (ipxnet connect HOST PORT)",
		err, net.JoinHostPort(host, "21300"))
}

// ErrBadAddr reports an IPX address that ParseAddr cannot read.
var ErrBadAddr = errors.New("not an IPX address")

// ParseAddr parses an IPX address written network:node:socket in hex,
// the node as 12 digits or six pairs separated by ':' or '-'. If
// defSocket is not zero the socket may be left out. The error quotes s
// and says which part is wrong; it wraps ErrBadAddr.
func ParseAddr(s string, defSocket ipx.Socket) (ipx.Addr, error) {
	bad := func(format string, args ...any) (ipx.Addr, error) {
		return ipx.Addr{}, fmt.Errorf("address %q: %w: %s", s, ErrBadAddr, fmt.Sprintf(format, args...))
	}
	netText, rest, ok := strings.Cut(s, ":")
	if !ok {
		if defSocket != 0 {
			return bad("want network:node[:socket], in hex")
		}
		return bad("want network:node:socket, in hex")
	}
	n, err := strconv.ParseUint(netText, 16, 32)
	if err != nil || netText == "" || len(netText) > 8 || strings.ContainsAny(netText, "+-xX") {
		return bad("network %q is not 1 to 8 hex digits", netText)
	}
	// The node may be written with colons too: if rest is a node, the
	// socket is left out.
	nodeText, sockText, hasSock := rest, "", false
	if _, err := ipx.ParseNode(rest); err != nil {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 {
			nodeText, sockText, hasSock = rest[:i], rest[i+1:], true
		}
	}
	node, err := ipx.ParseNode(nodeText)
	if err != nil {
		return bad("node %q is not 12 hex digits", nodeText)
	}
	sock := defSocket
	if hasSock || defSocket == 0 {
		v, err := strconv.ParseUint(sockText, 16, 16)
		if err != nil || sockText == "" || len(sockText) > 4 || strings.ContainsAny(sockText, "+-xX") {
			return bad("socket %q is not 1 to 4 hex digits", sockText)
		}
		sock = ipx.Socket(v)
	}
	return ipx.Addr{Net: ipx.Network(n), Node: node, Socket: sock}, nil
}
