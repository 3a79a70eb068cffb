package mirror

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ipxkit/ipxkit/ipx"
)

// Client datagrams: one request packet and one reply packet from the same
// address, as NCP does. Each IPX payload starts with a 24-byte header,
// big-endian:
//
//	0  version (1)   Version
//	1  kind (1)      KindRequest, KindReply or KindNotify
//	2  reserved (2)  zero
//	4  client (8)    the client's id, chosen by the client
//	12 request (8)   the request id, unique per client
//	20 epoch (4)     the answering server's epoch (zero in requests)
//	24 data          request or reply body, at most MaxData bytes
const (
	// Version is the client protocol version.
	Version = 1
	// HeaderLen is the size of a client datagram's header.
	HeaderLen = 24
	// MaxData is the largest request or reply body: what a classic
	// 576-byte IPX packet leaves after the IPX header and ours, so that a
	// request crosses any IPX network without fragmentation.
	MaxData = ipx.MaxPacketLen - ipx.HeaderLen - HeaderLen
	// PacketType is the IPX packet type of client datagrams (PEP,
	// Novell's packet exchange protocol: one request, one reply).
	PacketType = ipx.TypePEP
)

// Kind is the kind of a client datagram.
type Kind uint8

// Kinds of client datagram.
const (
	KindRequest Kind = 1 // client to server
	KindReply   Kind = 2 // server to client, same ids
	// KindNotify tells a client that a server took over: retry pending
	// requests now rather than after the backoff. It carries no ids.
	KindNotify Kind = 3
	// KindProbe asks a server, at its LAN address and the engine's
	// socket, what it is; KindProbeReply answers with its epoch and, as
	// the one data byte, its Role. A secondary whose MSL fell silent
	// probes its peer this way: a peer that answers but is not primary
	// (restarted since, say) is no primary to defer to.
	KindProbe      Kind = 4
	KindProbeReply Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindReply:
		return "reply"
	case KindNotify:
		return "notify"
	case KindProbe:
		return "probe"
	case KindProbeReply:
		return "probe-reply"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Message is a client datagram. A decoded Message's Data aliases the
// buffer it was decoded from.
type Message struct {
	Kind   Kind
	Client uint64
	ID     uint64
	Epoch  uint32
	Data   []byte
}

func (m *Message) length() int { return HeaderLen + len(m.Data) }

// MarshalBinary encodes m.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.length()))
}

// AppendBinary appends m's encoding to b. It allocates only if b lacks
// room.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Data) > MaxData {
		return b, fmt.Errorf("mirror: %d bytes of data: %w", len(m.Data), ErrTooLarge)
	}
	if m.Kind < KindRequest || m.Kind > KindProbeReply {
		return b, fmt.Errorf("mirror: encode %v: %w", m.Kind, ErrMalformed)
	}
	b = append(b, Version, byte(m.Kind), 0, 0)
	b = binary.BigEndian.AppendUint64(b, m.Client)
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = binary.BigEndian.AppendUint32(b, m.Epoch)
	return append(b, m.Data...), nil
}

// UnmarshalBinary decodes a client datagram. Data aliases b.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("mirror: datagram of %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	if b[0] != Version {
		return fmt.Errorf("mirror: datagram version %d: %w", b[0], ErrMalformed)
	}
	k := Kind(b[1])
	if k < KindRequest || k > KindProbeReply || b[2] != 0 || b[3] != 0 {
		return fmt.Errorf("mirror: datagram %v: %w", k, ErrMalformed)
	}
	if len(b)-HeaderLen > MaxData {
		return fmt.Errorf("mirror: %d bytes of data: %w", len(b)-HeaderLen, ErrTooLarge)
	}
	*m = Message{
		Kind:   k,
		Client: binary.BigEndian.Uint64(b[4:]),
		ID:     binary.BigEndian.Uint64(b[12:]),
		Epoch:  binary.BigEndian.Uint32(b[20:]),
		Data:   b[HeaderLen:],
	}
	return nil
}
