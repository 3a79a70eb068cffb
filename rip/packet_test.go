package rip

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

func TestPacketRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		wire []byte
	}{
		{
			name: "request all",
			p:    Packet{Operation: OpRequest, Entries: []Entry{RequestEntry(ipx.NetworkAll)}},
			wire: []byte{0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		},
		{
			name: "response two routes",
			p: Packet{Operation: OpResponse, Entries: []Entry{
				{Network: 0x0a0b0c0d, Hops: 1, Ticks: 2},
				{Network: 2, Hops: 16, Ticks: 0x0102},
			}},
			wire: []byte{0, 2, 0x0a, 0x0b, 0x0c, 0x0d, 0, 1, 0, 2, 0, 0, 0, 2, 0, 16, 1, 2},
		},
		{
			name: "empty response",
			p:    Packet{Operation: OpResponse, Entries: []Entry{}},
			wire: []byte{0, 2},
		},
		{
			name: "unknown operation",
			p:    Packet{Operation: 7, Entries: []Entry{{Network: 1, Hops: 2, Ticks: 3}}},
			wire: []byte{0, 7, 0, 0, 0, 1, 0, 2, 0, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.wire) {
				t.Fatalf("MarshalBinary = % x, want % x", got, tt.wire)
			}
			if len(got) != tt.p.length() {
				t.Errorf("length() = %d, encoded %d", tt.p.length(), len(got))
			}
			var back Packet
			if err := back.UnmarshalBinary(tt.wire); err != nil {
				t.Fatal(err)
			}
			if back.Operation != tt.p.Operation || !slices.Equal(back.Entries, tt.p.Entries) {
				t.Errorf("decoded %+v, want %+v", back, tt.p)
			}
		})
	}
}

func TestPacketErrors(t *testing.T) {
	full := make([]byte, OperationLen+51*EntryLen)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"one byte", []byte{0}, ipx.ErrShortBuffer},
		{"partial entry", []byte{0, 2, 0, 0, 0, 1, 0, 1, 0}, io.ErrUnexpectedEOF},
		{"51 entries", full, ErrTooManyEntries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Packet{Operation: 9, Entries: []Entry{{Network: 5}}}
			err := p.UnmarshalBinary(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if p.Operation != 9 || len(p.Entries) != 1 || p.Entries[0].Network != 5 {
				t.Errorf("packet changed on error: %+v", p)
			}
		})
	}
	t.Run("encode 51", func(t *testing.T) {
		p := Packet{Operation: OpResponse, Entries: make([]Entry, 51)}
		if _, err := p.MarshalBinary(); !errors.Is(err, ErrTooManyEntries) {
			t.Fatalf("err = %v, want ErrTooManyEntries", err)
		}
	})
	t.Run("50 is fine", func(t *testing.T) {
		var p Packet
		if err := p.UnmarshalBinary(full[:MaxLen]); err != nil || len(p.Entries) != MaxEntries {
			t.Fatalf("err = %v, %d entries", err, len(p.Entries))
		}
	})
}

func TestSplit(t *testing.T) {
	for _, n := range []int{0, 1, 49, 50, 51, 100, 101, 10000} {
		entries := make([]Entry, n)
		for i := range entries {
			entries[i] = Entry{Network: ipx.Network(i + 1), Hops: 1, Ticks: 1}
		}
		var joined []Entry
		packets := 0
		for p := range Split(OpResponse, entries) {
			packets++
			if len(p.Entries) == 0 || len(p.Entries) > MaxEntries || p.Operation != OpResponse {
				t.Fatalf("n=%d: packet %d has %d entries op %v", n, packets, len(p.Entries), p.Operation)
			}
			if _, err := p.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
			joined = append(joined, p.Entries...)
		}
		if want := (n + MaxEntries - 1) / MaxEntries; packets != want {
			t.Errorf("n=%d: %d packets, want %d", n, packets, want)
		}
		if !slices.Equal(joined, entries) {
			t.Errorf("n=%d: entries differ after split", n)
		}
	}
}

func TestPacketNoAlloc(t *testing.T) {
	p := Packet{Operation: OpResponse, Entries: make([]Entry, MaxEntries)}
	for i := range p.Entries {
		p.Entries[i] = Entry{Network: ipx.Network(i), Hops: 3, Ticks: 4}
	}
	buf := make([]byte, 0, MaxLen)
	wire, _ := p.AppendBinary(nil)
	dec := Packet{Entries: make([]Entry, 0, MaxEntries)}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.AppendBinary(buf[:0]); err != nil {
			t.Fatal(err)
		}
		if err := dec.UnmarshalBinary(wire); err != nil {
			t.Fatal(err)
		}
		for range Split(OpResponse, p.Entries) {
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per encode+decode, want 0", allocs)
	}
}

func TestOperationString(t *testing.T) {
	for op, want := range map[Operation]string{1: "request", 2: "response", 3: "op(3)"} {
		if got := op.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", op, got, want)
		}
	}
}
