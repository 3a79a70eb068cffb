package echo

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
)

// Socket is the socket Novell's IPX Ping requests are sent to.
const Socket ipx.Socket = 0x9086

// PacketType is the IPX packet type of Novell's IPX Ping (4, PEP).
const PacketType = ipx.TypePEP

// HeaderLen is the size of the ping header before the padding.
const HeaderLen = 10

// Version is the ping header version this package sends.
const Version = 1

// signature opens every ping header.
var signature = [4]byte{'P', 'i', 'n', 'g'}

// ErrBadSignature reports data that does not start with "Ping".
var ErrBadSignature = errors.New("echo: not a ping (bad signature)")

// Kind tells a request from a reply.
type Kind uint8

// Message kinds.
const (
	KindRequest Kind = 0
	KindReply   Kind = 1
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindReply:
		return "reply"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Message is a ping header and its padding.
//
//	0 "Ping" (4)  4 version (1)  5 kind (1)  6 id (2)  8 result (1)
//	9 reserved, sent as 0 (1)    10 data
type Message struct {
	// Version is the header version; Version (1) when sending.
	Version uint8
	// Kind is KindRequest or KindReply; other values decode as they are.
	Kind Kind
	// ID matches a reply to its request.
	ID uint16
	// Result is 0 in requests and 1 in replies.
	Result uint8
	// Data is the padding after the header, echoed back by the
	// responder. After UnmarshalBinary it aliases the decoded buffer.
	Data []byte
}

func (m *Message) length() int { return HeaderLen + len(m.Data) }

// MarshalBinary encodes the message.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.length()))
}

// AppendBinary appends the encoded message to b, allocating only if b
// lacks the room.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, signature[:]...)
	b = append(b, m.Version, byte(m.Kind))
	b = binary.BigEndian.AppendUint16(b, m.ID)
	b = append(b, m.Result, 0)
	return append(b, m.Data...), nil
}

// UnmarshalBinary decodes a message from an IPX payload. Data aliases b.
// m is unchanged on error.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("echo: ping header needs %d bytes, have %d: %w", HeaderLen, len(b), ipx.ErrShortBuffer)
	}
	if [4]byte(b[0:4]) != signature {
		return fmt.Errorf("echo: signature %q: %w", b[0:4], ErrBadSignature)
	}
	*m = Message{
		Version: b[4],
		Kind:    Kind(b[5]),
		ID:      binary.BigEndian.Uint16(b[6:8]),
		Result:  b[8],
		Data:    b[HeaderLen:len(b):len(b)],
	}
	return nil
}
