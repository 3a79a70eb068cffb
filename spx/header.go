package spx

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HeaderLen is the size of the SPX header; an SPX II header with a
// negotiation size is HeaderLen2.
const (
	HeaderLen  = 12
	HeaderLen2 = 14
)

// IDUnknown is the destination connection id of a connection request,
// before the peer has chosen its id. It is never a valid connection id.
const IDUnknown uint16 = 0xFFFF

// Control is the connection control byte: a set of flags.
type Control uint8

// Connection control flags. SPX II adds the low four bits.
const (
	// ControlSystem marks a system packet (connect, acknowledgement,
	// keep-alive): it consumes no sequence number and carries no data,
	// except selective acknowledgements between ipxkit ends (ControlSACK).
	ControlSystem Control = 0x80
	// ControlSendAck asks the receiver to acknowledge at once.
	ControlSendAck Control = 0x40
	// ControlAttention marks an attention (out-of-band style) packet.
	ControlAttention Control = 0x20
	// ControlEOM marks the last packet of a message.
	ControlEOM Control = 0x10
	// ControlSPX2 marks an SPX II packet.
	ControlSPX2 Control = 0x08
	// ControlNegotiate asks for packet size negotiation (SPX II).
	ControlNegotiate Control = 0x04
	// ControlReserved is unused by SPX and SPX II. ipxkit sets it, as
	// ControlSACK, in SPX II connection requests and their replies only.
	ControlReserved Control = 0x02
	// ControlSACK, the reserved bit, announces in an SPX II connection
	// request, or its reply, that the sender takes selective
	// acknowledgements (an ipxkit extension; see the package doc).
	ControlSACK = ControlReserved
	// ControlExtended marks an SPX II extended header.
	ControlExtended Control = 0x01
)

var controlNames = [8]string{"ext", "rsvd", "neg", "spx2", "eom", "attn", "ack", "sys"}

// String lists the flags set, high bit first, separated by "|", or "0".
func (c Control) String() string {
	if c == 0 {
		return "0"
	}
	var b strings.Builder
	for i := 7; i >= 0; i-- {
		if c&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(controlNames[i])
		}
	}
	return b.String()
}

// DatastreamType is the datastream type byte. Values below 0xFC are the
// application's; the top four are reserved by SPX and SPX II.
type DatastreamType uint8

// Reserved datastream types.
const (
	// DatastreamOrderlyRelease (SPX II) asks to release the sender's
	// direction of the connection.
	DatastreamOrderlyRelease DatastreamType = 0xFC
	// DatastreamOrderlyReleaseAck (SPX II) acknowledges an orderly release.
	DatastreamOrderlyReleaseAck DatastreamType = 0xFD
	// DatastreamEndOfConnection asks to end the connection.
	DatastreamEndOfConnection DatastreamType = 0xFE
	// DatastreamEndOfConnectionAck acknowledges the end of the connection.
	DatastreamEndOfConnectionAck DatastreamType = 0xFF
)

// String names the reserved types and gives others in hex.
func (d DatastreamType) String() string {
	switch d {
	case DatastreamOrderlyRelease:
		return "orderly-release"
	case DatastreamOrderlyReleaseAck:
		return "orderly-release-ack"
	case DatastreamEndOfConnection:
		return "end-of-connection"
	case DatastreamEndOfConnectionAck:
		return "end-of-connection-ack"
	}
	return fmt.Sprintf("%#02x", uint8(d))
}

// Header is the SPX header that follows the IPX header in a packet of
// type 5.
//
//	0  connection control (1)   1  datastream type (1)
//	2  source connection id (2) 4  destination connection id (2)
//	6  sequence number (2)      8  acknowledge number (2)
//	10 allocation number (2)    12 negotiation size (2, SPX II only)
//
// The negotiation size is present when ControlSPX2 is set and DstID is not
// IDUnknown (Wireshark's rule): the first packet of an SPX II connection
// request has 12 bytes, every later SPX II packet 14.
type Header struct {
	Control        Control
	DatastreamType DatastreamType
	// SrcID and DstID are the connection ids the sender and the receiver
	// chose; DstID is IDUnknown in a connection request.
	SrcID, DstID uint16
	// Seq is the packet's sequence number, Ack the next sequence number
	// the sender expects, Alloc the last one it can accept.
	Seq, Ack, Alloc uint16
	// NegotiationSize is the largest IPX packet the sender accepts,
	// present only in SPX II packets with a known DstID; see Header.
	NegotiationSize uint16
}

// HasNegotiationSize reports whether the header carries the SPX II
// negotiation size field.
func (h *Header) HasNegotiationSize() bool {
	return h.Control&ControlSPX2 != 0 && h.DstID != IDUnknown
}

func (h *Header) length() int {
	if h.HasNegotiationSize() {
		return HeaderLen2
	}
	return HeaderLen
}

// Len is the encoded size of the header: HeaderLen or HeaderLen2.
func (h *Header) Len() int { return h.length() }

// MarshalBinary encodes the header; see AppendBinary.
func (h *Header) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, h.length()))
}

// AppendBinary appends the 12- or 14-byte header to b, fields verbatim
// (NegotiationSize only when HasNegotiationSize). It allocates only if b
// lacks the room.
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, byte(h.Control), byte(h.DatastreamType))
	b = binary.BigEndian.AppendUint16(b, h.SrcID)
	b = binary.BigEndian.AppendUint16(b, h.DstID)
	b = binary.BigEndian.AppendUint16(b, h.Seq)
	b = binary.BigEndian.AppendUint16(b, h.Ack)
	b = binary.BigEndian.AppendUint16(b, h.Alloc)
	if h.HasNegotiationSize() {
		b = binary.BigEndian.AppendUint16(b, h.NegotiationSize)
	}
	return b, nil
}

// UnmarshalBinary decodes the header at the start of b (the IPX payload);
// the data follows at b[h.Len():]. Short input wraps ErrShortBuffer (and
// so io.ErrUnexpectedEOF). h is unchanged on error.
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("spx: header needs %d bytes, have %d: %w", HeaderLen, len(b), ErrShortBuffer)
	}
	d := Header{
		Control:        Control(b[0]),
		DatastreamType: DatastreamType(b[1]),
		SrcID:          binary.BigEndian.Uint16(b[2:4]),
		DstID:          binary.BigEndian.Uint16(b[4:6]),
		Seq:            binary.BigEndian.Uint16(b[6:8]),
		Ack:            binary.BigEndian.Uint16(b[8:10]),
		Alloc:          binary.BigEndian.Uint16(b[10:12]),
	}
	if d.HasNegotiationSize() {
		if len(b) < HeaderLen2 {
			return fmt.Errorf("spx: SPX II header needs %d bytes, have %d: %w", HeaderLen2, len(b), ErrShortBuffer)
		}
		d.NegotiationSize = binary.BigEndian.Uint16(b[12:14])
	}
	*h = d
	return nil
}

// Summary describes the header in one line, for packet dumps.
func (h *Header) Summary() string {
	s := fmt.Sprintf("SPX %s conn %d>%d seq %d ack %d alloc %d", h.Control, h.SrcID, h.DstID, h.Seq, h.Ack, h.Alloc)
	if h.DatastreamType != 0 {
		s += " dstype " + h.DatastreamType.String()
	}
	if h.HasNegotiationSize() {
		s += fmt.Sprintf(" negsize %d", h.NegotiationSize)
	}
	return s
}
