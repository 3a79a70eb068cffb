package sap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

// rawEntry builds a 64-byte entry by hand, independently of the encoder.
func rawEntry(typ uint16, name string, net uint32, node [6]byte, sock, hops uint16) []byte {
	b := make([]byte, EntryLen)
	binary.BigEndian.PutUint16(b[0:], typ)
	copy(b[2:50], name)
	binary.BigEndian.PutUint32(b[50:], net)
	copy(b[54:60], node[:])
	binary.BigEndian.PutUint16(b[60:], sock)
	binary.BigEndian.PutUint16(b[62:], hops)
	return b
}

func rawMsg(op uint16, parts ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var node1 = [6]byte{0x02, 0, 0, 0, 0, 0x01}

func TestMessageDecode(t *testing.T) {
	fs1 := Entry{Type: TypeFileServer, Name: MustName("FS1"), Addr: ipx.Addr{Net: 0x10, Node: node1, Socket: ipx.SocketNCP}, Hops: 1}
	long := strings.Repeat("A", MaxNameLen)
	tests := []struct {
		name string
		in   []byte
		want Message
	}{
		{"general query", rawMsg(1, []byte{0, 4}), Message{Op: OpGeneralQuery, ServiceType: TypeFileServer, Entries: []Entry{}}},
		{"nearest query wildcard", rawMsg(3, []byte{0xff, 0xff}), Message{Op: OpNearestQuery, ServiceType: TypeWildcard, Entries: []Entry{}}},
		{"query with padding", rawMsg(1, []byte{0, 7, 0, 0}), Message{Op: OpGeneralQuery, ServiceType: TypePrintServer, Entries: []Entry{}}},
		{"empty response", rawMsg(2), Message{Op: OpGeneralResponse, Entries: []Entry{}}},
		{"one entry", rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 1)), Message{Op: OpGeneralResponse, Entries: []Entry{fs1}}},
		{"garbage after NUL is dropped", rawMsg(4, func() []byte {
			e := rawEntry(4, "FS1", 0x10, node1, 0x451, 1)
			copy(e[2+4:], "junk")
			return e
		}()), Message{Op: OpNearestResponse, Entries: []Entry{fs1}}},
		{"47-character name", rawMsg(2, rawEntry(4, long, 0x10, node1, 0x451, 16)), Message{Op: OpGeneralResponse, Entries: []Entry{{Type: 4, Name: MustName(long), Addr: fs1.Addr, Hops: 16}}}},
		{"unknown operation", rawMsg(9, []byte{1, 2, 3}), Message{Op: 9, Entries: []Entry{}, Raw: []byte{1, 2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage()
			if err := m.UnmarshalBinary(tt.in); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if !reflect.DeepEqual(*m, tt.want) {
				t.Fatalf("got %+v\nwant %+v", *m, tt.want)
			}
			// Re-encode and decode again: the same message.
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			if len(b) != m.length() {
				t.Fatalf("encoded %d bytes, length() %d", len(b), m.length())
			}
			m2 := NewMessage()
			if err := m2.UnmarshalBinary(b); err != nil {
				t.Fatalf("second UnmarshalBinary: %v", err)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("round trip: got %+v, want %+v", m2, m)
			}
		})
	}
}

func TestMessageDecodeErrors(t *testing.T) {
	ok := rawEntry(4, "FS1", 0x10, node1, 0x451, 1)
	withName := func(name []byte) []byte {
		e := append([]byte(nil), ok...)
		copy(e[2:50], make([]byte, 48))
		copy(e[2:50], name)
		return e
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"one byte", []byte{0}, io.ErrUnexpectedEOF},
		{"short query", rawMsg(1, []byte{0}), io.ErrUnexpectedEOF},
		{"truncated entry", rawMsg(2, ok[:63]), io.ErrUnexpectedEOF},
		{"entry and a half", rawMsg(2, ok, ok[:10]), io.ErrUnexpectedEOF},
		{"eight entries", rawMsg(2, ok, ok, ok, ok, ok, ok, ok, ok), ErrTooManyEntries},
		{"name without NUL", rawMsg(2, withName(bytes.Repeat([]byte{'A'}, 48))), ErrBadName},
		{"empty name", rawMsg(2, withName(nil)), ErrBadName},
		{"control character", rawMsg(2, withName([]byte("FS\x071"))), ErrBadName},
		{"high byte", rawMsg(2, withName([]byte("FS\xe91"))), ErrBadName},
		{"hops 17", rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 17)), ErrBadHops},
		{"hops 0xffff in second entry", rawMsg(4, ok, rawEntry(4, "FS2", 0x10, node1, 0x451, 0xffff)), ErrBadHops},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage()
			m.Op = 77
			err := m.UnmarshalBinary(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "sap: ") {
				t.Errorf("error %q lacks the sap: prefix", err)
			}
			if m.Op != 77 || len(m.Entries) != 0 {
				t.Errorf("message changed on error: %+v", m)
			}
		})
	}
}

func TestMessageEncode(t *testing.T) {
	e := Entry{Type: TypePrintServer, Name: MustName("PRN-1"), Addr: ipx.Addr{Net: 0xa0b0c0d0, Node: node1, Socket: 0x8060}, Hops: 3}
	got, err := (&Message{Op: OpGeneralResponse, Entries: []Entry{e}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := rawMsg(2, rawEntry(7, "PRN-1", 0xa0b0c0d0, node1, 0x8060, 3))
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	got, _ = (&Message{Op: OpNearestQuery, ServiceType: TypeFileServer}).MarshalBinary()
	if want := []byte{0, 3, 0, 4}; !bytes.Equal(got, want) {
		t.Fatalf("query: got % x, want % x", got, want)
	}

	bad := []struct {
		name string
		m    Message
		want error
	}{
		{"eight entries", Message{Op: OpGeneralResponse, Entries: make([]Entry, 8)}, ErrTooManyEntries},
		{"unset name", Message{Op: OpGeneralResponse, Entries: []Entry{{Type: 4}}}, ErrBadName},
		{"hops 17", Message{Op: OpNearestResponse, Entries: []Entry{{Type: 4, Name: MustName("X"), Hops: 17}}}, ErrBadHops},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.AppendBinary([]byte{1})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !bytes.Equal(b, []byte{1}) {
				t.Fatalf("buffer changed on error: % x", b)
			}
		})
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"FS1", false},
		{"MY SERVER~", false},
		{strings.Repeat("x", 47), false},
		{strings.Repeat("x", 48), true},
		{"", true},
		{"tab\there", true},
		{"del\x7f", true},
		{"caf\u00e9", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := ParseName(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadName) {
					t.Fatalf("ParseName(%q) error %v, want ErrBadName", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.String() != tt.in || n.Len() != len(tt.in) {
				t.Fatalf("String %q Len %d, want %q", n, n.Len(), tt.in)
			}
			var m Name
			if err := m.UnmarshalText([]byte(tt.in)); err != nil || m != n {
				t.Fatalf("UnmarshalText: %v %q", err, m)
			}
		})
	}
	if MustName("A").Compare(MustName("AB")) >= 0 || MustName("B").Compare(MustName("AB")) <= 0 {
		t.Error("Compare does not order like strings")
	}
}

func TestMessageAllocs(t *testing.T) {
	var es []Entry
	for i := range MaxEntries {
		es = append(es, Entry{Type: 4, Name: MustName(strings.Repeat("S", i+1)), Addr: ipx.Addr{Net: ipx.Network(i)}, Hops: uint16(i)})
	}
	src := &Message{Op: OpGeneralResponse, Entries: es}
	wire, err := src.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, MaxMessageLen)
	m := NewMessage()
	if n := testing.AllocsPerRun(100, func() {
		if _, err := src.AppendBinary(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendBinary: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := m.UnmarshalBinary(wire); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("UnmarshalBinary: %v allocs", n)
	}
	if len(m.Entries) != MaxEntries || m.Entries[6] != es[6] {
		t.Errorf("decoded %v", m.Entries)
	}
}

func TestMessageString(t *testing.T) {
	m := Message{Op: OpGeneralResponse, Entries: []Entry{{Type: 4, Name: MustName("FS1"), Addr: ipx.Addr{Net: 1, Node: node1, Socket: 0x451}, Hops: 1}}}
	want := "SAP general response 1 service: 0004 FS1 00000001:020000000001:0451/1"
	if got := m.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := (&Message{Op: OpNearestQuery, ServiceType: 4}).String(), "SAP nearest query type 0004"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestAllPrintable compares the word-at-a-time check with a byte loop on
// every byte value in every position, and on random words.
func TestAllPrintable(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c > 0x7E {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for v := 0; v < 256; v++ {
				b := bytes.Repeat([]byte{'A'}, n)
				b[pos] = byte(v)
				if got, want := allPrintable(b), naive(b); got != want {
					t.Fatalf("len %d byte 0x%02x at %d: %v, want %v", n, v, pos, got, want)
				}
			}
		}
	}
	rng := uint64(1)
	for range 100000 {
		rng = rng*6364136223846793005 + 1442695040888963407
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rng)
		for i := range b {
			if b[i]&1 == 0 {
				b[i] = 0x20 + b[i]%0x5F // mostly printable, so both answers occur
			}
		}
		if got, want := allPrintable(b[:]), naive(b[:]); got != want {
			t.Fatalf("% x: %v, want %v", b, got, want)
		}
	}
}
