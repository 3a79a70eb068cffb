package sap

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ServiceType is the 16-bit SAP service (object) type.
type ServiceType uint16

// Common service types, from NetWare's bindery object types.
const (
	TypeUser                ServiceType = 0x0001
	TypePrintQueue          ServiceType = 0x0003
	TypeFileServer          ServiceType = 0x0004
	TypeJobServer           ServiceType = 0x0005
	TypePrintServer         ServiceType = 0x0007
	TypeArchiveServer       ServiceType = 0x0009
	TypeAdvertisingPrintSrv ServiceType = 0x0047
	TypeNetWareAccessServer ServiceType = 0x0098
	TypeDirectoryServer     ServiceType = 0x0278
	TypeNetWareLink         ServiceType = 0x026B
	// TypeWildcard in a query asks for every service type.
	TypeWildcard ServiceType = 0xFFFF
)

var serviceTypeNames = map[ServiceType]string{
	TypeUser: "user", TypePrintQueue: "print queue", TypeFileServer: "file server",
	TypeJobServer: "job server", TypePrintServer: "print server",
	TypeArchiveServer: "archive server", TypeAdvertisingPrintSrv: "advertising print server",
	TypeNetWareAccessServer: "NetWare access server", TypeDirectoryServer: "directory server",
	TypeNetWareLink: "time synchronization server", TypeWildcard: "all",
}

// String gives the type as four hex digits, with its name when known.
func (t ServiceType) String() string {
	if s, ok := serviceTypeNames[t]; ok {
		return fmt.Sprintf("%04x (%s)", uint16(t), s)
	}
	return fmt.Sprintf("%04x", uint16(t))
}

// Matches reports whether a service of type s answers a query for t:
// the types are equal or t is the wildcard.
func (t ServiceType) Matches(s ServiceType) bool { return t == TypeWildcard || t == s }

// NameLen is the size of the name field; names hold at most MaxNameLen
// characters so that a terminating NUL always fits.
const (
	NameLen    = 48
	MaxNameLen = NameLen - 1
)

// Name is a validated service name stored as its 48-byte, NUL-padded wire
// field, so that entries decode without allocation and compare with ==.
// The zero Name is empty and is refused on the wire. Make one with
// ParseName.
type Name struct {
	b [NameLen]byte
}

// ParseName checks that s is 1 to 47 printable ASCII characters
// (0x20–0x7E) and returns it as a Name. The error wraps ErrBadName.
func ParseName(s string) (Name, error) {
	var n Name
	if len(s) == 0 || len(s) > MaxNameLen {
		return Name{}, fmt.Errorf("sap: name of %d characters, want 1 to %d: %w", len(s), MaxNameLen, ErrBadName)
	}
	for i := 0; i < len(s); i++ {
		if !printable(s[i]) {
			return Name{}, fmt.Errorf("sap: name %q: byte 0x%02x at %d is not printable ASCII: %w", s, s[i], i, ErrBadName)
		}
	}
	copy(n.b[:], s)
	return n, nil
}

// MustName is ParseName for names known to be valid; it panics otherwise.
// Use it for constants in programs and tests.
func MustName(s string) Name {
	n, err := ParseName(s)
	if err != nil {
		panic(err)
	}
	return n
}

func printable(c byte) bool { return c >= 0x20 && c <= 0x7E }

// checkName validates a 48-byte wire field and returns the name's length:
// 1 to 47 printable ASCII characters, then a NUL.
func checkName(field []byte) (int, error) {
	field = field[:NameLen]
	end := bytes.IndexByte(field, 0)
	switch end {
	case -1:
		return 0, fmt.Errorf("sap: name without NUL in %d bytes: %w", NameLen, ErrBadName)
	case 0:
		return 0, fmt.Errorf("sap: empty name: %w", ErrBadName)
	}
	if !allPrintable(field[:end]) {
		for i, c := range field[:end] {
			if !printable(c) {
				return 0, fmt.Errorf("sap: name byte 0x%02x at %d is not printable ASCII: %w", c, i, ErrBadName)
			}
		}
	}
	return end, nil
}

// allPrintable reports whether every byte of b is in 0x20–0x7E, eight
// bytes at a time: decoding spends most of its time here.
func allPrintable(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		// (w - 0x20 each) &^ w has a high bit set iff some byte is below
		// 0x20 (when no byte has its own high bit set); w + 0x01 each,
		// or w, has one iff some byte is 0x7F or above.
		if ((w-0x20*ones)&^w|(w+ones)|w)&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if !printable(c) {
			return false
		}
	}
	return true
}

// set stores the first n bytes of a checked field, zeroing the rest so
// that equal names compare equal whatever padding the sender left.
func (nm *Name) set(field []byte, n int) {
	copy(nm.b[:], field[:n])
	clear(nm.b[n:])
}

// Len is the number of characters in the name.
func (n Name) Len() int {
	for i, c := range n.b {
		if c == 0 {
			return i
		}
	}
	return NameLen
}

// IsZero reports whether n is the empty, unset name.
func (n Name) IsZero() bool { return n.b[0] == 0 }

// String returns the name's characters.
func (n Name) String() string { return string(n.b[:n.Len()]) }

// AppendText appends the name's characters to b.
func (n Name) AppendText(b []byte) ([]byte, error) { return append(b, n.b[:n.Len()]...), nil }

// MarshalText implements encoding.TextMarshaler.
func (n Name) MarshalText() ([]byte, error) { return n.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler with ParseName's checks.
func (n *Name) UnmarshalText(b []byte) error {
	p, err := ParseName(string(b))
	if err != nil {
		return err
	}
	*n = p
	return nil
}

// Compare orders names byte-wise, like strings.Compare on String.
func (n Name) Compare(m Name) int { return bytes.Compare(n.b[:], m.b[:]) }
