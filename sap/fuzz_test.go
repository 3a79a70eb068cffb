package sap

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzSAP checks that decoding never panics and that whatever decodes
// re-encodes to a message that decodes to the same value, of the length
// length() predicts.
func FuzzSAP(f *testing.F) {
	f.Add([]byte{0, 1, 0, 4})
	f.Add([]byte{0, 3, 0xff, 0xff})
	f.Add(rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 1)))
	f.Add(rawMsg(4, rawEntry(7, "PRINTER", 0xfffffffe, node1, 0x8060, 16)))
	f.Add(rawMsg(2, rawEntry(4, "A", 1, node1, 1, 1), rawEntry(4, "B", 2, node1, 2, 2)))
	f.Add(rawMsg(2, rawEntry(4, "FS\x01", 0x10, node1, 0x451, 17)))
	f.Add(rawMsg(9, []byte("xyz")))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMessage()
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", m, err)
		}
		if len(enc) != m.length() {
			t.Fatalf("encoded %d bytes, length() %d", len(enc), m.length())
		}
		if m.Op.IsResponse() && !bytes.Equal(enc[:2], b[:2]) {
			t.Fatalf("operation changed")
		}
		m2 := NewMessage()
		if err := m2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decoding re-encoded % x: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v != %+v", m2, m)
		}
		_ = m.String()
	})
}
