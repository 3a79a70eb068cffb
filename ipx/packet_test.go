package ipx

import (
	"bytes"
	"encoding"
	"errors"
	"io"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
	}{
		{"no data", nil},
		{"odd data", []byte{1, 2, 3}},
		{"576 bytes", bytes.Repeat([]byte{0x5a}, MaxPacketLen-HeaderLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Packet{Header: testHeader, Payload: tt.payload}
			p.Header.Length = 1 // ignored by the encoder
			orig := p
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if p.Header != orig.Header || !bytes.Equal(p.Payload, tt.payload) {
				t.Error("MarshalBinary modified the packet")
			}
			if len(b) != p.length() || len(b) != HeaderLen+len(tt.payload) {
				t.Fatalf("encoded %d bytes, length() %d", len(b), p.length())
			}
			want := bytes.Clone(testHeaderBytes)
			want[2], want[3] = byte(len(b)>>8), byte(len(b))
			if !bytes.Equal(b[:HeaderLen], want) || !bytes.Equal(b[HeaderLen:], tt.payload) {
				t.Fatalf("encoded % x", b)
			}
			var q Packet
			if err := q.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if q.Header.Length != uint16(len(b)) || !bytes.Equal(q.Payload, tt.payload) {
				t.Errorf("decoded %+v", q)
			}
			q.Header.Length = orig.Header.Length
			if q.Header != orig.Header {
				t.Errorf("header = %+v, want %+v", q.Header, orig.Header)
			}
			// Payload aliases the input, with capacity limited to it.
			if len(tt.payload) > 0 && &q.Payload[0] != &b[HeaderLen] {
				t.Error("payload does not alias the input")
			}
			if cap(q.Payload) != len(q.Payload) {
				t.Errorf("payload cap %d > len %d", cap(q.Payload), len(q.Payload))
			}
		})
	}
}

func TestPacketPaddingIgnored(t *testing.T) {
	p := Packet{Header: testHeader, Payload: []byte{9, 8, 7}}
	b, _ := p.MarshalBinary()
	b = append(b, 0, 0, 0, 0, 0xEE, 0xEE) // Ethernet padding or junk
	var q Packet
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Payload, []byte{9, 8, 7}) || q.Header.Length != 33 {
		t.Errorf("decoded length %d payload % x", q.Header.Length, q.Payload)
	}
}

func TestPacketUnmarshalErrors(t *testing.T) {
	good, _ := (&Packet{Header: testHeader, Payload: []byte{1, 2, 3, 4}}).MarshalBinary()
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"short header", good[:20], ErrShortBuffer},
		{"length below 30", mod(func(b []byte) { b[3] = 29 }), ErrBadLength},
		{"length beyond buffer", good[:len(good)-1], ErrBadLength},
		{"length 0xffff", mod(func(b []byte) { b[2], b[3] = 0xff, 0xff }), ErrBadLength},
		{"bad checksum", mod(func(b []byte) { b[0], b[1] = 0x12, 0x34 }), ErrBadChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Packet{Header: testHeader, Payload: []byte("keep")}
			err := p.UnmarshalBinary(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if p.Header != testHeader || string(p.Payload) != "keep" {
				t.Errorf("packet changed on error: %+v", p)
			}
		})
	}
}

func TestPacketChecksummed(t *testing.T) {
	p := Packet{Header: testHeader, Payload: []byte("hello")}
	b, _ := p.MarshalBinary()
	PutChecksum(b)
	var q Packet
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatalf("checksummed packet: %v", err)
	}
	if q.Header.Checksum == ChecksumNone || q.Header.Checksum != Checksum(b) {
		t.Errorf("checksum %#04x", q.Header.Checksum)
	}
	// Re-encoding keeps the checksum verbatim.
	again, _ := q.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Errorf("re-encoded % x, want % x", again, b)
	}
	// Corrupt a payload byte: the checksum no longer matches.
	b[HeaderLen] ^= 1
	if err := q.UnmarshalBinary(b); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("corrupt payload: %v, want ErrBadChecksum", err)
	}
}

func TestPacketTooLarge(t *testing.T) {
	p := Packet{Header: testHeader, Payload: make([]byte, 0x10000-HeaderLen)}
	pre := []byte{1, 2}
	b, err := p.AppendBinary(pre)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if !bytes.Equal(b, pre) {
		t.Errorf("AppendBinary returned % x on error, want the input", b)
	}
	p.Payload = p.Payload[:len(p.Payload)-1] // 65535 bytes fits
	if b, err := p.MarshalBinary(); err != nil || len(b) != 0xFFFF {
		t.Errorf("65535-byte packet: %d bytes, %v", len(b), err)
	}
}

// codecAllocs returns the allocations of decoding src into v and
// appending v again to a buffer with room.
func codecAllocs(t *testing.T, v interface {
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}, src []byte) float64 {
	t.Helper()
	buf := make([]byte, 0, 128)
	return testing.AllocsPerRun(100, func() {
		if err := v.UnmarshalBinary(src); err != nil {
			t.Fatal(err)
		}
		var err error
		if buf, err = v.AppendBinary(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPacketAllocs(t *testing.T) {
	src, _ := (&Packet{Header: testHeader, Payload: []byte("payload")}).MarshalBinary()
	PutChecksum(src)
	if allocs := codecAllocs(t, &Packet{}, src); allocs != 0 {
		t.Errorf("Packet decode+append: %v allocs, want 0", allocs)
	}
}
