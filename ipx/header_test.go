package ipx

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// testHeader and testHeaderBytes are one header written field by field.
var testHeader = Header{
	Checksum:         0xFFFF,
	Length:           34,
	TransportControl: 3,
	Type:             TypePEP,
	Dst:              Addr{0x01020304, Node{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}, 0x0452},
	Src:              Addr{0xA1B2C3D4, Node{0x10, 0x20, 0x30, 0x40, 0x50, 0x60}, 0x4005},
}

var testHeaderBytes = []byte{
	0xff, 0xff, // checksum
	0x00, 0x22, // length 34
	0x03,                   // transport control
	0x04,                   // type
	0x01, 0x02, 0x03, 0x04, // dst net
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // dst node
	0x04, 0x52, // dst socket
	0xa1, 0xb2, 0xc3, 0xd4, // src net
	0x10, 0x20, 0x30, 0x40, 0x50, 0x60, // src node
	0x40, 0x05, // src socket
}

func TestHeaderRoundTrip(t *testing.T) {
	got, err := testHeader.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, testHeaderBytes) {
		t.Fatalf("MarshalBinary:\n got % x\nwant % x", got, testHeaderBytes)
	}
	if len(got) != HeaderLen {
		t.Errorf("encoded %d bytes, want %d", len(got), HeaderLen)
	}
	var h Header
	if err := h.UnmarshalBinary(testHeaderBytes); err != nil {
		t.Fatal(err)
	}
	if h != testHeader {
		t.Errorf("UnmarshalBinary = %+v, want %+v", h, testHeader)
	}
	// AppendBinary appends after existing bytes.
	pre := []byte{0xde, 0xad}
	out, err := testHeader.AppendBinary(pre)
	if err != nil || !bytes.Equal(out[:2], pre) || !bytes.Equal(out[2:], testHeaderBytes) {
		t.Errorf("AppendBinary after prefix = % x, %v", out, err)
	}
}

func TestHeaderUnmarshalErrors(t *testing.T) {
	withLen := func(n uint16) []byte {
		b := bytes.Clone(testHeaderBytes)
		b[2], b[3] = byte(n>>8), byte(n)
		return b
	}
	tests := []struct {
		name  string
		in    []byte
		want  error
		alsoW error
	}{
		{"empty", nil, ErrShortBuffer, io.ErrUnexpectedEOF},
		{"29 bytes", testHeaderBytes[:29], ErrShortBuffer, io.ErrUnexpectedEOF},
		{"length 0", withLen(0), ErrBadLength, nil},
		{"length 29", withLen(29), ErrBadLength, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader
			h.Length = 99
			before := h
			err := h.UnmarshalBinary(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.alsoW != nil && !errors.Is(err, tt.alsoW) {
				t.Errorf("err = %v does not match %v", err, tt.alsoW)
			}
			if h != before {
				t.Errorf("header changed on error: %+v", h)
			}
		})
	}
	// Length 30 (no data) is fine; a header does not check the length
	// against the buffer, a packet does.
	for _, n := range []uint16{30, 0xFFFF} {
		var h Header
		if err := h.UnmarshalBinary(withLen(n)); err != nil || h.Length != n {
			t.Errorf("length %d: %v, %d", n, err, h.Length)
		}
	}
}

func TestHeaderAllocs(t *testing.T) {
	var h Header
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if err := h.UnmarshalBinary(testHeaderBytes); err != nil {
			t.Fatal(err)
		}
		buf, _ = h.AppendBinary(buf[:0])
	})
	if allocs != 0 {
		t.Errorf("Header decode+append: %v allocs, want 0", allocs)
	}
}
