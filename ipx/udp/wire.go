package udp

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipxkit/ipxkit/ipx"
)

// DefaultPort is the UDP port of the DOSBox IPX tunnel (IANA's port for
// IPX over IP).
const DefaultPort = 213

// MTU is the largest IPX packet, header included, the tunnel carries:
// DOSBox reads datagrams into a buffer of 1424 bytes (IPXBUFFERSIZE in
// src/hardware/ipx.h) and reports that size as the driver maximum.
const MTU = 1424

// controlSocket is the socket of tunnel control packets: registration,
// its reply, pings and their answers.
const controlSocket ipx.Socket = 2

// serverNetwork is the source network of a registration reply.
const serverNetwork ipx.Network = 1

// pingNode is the source node of the Server's keepalive pings. It is
// ipxbox's choice: port 0 is no client's, so an answer addressed to it
// can only be for the server, and it is not zero, so the answer is not
// mistaken for a registration.
var pingNode = ipx.Node{0x02, 0xff, 0xff, 0xff, 0x00, 0x00}

// NodeFromAddrPort returns the tunnel node of an IPv4 address and port: the
// four address bytes then the port, big-endian. ok is false for an IPv6
// address (an IPv4-mapped one is unmapped first), which has no node.
func NodeFromAddrPort(ap netip.AddrPort) (n ipx.Node, ok bool) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return ipx.Node{}, false
	}
	a4 := a.As4()
	copy(n[:4], a4[:])
	binary.BigEndian.PutUint16(n[4:], ap.Port())
	return n, true
}

// AddrPortFromNode returns the IPv4 address and UDP port a tunnel node
// names.
func AddrPortFromNode(n ipx.Node) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(n[:4])), binary.BigEndian.Uint16(n[4:]))
}

// Offsets into the IPX header; see ipx.Header.
const (
	offLength  = 2
	offDstNet  = 6
	offDstNode = 10
	offDstSock = 16
	offSrcNet  = 18
	offSrcNode = 22
	offSrcSock = 28
)

// controlHeader returns a header-only control packet: checksum 0xFFFF,
// length 30, type 0, both sockets 2.
func controlHeader(dstNet ipx.Network, dst ipx.Node, srcNet ipx.Network, src ipx.Node) [ipx.HeaderLen]byte {
	var b [ipx.HeaderLen]byte
	binary.BigEndian.PutUint16(b[0:], ipx.ChecksumNone)
	binary.BigEndian.PutUint16(b[offLength:], ipx.HeaderLen)
	binary.BigEndian.PutUint32(b[offDstNet:], uint32(dstNet))
	copy(b[offDstNode:], dst[:])
	binary.BigEndian.PutUint16(b[offDstSock:], uint16(controlSocket))
	binary.BigEndian.PutUint32(b[offSrcNet:], uint32(srcNet))
	copy(b[offSrcNode:], src[:])
	binary.BigEndian.PutUint16(b[offSrcSock:], uint16(controlSocket))
	return b
}

// registration is the packet a client registers with: every address zero.
func registration() [ipx.HeaderLen]byte {
	return controlHeader(0, ipx.NodeZero, 0, ipx.NodeZero)
}

// registrationReply tells client its node and network; server is the
// server's node.
func registrationReply(client ipx.Node, network ipx.Network, server ipx.Node) [ipx.HeaderLen]byte {
	return controlHeader(network, client, serverNetwork, server)
}

// ping asks every client to answer to from.
func ping(from ipx.Node) [ipx.HeaderLen]byte {
	return controlHeader(0, ipx.NodeBroadcast, 0, from)
}

// pingAnswer answers a ping from pinger; self is the answering node.
func pingAnswer(pinger, self ipx.Node) [ipx.HeaderLen]byte {
	return controlHeader(0, pinger, 0, self)
}

func dstNode(b []byte) ipx.Node { return ipx.Node(b[offDstNode : offDstNode+6]) }
func srcNode(b []byte) ipx.Node { return ipx.Node(b[offSrcNode : offSrcNode+6]) }
func dstSocket(b []byte) ipx.Socket {
	return ipx.Socket(binary.BigEndian.Uint16(b[offDstSock:]))
}
func srcSocket(b []byte) ipx.Socket {
	return ipx.Socket(binary.BigEndian.Uint16(b[offSrcSock:]))
}
func dstNetwork(b []byte) ipx.Network {
	return ipx.Network(binary.BigEndian.Uint32(b[offDstNet:]))
}

// isRegistration reports whether b (at least 30 bytes) asks to register.
// DOSBox's server checks only that the destination socket is 2 and the
// first four bytes of the destination node (the IPv4 address) are zero.
func isRegistration(b []byte) bool {
	return dstSocket(b) == controlSocket && binary.BigEndian.Uint32(b[offDstNode:]) == 0
}

// isBroadcast reports whether the server relays b to every client: DOSBox
// looks only at the address part of the destination node.
func isBroadcast(b []byte) bool {
	return binary.BigEndian.Uint32(b[offDstNode:]) == 0xFFFFFFFF
}

// isControl reports whether packet b (trimmed to its length, see
// checkPacket) is a header-only packet to socket 2: a registration reply,
// a ping or a ping answer. Requiring no payload keeps an IPX echo request
// (socket 2 with data) for the Stack.
func isControl(b []byte) bool {
	return len(b) == ipx.HeaderLen && dstSocket(b) == controlSocket
}

// isPing reports whether control packet b is a ping: to the broadcast node.
func isPing(b []byte) bool { return dstNode(b) == ipx.NodeBroadcast }

// checkPacket reports whether b holds an IPX header whose length field
// lies within b, and returns that length (bytes past it are padding).
// A bare header with length field 0 counts as a header of 30 bytes:
// ipxbox sends its registrations, pings and ping answers so, and DOSBox,
// which takes a packet's size from the datagram, accepts them.
func checkPacket(b []byte) (int, bool) {
	if len(b) < ipx.HeaderLen {
		return 0, false
	}
	n := int(binary.BigEndian.Uint16(b[offLength:]))
	if n == 0 && len(b) == ipx.HeaderLen {
		return ipx.HeaderLen, true
	}
	if n < ipx.HeaderLen || n > len(b) {
		return 0, false
	}
	return n, true
}
