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
		return errShortHeader(len(b))
	}
	if length := binary.BigEndian.Uint16(b[2:4]); length < HeaderLen {
		return errLengthBelow(length)
	}
	h.decode(b)
	return nil
}

// decode fills h from the first 30 bytes of b, which the caller has
// checked. Fields are stored one by one, without a temporary Header, as
// this is the hot path of every receive.
func (h *Header) decode(b []byte) {
	b = b[:HeaderLen]
	h.Checksum = binary.BigEndian.Uint16(b[0:2])
	h.Length = binary.BigEndian.Uint16(b[2:4])
	h.TransportControl = b[4]
	h.Type = PacketType(b[5])
	h.Dst.Net = Network(binary.BigEndian.Uint32(b[6:10]))
	h.Dst.Node = Node(b[10:16])
	h.Dst.Socket = Socket(binary.BigEndian.Uint16(b[16:18]))
	h.Src.Net = Network(binary.BigEndian.Uint32(b[18:22]))
	h.Src.Node = Node(b[22:28])
	h.Src.Socket = Socket(binary.BigEndian.Uint16(b[28:30]))
}

// The error constructors are kept out of line so the decoders' success
// paths stay small.

//go:noinline
func errShortHeader(n int) error {
	return fmt.Errorf("ipx: header needs %d bytes, have %d: %w", HeaderLen, n, ErrShortBuffer)
}

//go:noinline
func errLengthBelow(length uint16) error {
	return fmt.Errorf("ipx: length %d below header size: %w", length, ErrBadLength)
}

//go:noinline
func errLengthBeyond(length uint16, n int) error {
	return fmt.Errorf("ipx: length %d beyond %d bytes: %w", length, n, ErrBadLength)
}

// checkPacket checks that b starts with a whole IPX packet (header, length
// field within b, checksum 0xFFFF or correct) and returns its length.
func checkPacket(b []byte) (int, error) {
	if len(b) < HeaderLen {
		return 0, errShortHeader(len(b))
	}
	length := binary.BigEndian.Uint16(b[2:4])
	if length < HeaderLen {
		return 0, errLengthBelow(length)
	}
	if int(length) > len(b) {
		return 0, errLengthBeyond(length, len(b))
	}
	if b[0] != 0xFF || b[1] != 0xFF {
		if err := VerifyChecksum(b[:length]); err != nil {
			return 0, err
		}
	}
	return int(length), nil
}
