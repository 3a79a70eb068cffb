package sap

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ipxkit/ipxkit/ipx"
)

// Operation is the SAP message kind.
type Operation uint16

// The four SAP operations.
const (
	OpGeneralQuery    Operation = 1
	OpGeneralResponse Operation = 2
	OpNearestQuery    Operation = 3
	OpNearestResponse Operation = 4
)

// IsQuery reports whether o is a general or nearest query.
func (o Operation) IsQuery() bool { return o == OpGeneralQuery || o == OpNearestQuery }

// IsResponse reports whether o is a general or nearest response.
func (o Operation) IsResponse() bool { return o == OpGeneralResponse || o == OpNearestResponse }

// String names the operation, or gives its number.
func (o Operation) String() string {
	switch o {
	case OpGeneralQuery:
		return "general query"
	case OpGeneralResponse:
		return "general response"
	case OpNearestQuery:
		return "nearest query"
	case OpNearestResponse:
		return "nearest response"
	}
	return "operation(" + strconv.Itoa(int(o)) + ")"
}

// Wire sizes.
const (
	// MaxEntries is the most entries one response carries.
	MaxEntries = 7
	// EntryLen is the size of one response entry.
	EntryLen = 64
	// QueryLen is the size of a query: operation and service type.
	QueryLen = 4
	// MaxMessageLen is the size of a full response.
	MaxMessageLen = 2 + MaxEntries*EntryLen
	// MaxHops is the hop count that announces a service going down.
	MaxHops = 16
)

// Entry is one service in a response.
type Entry struct {
	Type ServiceType
	Name Name
	// Addr is where the service listens.
	Addr ipx.Addr
	// Hops is the distance to the service's network; MaxHops (16) means
	// the service is going down.
	Hops uint16
}

// String formats the entry as "type name address/hops".
func (e Entry) String() string {
	return fmt.Sprintf("%04x %s %s/%d", uint16(e.Type), e.Name, e.Addr, e.Hops)
}

// Message is a SAP message: a query (Op 1 or 3, with ServiceType), a
// response (Op 2 or 4, with Entries), or an unknown operation whose bytes
// after the operation are kept in Raw.
type Message struct {
	Op Operation
	// ServiceType is the type asked for by a query.
	ServiceType ServiceType
	// Entries are a response's services, at most MaxEntries. Decoding
	// reuses the slice's capacity: a Message whose Entries has capacity
	// MaxEntries (see NewMessage) decodes without allocating.
	Entries []Entry
	// Raw is the body of an unknown operation. After UnmarshalBinary it
	// aliases the input.
	Raw []byte
}

// NewMessage returns an empty message whose Entries can hold a full
// response, so that UnmarshalBinary never allocates.
func NewMessage() *Message { return &Message{Entries: make([]Entry, 0, MaxEntries)} }

func (m *Message) length() int {
	switch {
	case m.Op.IsQuery():
		return QueryLen
	case m.Op.IsResponse():
		return 2 + len(m.Entries)*EntryLen
	}
	return 2 + len(m.Raw)
}

// MarshalBinary encodes the message; see AppendBinary.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.length()))
}

// AppendBinary appends the encoded message to b. A response with more
// than MaxEntries entries, an unset name or hops above MaxHops is refused.
// It allocates only if b lacks the room, and never modifies m.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	switch {
	case m.Op.IsQuery():
		b = binary.BigEndian.AppendUint16(b, uint16(m.Op))
		return binary.BigEndian.AppendUint16(b, uint16(m.ServiceType)), nil
	case m.Op.IsResponse():
		if len(m.Entries) > MaxEntries {
			return b, fmt.Errorf("sap: %d entries in one response, at most %d: %w", len(m.Entries), MaxEntries, ErrTooManyEntries)
		}
		for i := range m.Entries {
			if err := m.Entries[i].check(); err != nil {
				return b, err
			}
		}
		b = binary.BigEndian.AppendUint16(b, uint16(m.Op))
		for i := range m.Entries {
			b = m.Entries[i].appendBinary(b)
		}
		return b, nil
	}
	b = binary.BigEndian.AppendUint16(b, uint16(m.Op))
	return append(b, m.Raw...), nil
}

func (e *Entry) check() error {
	if e.Name.IsZero() {
		return fmt.Errorf("sap: entry without a name: %w", ErrBadName)
	}
	if e.Hops > MaxHops {
		return fmt.Errorf("sap: entry %s with %d hops: %w", e.Name, e.Hops, ErrBadHops)
	}
	return nil
}

func (e *Entry) appendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(e.Type))
	b = append(b, e.Name.b[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(e.Addr.Net))
	b = append(b, e.Addr.Node[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Addr.Socket))
	return binary.BigEndian.AppendUint16(b, e.Hops)
}

// UnmarshalBinary decodes a SAP message (the IPX payload) from b.
//
// A query needs 4 bytes; bytes after them are ignored. A response must be
// the operation followed by whole 64-byte entries, at most MaxEntries;
// every name must be valid (ErrBadName) and every hop count at most
// MaxHops (ErrBadHops). A partial entry or a short query wraps
// ipx.ErrShortBuffer (io.ErrUnexpectedEOF). Names are copied; only Raw
// aliases b. m is unchanged on error.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return fmt.Errorf("sap: message of %d bytes, need 2: %w", len(b), ipx.ErrShortBuffer)
	}
	op := Operation(binary.BigEndian.Uint16(b))
	switch {
	case op.IsQuery():
		if len(b) < QueryLen {
			return fmt.Errorf("sap: %s of %d bytes, need %d: %w", op, len(b), QueryLen, ipx.ErrShortBuffer)
		}
		m.Op, m.ServiceType = op, ServiceType(binary.BigEndian.Uint16(b[2:]))
		m.Entries, m.Raw = m.Entries[:0], nil
		return nil
	case op.IsResponse():
		body := b[2:]
		if len(body)%EntryLen != 0 {
			return fmt.Errorf("sap: %s body of %d bytes is not whole %d-byte entries: %w", op, len(body), EntryLen, ipx.ErrShortBuffer)
		}
		n := len(body) / EntryLen
		if n > MaxEntries {
			return fmt.Errorf("sap: %s with %d entries, at most %d: %w", op, n, MaxEntries, ErrTooManyEntries)
		}
		// Check every entry before touching m, then decode in place.
		var nameLens [MaxEntries]int
		for i := 0; i < n; i++ {
			l, err := checkEntry(body[i*EntryLen:])
			if err != nil {
				return fmt.Errorf("sap: entry %d: %w", i, err)
			}
			nameLens[i] = l
		}
		m.Op, m.ServiceType, m.Raw = op, 0, nil
		m.Entries = slices.Grow(m.Entries[:0], n)[:n]
		for i := range m.Entries {
			m.Entries[i].unmarshal(body[i*EntryLen:], nameLens[i])
		}
		return nil
	}
	m.Op, m.ServiceType, m.Entries, m.Raw = op, 0, m.Entries[:0], b[2:]
	return nil
}

// checkEntry validates one 64-byte entry, its name and hop count, and
// returns the name's length.
func checkEntry(b []byte) (int, error) {
	b = b[:EntryLen]
	n, err := checkName(b[2:50])
	if err != nil {
		return 0, err
	}
	if hops := binary.BigEndian.Uint16(b[62:64]); hops > MaxHops {
		return 0, fmt.Errorf("sap: service %q with %d hops: %w", b[2:2+n], hops, ErrBadHops)
	}
	return n, nil
}

// unmarshal decodes one 64-byte entry that checkEntry accepted, whose
// name is nameLen bytes long.
func (e *Entry) unmarshal(b []byte, nameLen int) {
	b = b[:EntryLen]
	e.Name.set(b[2:50], nameLen)
	e.Type = ServiceType(binary.BigEndian.Uint16(b[0:2]))
	e.Addr = ipx.Addr{
		Net:    ipx.Network(binary.BigEndian.Uint32(b[50:54])),
		Node:   ipx.Node(b[54:60]),
		Socket: ipx.Socket(binary.BigEndian.Uint16(b[60:62])),
	}
	e.Hops = binary.BigEndian.Uint16(b[62:64])
}

// String formats the message in one line, as Summary does.
func (m *Message) String() string {
	var sb strings.Builder
	sb.WriteString("SAP ")
	sb.WriteString(m.Op.String())
	switch {
	case m.Op.IsQuery():
		fmt.Fprintf(&sb, " type %04x", uint16(m.ServiceType))
	case m.Op.IsResponse():
		fmt.Fprintf(&sb, " %d service", len(m.Entries))
		if len(m.Entries) != 1 {
			sb.WriteByte('s')
		}
		for i := range m.Entries {
			if i == 0 {
				sb.WriteString(": ")
			} else {
				sb.WriteString(", ")
			}
			sb.WriteString(m.Entries[i].String())
		}
	default:
		fmt.Fprintf(&sb, " %d bytes", len(m.Raw))
	}
	return sb.String()
}
