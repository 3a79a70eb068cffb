package ipx

import (
	"encoding/binary"
	"fmt"
)

// HeaderLen is the size of an IPX header in bytes.
const HeaderLen = 30

// MaxPacketLen is the classic IPX maximum packet size, header included.
// Links with a larger MTU may carry more.
const MaxPacketLen = 576

// MaxHops is the hop count at which a packet is discarded and a route is
// unreachable.
const MaxHops = 16

// ChecksumNone in the checksum field means the packet carries no checksum.
const ChecksumNone uint16 = 0xFFFF

// PacketType is the IPX packet type field.
type PacketType uint8

// Packet types. Services are told apart by socket, not by type: real
// traffic sends SAP with type 0, 4 or 17.
const (
	TypeUnknown PacketType = 0
	TypeRIP     PacketType = 1
	TypeEcho    PacketType = 2
	TypeError   PacketType = 3
	TypePEP     PacketType = 4
	TypeSPX     PacketType = 5
	TypeNCP     PacketType = 17
	TypeNetBIOS PacketType = 20
)

var packetTypeNames = map[PacketType]string{
	TypeUnknown: "unknown", TypeRIP: "RIP", TypeEcho: "echo", TypeError: "error",
	TypePEP: "PEP", TypeSPX: "SPX", TypeNCP: "NCP", TypeNetBIOS: "NetBIOS",
}

// String names the packet type, or gives its number.
func (t PacketType) String() string {
	if s, ok := packetTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Header is the 30-byte IPX header.
//
//	0  checksum (2)     2  length (2)       4  transport control (1)
//	5  packet type (1)  6  destination network (4), node (6), socket (2)
//	18 source network (4), node (6), socket (2)
type Header struct {
	// Checksum is ChecksumNone (0xFFFF) or the one's-complement checksum
	// of the packet; see Checksum.
	Checksum uint16
	// Length is the packet length, header included.
	Length uint16
	// TransportControl counts the routers the packet has crossed.
	TransportControl uint8
	// Type is the packet type.
	Type PacketType
	// Dst and Src are the destination and source addresses.
	Dst, Src Addr
}

// MarshalBinary encodes the header as 30 bytes, fields verbatim.
func (h *Header) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, HeaderLen))
}

// AppendBinary appends the 30-byte header to b, fields verbatim. It
// allocates only if b lacks the room.
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, h.Checksum)
	b = binary.BigEndian.AppendUint16(b, h.Length)
	b = append(b, h.TransportControl, byte(h.Type))
	b = appendAddr(b, h.Dst)
	return appendAddr(b, h.Src), nil
}

func appendAddr(b []byte, a Addr) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(a.Net))
	b = append(b, a.Node[:]...)
	return binary.BigEndian.AppendUint16(b, uint16(a.Socket))
}

// UnmarshalBinary decodes the first 30 bytes of b. It checks that the
// length field is at least 30 but not that b holds that many bytes; use
// Packet.UnmarshalBinary for a whole packet. h is unchanged on error.
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("ipx: header needs %d bytes, have %d: %w", HeaderLen, len(b), ErrShortBuffer)
	}
	length := binary.BigEndian.Uint16(b[2:4])
	if length < HeaderLen {
		return fmt.Errorf("ipx: length %d below header size: %w", length, ErrBadLength)
	}
	*h = Header{
		Checksum:         binary.BigEndian.Uint16(b[0:2]),
		Length:           length,
		TransportControl: b[4],
		Type:             PacketType(b[5]),
		Dst:              addrAt(b[6:18]),
		Src:              addrAt(b[18:30]),
	}
	return nil
}

func addrAt(b []byte) Addr {
	return Addr{
		Net:    Network(binary.BigEndian.Uint32(b[0:4])),
		Node:   Node(b[4:10]),
		Socket: Socket(binary.BigEndian.Uint16(b[10:12])),
	}
}
