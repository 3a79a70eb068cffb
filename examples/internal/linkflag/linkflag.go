// Package linkflag is what the example programs share to choose an IPX
// link from command-line flags and build a Stack on it.
//
// Three kinds of link are offered:
//
//	-memlan-demo          an in-memory demo network, which each program
//	                      builds itself (its topology is the program's own)
//	-udp-server host:port a DOSBox-style IPX tunnel, through ipx/udp
//	                      (port 213 when none is given)
//	-ether IFACE          raw Ethernet on Linux, through ipx/ether, in the
//	                      framing -frame names; needs CAP_NET_RAW
//
// -net numbers the local segment of the demo and of raw Ethernet (a tunnel
// server assigns its own). [Link.Register] adds these flags, [Link.Choose]
// checks that exactly one link was named, and [Link.Open] opens a tunnel
// or Ethernet link and a host Stack on it. Programs that name their flags
// differently (ipxping) or take several links (ipxroute) use the parts:
// [NewFlagSet], [NetworkVar], [ParseNetwork], [ParseFrame], [DialUDP] and
// [NewStack].
//
// Numbers are hex, as IPX numbers are written: -net 0000beef, -net beef
// and -net 0xbeef are the same network.
package linkflag

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// DefaultNetwork numbers the local segment when -net is not given.
const DefaultNetwork ipx.Network = 1

// RegisterTimeout bounds the registration with a tunnel server, which
// answers at once when it is there.
const RegisterTimeout = 10 * time.Second

// Errors, matchable with errors.Is.
var (
	// ErrBadFrame reports a frame type name that is not one of auto,
	// ethernet_ii, 802.3, 802.2 or snap.
	ErrBadFrame = errors.New("unknown frame type")
	// ErrBadNetwork reports a network number that is not hex or does not
	// fit in 32 bits.
	ErrBadNetwork = errors.New("not a 32-bit hex number")
	// ErrChoice reports that not exactly one link was named.
	ErrChoice = errors.New("choose one link: -memlan-demo, -udp-server or -ether")
)

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
	// Frame names the frame type for Ether. Open parses it, so a bad
	// name fails only when raw Ethernet is used, as a link error.
	Frame string
	// Network numbers the local segment for Ether and Demo.
	Network ipx.Network

	demo bool // -memlan-demo was given
}

// Register adds -memlan-demo (described by demoUsage), -udp-server and
// -ether to fs, and the flags of RegisterSegment. Call Choose after
// fs.Parse.
func (l *Link) Register(fs *flag.FlagSet, demoUsage string) {
	fs.BoolVar(&l.demo, "memlan-demo", false, demoUsage)
	fs.StringVar(&l.Server, "udp-server", "", "DOSBox IPX tunnel server `host:port` (default port 213)")
	fs.StringVar(&l.Iface, "ether", "", "raw Ethernet `interface` (Linux, CAP_NET_RAW)")
	l.RegisterSegment(fs)
}

// RegisterSegment adds the flags describing the local segment: -frame,
// the Ethernet frame type (default auto: answer in the framing heard),
// and -net, its network number (default DefaultNetwork).
func (l *Link) RegisterSegment(fs *flag.FlagSet) {
	fs.StringVar(&l.Frame, "frame", "auto", "Ethernet frame `type`: "+frameChoices)
	NetworkVar(fs, &l.Network, "net", DefaultNetwork, "`network` number (hex) of the local segment, for the demo and raw Ethernet")
}

// Choose sets Kind from the flags Register added. It returns an error
// wrapping ErrChoice unless exactly one link was named.
func (l *Link) Choose() error {
	var kinds []Kind
	if l.demo {
		kinds = append(kinds, Demo)
	}
	if l.Server != "" {
		kinds = append(kinds, UDP)
	}
	if l.Iface != "" {
		kinds = append(kinds, Ether)
	}
	if len(kinds) != 1 {
		return ErrChoice
	}
	l.Kind = kinds[0]
	return nil
}

// Open opens the UDP or Ether link l names and returns a Stack with cfg
// on it, owning the link: closing the Stack closes it. A Demo link is the
// program's to build, so Open refuses it, and None.
func (l *Link) Open(ctx context.Context, cfg ipx.StackConfig) (*ipx.Stack, error) {
	switch l.Kind {
	case UDP:
		lk, err := DialUDP(ctx, l.Server)
		if err != nil {
			return nil, err
		}
		return NewStack(lk, lk.Network(), cfg)
	case Ether:
		if l.Iface == "" {
			return nil, errors.New("raw Ethernet needs an interface")
		}
		ft, err := ParseFrame(l.Frame)
		if err != nil {
			// The error reads as the flag: -frame "x": ...
			return nil, fmt.Errorf("-%w", err)
		}
		lk, err := ether.Listen(l.Iface, ether.Config{FrameType: ft})
		if err != nil {
			return nil, err
		}
		return NewStack(lk, l.Network, cfg)
	}
	return nil, fmt.Errorf("linkflag: cannot open link %v", l.Kind)
}

// DialUDP registers with the tunnel server at host[:port], giving up
// after RegisterTimeout.
func DialUDP(ctx context.Context, server string) (*udp.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, RegisterTimeout)
	defer cancel()
	return udp.Dial(ctx, server, udp.Config{})
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

// ParseNetwork parses a network number in hex, with or without a 0x
// prefix. Errors wrap ErrBadNetwork.
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
	return ipx.Network(n), nil
}

// networkValue is the flag.Value of NetworkVar.
type networkValue ipx.Network

func (v *networkValue) String() string { return ipx.Network(*v).String() }

func (v *networkValue) Set(s string) error {
	n, err := ParseNetwork(s)
	if err != nil {
		return err
	}
	*v = networkValue(n)
	return nil
}

// NetworkVar defines a flag for a hex network number, stored in *p,
// which it sets to value first; flag's own integers would take decimal.
func NetworkVar(fs *flag.FlagSet, p *ipx.Network, name string, value ipx.Network, usage string) {
	*p = value
	fs.Var((*networkValue)(p), name, usage)
}

// NewFlagSet returns a FlagSet for the program name that reports errors
// rather than exiting and writes to w, where -h prints usage followed by
// the flags' defaults.
func NewFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
	}
	return fs
}
