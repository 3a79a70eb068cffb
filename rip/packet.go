package rip

import (
	"encoding/binary"
	"fmt"
	"iter"
	"strconv"

	"github.com/ipxkit/ipxkit/ipx"
)

// Sizes of the RIP wire format.
const (
	// OperationLen is the size of the operation field that starts a packet.
	OperationLen = 2
	// EntryLen is the size of one entry: network (4), hops (2), ticks (2).
	EntryLen = 8
	// MaxEntries is the most entries one packet carries; a larger set is
	// sent as several packets (see Split).
	MaxEntries = 50
	// MaxLen is the largest RIP payload: 2 + 50*8 = 402 bytes, which with
	// the IPX header stays within the classic 576-byte packet.
	MaxLen = OperationLen + MaxEntries*EntryLen
)

// Unreachable is the hop count that marks a route as unreachable.
const Unreachable = ipx.MaxHops

// Operation is the first field of a RIP packet.
type Operation uint16

// The two RIP operations. Other values decode without error, so that a
// capture of an unknown operation can still be shown; the Router ignores
// them and counts them.
const (
	OpRequest  Operation = 1
	OpResponse Operation = 2
)

// String names the operation, or gives its number.
func (o Operation) String() string {
	switch o {
	case OpRequest:
		return "request"
	case OpResponse:
		return "response"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Entry is one route in a RIP packet.
//
//	0 network (4)   4 hops (2)   6 ticks (2)
type Entry struct {
	Network ipx.Network
	// Hops is the number of routers to cross; Unreachable (16) means
	// the network cannot be reached. Requests put 0xFFFF here.
	Hops uint16
	// Ticks is the delay in 1/18 s. Requests put 0xFFFF here.
	Ticks uint16
}

// RequestEntry asks for the route to n; ipx.NetworkAll asks for all routes.
func RequestEntry(n ipx.Network) Entry {
	return Entry{Network: n, Hops: 0xFFFF, Ticks: 0xFFFF}
}

// Packet is a RIP request or response: the IPX payload on socket 0x0453.
//
// Entries never alias the decoded buffer. UnmarshalBinary decodes into
// Entries[:0], reusing its capacity: give it a capacity of MaxEntries
// (for example make([]Entry, 0, MaxEntries)) and decoding never
// allocates. A Packet built for sending may point Entries at any slice;
// encoding only reads it.
type Packet struct {
	Operation Operation
	Entries   []Entry
}

func (p *Packet) length() int { return OperationLen + EntryLen*len(p.Entries) }

// MarshalBinary encodes the packet; see AppendBinary.
func (p *Packet) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, p.length()))
}

// AppendBinary appends the encoded packet to b. More than MaxEntries
// entries is an error wrapping ErrTooManyEntries; use Split. It allocates
// only if b lacks the room.
func (p *Packet) AppendBinary(b []byte) ([]byte, error) {
	if len(p.Entries) > MaxEntries {
		return b, fmt.Errorf("rip: encode %d entries: %w", len(p.Entries), ErrTooManyEntries)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(p.Operation))
	for _, e := range p.Entries {
		b = binary.BigEndian.AppendUint32(b, uint32(e.Network))
		b = binary.BigEndian.AppendUint16(b, e.Hops)
		b = binary.BigEndian.AppendUint16(b, e.Ticks)
	}
	return b, nil
}

// UnmarshalBinary decodes a RIP payload. Input shorter than the operation
// field or ending in a partial entry is an error wrapping
// ipx.ErrShortBuffer (and so io.ErrUnexpectedEOF); more than MaxEntries
// entries wraps ErrTooManyEntries. Entry values are not judged here (a
// response may carry hops over 16); the Table ignores and counts bad
// ones. p is unchanged on error.
func (p *Packet) UnmarshalBinary(b []byte) error {
	if len(b) < OperationLen {
		return fmt.Errorf("rip: packet of %d bytes: %w", len(b), ipx.ErrShortBuffer)
	}
	body := b[OperationLen:]
	if r := len(body) % EntryLen; r != 0 {
		return fmt.Errorf("rip: %d bytes after the last whole entry: %w", r, ipx.ErrShortBuffer)
	}
	n := len(body) / EntryLen
	if n > MaxEntries {
		return fmt.Errorf("rip: packet of %d entries: %w", n, ErrTooManyEntries)
	}
	entries := p.Entries[:0]
	for i := 0; i < n; i++ {
		e := body[i*EntryLen : (i+1)*EntryLen]
		entries = append(entries, Entry{
			Network: ipx.Network(binary.BigEndian.Uint32(e[0:4])),
			Hops:    binary.BigEndian.Uint16(e[4:6]),
			Ticks:   binary.BigEndian.Uint16(e[6:8]),
		})
	}
	p.Operation = Operation(binary.BigEndian.Uint16(b[0:2]))
	p.Entries = entries
	return nil
}

// Split yields the packets of operation op that carry entries, at most
// MaxEntries each; an empty set yields nothing. The packets' Entries
// alias entries, so nothing is copied or allocated.
func Split(op Operation, entries []Entry) iter.Seq[Packet] {
	return func(yield func(Packet) bool) {
		for len(entries) > 0 {
			n := min(len(entries), MaxEntries)
			if !yield(Packet{Operation: op, Entries: entries[:n:n]}) {
				return
			}
			entries = entries[n:]
		}
	}
}
