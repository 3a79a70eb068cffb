package ipx

import (
	"encoding/binary"
	"fmt"
)

// Packet is an IPX header with its data.
type Packet struct {
	Header Header
	// Payload is the data after the header. After UnmarshalBinary it
	// aliases the decoded buffer.
	Payload []byte
}

func (p *Packet) length() int { return HeaderLen + len(p.Payload) }

// MarshalBinary encodes the packet; see AppendBinary.
func (p *Packet) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, p.length()))
}

// AppendBinary appends the encoded packet to b. The length field is
// computed from the payload (Header.Length is ignored); the checksum field
// is written verbatim (use PutChecksum to compute one). It allocates only
// if b lacks the room, and never modifies p.
func (p *Packet) AppendBinary(b []byte) ([]byte, error) {
	n := p.length()
	if n > 0xFFFF {
		return b, fmt.Errorf("ipx: packet of %d bytes exceeds the length field: %w", n, ErrTooLarge)
	}
	start := len(b)
	b, _ = p.Header.AppendBinary(b)
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return append(b, p.Payload...), nil
}

// UnmarshalBinary decodes a packet from b. Bytes past the length field
// (Ethernet padding) are ignored; a length field beyond b is an error, and
// so is a checksum that is neither 0xFFFF nor correct. Payload aliases b.
// p is unchanged on error.
func (p *Packet) UnmarshalBinary(b []byte) error {
	n, err := checkPacket(b)
	if err != nil {
		return err
	}
	p.Header.decode(b)
	p.Payload = b[HeaderLen:n:n]
	return nil
}
