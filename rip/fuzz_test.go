package rip

import (
	"slices"
	"testing"

	"github.com/google/gopacket"
)

func FuzzRIP(f *testing.F) {
	f.Add([]byte{0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 2, 0, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 3, 0, 16, 0, 5})
	f.Add([]byte{0, 2})
	f.Add([]byte{0, 2, 0, 0, 0})
	f.Add([]byte{0x12, 0x34, 0xff, 0xff, 0xff, 0xfe, 0, 0x11, 0xff, 0xff})
	f.Add(make([]byte, MaxLen+EntryLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if len(enc) != p.length() {
			t.Fatalf("encoded %d bytes, length() %d", len(enc), p.length())
		}
		var q Packet
		if err := q.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		if q.Operation != p.Operation || !slices.Equal(q.Entries, p.Entries) {
			t.Fatalf("round trip: %+v != %+v", q, p)
		}
		// The gopacket layer decodes the same bytes the same way.
		var l RIP
		if err := l.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("layer: %v", err)
		}
		if l.Operation != p.Operation || !slices.Equal(l.Entries, p.Entries) {
			t.Fatalf("layer decoded %+v, packet %+v", l.Packet, p)
		}
		_ = l.Summary()
	})
}
