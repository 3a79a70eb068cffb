package ipx

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Network is a 32-bit IPX network number. Zero means "this network".
type Network uint32

// Well-known network numbers.
const (
	// NetworkLocal (0) addresses the segment the packet is sent on.
	NetworkLocal Network = 0
	// NetworkDefault is the RIP default route.
	NetworkDefault Network = 0xFFFFFFFE
	// NetworkAll asks for every route in a RIP request.
	NetworkAll Network = 0xFFFFFFFF
)

// String returns the network as eight lower-case hex digits.
func (n Network) String() string {
	var b [8]byte
	return string(n.appendText(b[:0]))
}

func (n Network) appendText(b []byte) []byte {
	var raw [4]byte
	binary.BigEndian.PutUint32(raw[:], uint32(n))
	return hex.AppendEncode(b, raw[:])
}

// Node is a 48-bit IPX node address; on Ethernet it is the MAC address.
type Node [6]byte

// Well-known nodes.
var (
	// NodeBroadcast reaches every node on a segment.
	NodeBroadcast = Node{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// NodeZero is the unset node.
	NodeZero = Node{}
)

// IsBroadcast reports whether n is ff:ff:ff:ff:ff:ff.
func (n Node) IsBroadcast() bool { return n == NodeBroadcast }

// String returns the node as twelve lower-case hex digits.
func (n Node) String() string {
	var b [12]byte
	return string(hex.AppendEncode(b[:0], n[:]))
}

// HardwareAddr returns the node as a MAC address.
func (n Node) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(n[:]) }

// ParseNode parses twelve hex digits, optionally separated into pairs by
// colons or dashes (0a0b0c0d0e0f, 0a:0b:0c:0d:0e:0f, 0a-0b-0c-0d-0e-0f).
func ParseNode(s string) (Node, error) {
	var n Node
	if err := n.parse(s); err != nil {
		return Node{}, fmt.Errorf("ipx: node %q: %w", s, err)
	}
	return n, nil
}

func (n *Node) parse(s string) error {
	switch len(s) {
	case 12:
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return ErrBadAddr
		}
		var b [12]byte
		for i := 0; i < 6; i++ {
			if i > 0 && s[3*i-1] != sep {
				return ErrBadAddr
			}
			b[2*i], b[2*i+1] = s[3*i], s[3*i+1]
		}
		s = string(b[:])
	default:
		return ErrBadAddr
	}
	if _, err := hex.Decode(n[:], []byte(s)); err != nil {
		return ErrBadAddr
	}
	return nil
}

// Socket is a 16-bit IPX socket number.
type Socket uint16

// Well-known sockets.
const (
	SocketNCP         Socket = 0x0451
	SocketSAP         Socket = 0x0452
	SocketRIP         Socket = 0x0453
	SocketNetBIOS     Socket = 0x0455
	SocketDiagnostics Socket = 0x0456
	// SocketEcho is the socket ipxping's echo service listens on.
	SocketEcho Socket = 0x0002

	// SocketDynamicMin and SocketDynamicMax bound the range the Stack
	// allocates from when asked for socket 0.
	SocketDynamicMin Socket = 0x4000
	SocketDynamicMax Socket = 0x7FFF
)

// String returns the socket as four lower-case hex digits.
func (s Socket) String() string {
	var raw [2]byte
	binary.BigEndian.PutUint16(raw[:], uint16(s))
	return hex.EncodeToString(raw[:])
}

// IsDynamic reports whether s lies in the dynamic range 0x4000–0x7FFF.
func (s Socket) IsDynamic() bool { return s >= SocketDynamicMin && s <= SocketDynamicMax }

// Addr is a full IPX address. It implements net.Addr.
//
// The network field is called Net because net.Addr claims the method name
// Network; a Go type cannot have a field and a method of the same name.
type Addr struct {
	Net    Network
	Node   Node
	Socket Socket
}

var _ net.Addr = Addr{}

// Network returns "ipx".
func (a Addr) Network() string { return "ipx" }

// String returns the address as network:node:socket in lower-case hex,
// for example 00000001:0a0b0c0d0e0f:0451.
func (a Addr) String() string {
	b, _ := a.AppendText(make([]byte, 0, 26))
	return string(b)
}

// AppendText appends the String form to b.
func (a Addr) AppendText(b []byte) ([]byte, error) {
	b = a.Net.appendText(b)
	b = append(b, ':')
	b = hex.AppendEncode(b, a.Node[:])
	b = append(b, ':')
	var raw [2]byte
	binary.BigEndian.PutUint16(raw[:], uint16(a.Socket))
	return hex.AppendEncode(b, raw[:]), nil
}

// MarshalText implements encoding.TextMarshaler.
func (a Addr) MarshalText() ([]byte, error) { return a.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler using ParseAddr.
func (a *Addr) UnmarshalText(b []byte) error {
	p, err := ParseAddr(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAddr parses network:node:socket, each part in hex. The network has
// up to 8 digits, the socket up to 4, and the node is 12 digits, optionally
// written with colons or dashes between pairs
// (00000001:0a:0b:0c:0d:0e:0f:0451).
func ParseAddr(s string) (Addr, error) {
	a, err := parseAddr(s)
	if err != nil {
		return Addr{}, fmt.Errorf("ipx: address %q: %w", s, err)
	}
	return a, nil
}

func parseAddr(s string) (Addr, error) {
	i := strings.IndexByte(s, ':')
	j := strings.LastIndexByte(s, ':')
	if i < 0 || j <= i {
		return Addr{}, ErrBadAddr
	}
	netPart, nodePart, sockPart := s[:i], s[i+1:j], s[j+1:]
	var a Addr
	if len(netPart) == 0 || len(netPart) > 8 || !isHex(netPart) {
		return Addr{}, ErrBadAddr
	}
	n, err := strconv.ParseUint(netPart, 16, 32)
	if err != nil {
		return Addr{}, ErrBadAddr
	}
	a.Net = Network(n)
	if len(sockPart) == 0 || len(sockPart) > 4 || !isHex(sockPart) {
		return Addr{}, ErrBadAddr
	}
	sk, err := strconv.ParseUint(sockPart, 16, 16)
	if err != nil {
		return Addr{}, ErrBadAddr
	}
	a.Socket = Socket(sk)
	if err := a.Node.parse(nodePart); err != nil {
		return Addr{}, err
	}
	return a, nil
}

// isHex rejects the signs and prefixes strconv would otherwise accept.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
