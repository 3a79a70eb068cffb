package sap

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
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

// FuzzCore feeds decoded messages from arbitrary bytes, on arbitrary
// links and from arbitrary senders, into the Advertiser's core: it must
// not panic, the table must stay within its bound, and everything it
// wants sent must encode.
func FuzzCore(f *testing.F) {
	f.Add([]byte{0, 1, 0xff, 0xff}, uint8(1), uint8(0xa))
	f.Add(rawMsg(2, rawEntry(4, "FS1", 7, node1, 0x451, 1), rawEntry(4, "FS2", 8, node1, 0x451, 16)), uint8(2), uint8(0xb))
	f.Add(rawMsg(3, []byte{0, 4}), uint8(2), uint8(0xb))
	f.Fuzz(func(t *testing.T, b []byte, link, from uint8) {
		c := newTestCore(t, Config{Table: TableConfig{MaxServices: 5}})
		c.addLocal(Entry{Type: TypeFileServer, Name: MustName("LOCAL"), Hops: 1})
		// Split the input into messages at every 450 bytes.
		now := t0
		for len(b) > 0 {
			n := min(len(b), MaxMessageLen)
			m := NewMessage()
			if m.UnmarshalBinary(b[:n]) == nil {
				info := recv(ipx.LinkID(link%4), ipx.Node{2, 0, 0, 0, 0, from % 4})
				c.input(now, m, info)
				c.Tick(now)
				for _, o := range drain(c) {
					if _, err := o.msg.AppendBinary(nil); err != nil {
						t.Fatalf("core wants to send an unencodable %+v: %v", o.msg, err)
					}
				}
			}
			if c.table.Len() > 5 {
				t.Fatalf("table holds %d services, bound 5", c.table.Len())
			}
			held := 0
			for _, n := range c.table.Neighbours() {
				held += n.Services
			}
			if held != c.table.Len() {
				t.Fatalf("neighbours hold %d services, table %d", held, c.table.Len())
			}
			b = b[n:]
			now = now.Add(time.Minute)
		}
	})
}
