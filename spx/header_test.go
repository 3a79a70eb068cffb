package spx

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want []byte
	}{
		{
			name: "connect request",
			h:    Header{Control: ControlSystem | ControlSendAck, SrcID: 0x1234, DstID: IDUnknown, Alloc: 7},
			want: []byte{0xC0, 0, 0x12, 0x34, 0xFF, 0xFF, 0, 0, 0, 0, 0, 7},
		},
		{
			name: "SPX II connect request has no negotiation size",
			h:    Header{Control: ControlSystem | ControlSendAck | ControlSPX2 | ControlNegotiate, SrcID: 1, DstID: IDUnknown},
			want: []byte{0xCC, 0, 0, 1, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0},
		},
		{
			name: "SPX II data",
			h: Header{Control: ControlSPX2 | ControlEOM, DatastreamType: 0x42, SrcID: 0xABCD, DstID: 0x0102,
				Seq: 0xFFFF, Ack: 0x8000, Alloc: 0x0001, NegotiationSize: 1500},
			want: []byte{0x18, 0x42, 0xAB, 0xCD, 0x01, 0x02, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x01, 0x05, 0xDC},
		},
		{
			name: "end of connection",
			h:    Header{Control: ControlSendAck, DatastreamType: DatastreamEndOfConnection, SrcID: 2, DstID: 3, Seq: 9, Ack: 4, Alloc: 11},
			want: []byte{0x40, 0xFE, 0, 2, 0, 3, 0, 9, 0, 4, 0, 11},
		},
		{
			name: "plain SPX ignores NegotiationSize",
			h:    Header{Control: ControlAttention, SrcID: 2, DstID: 3, NegotiationSize: 99},
			want: []byte{0x20, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.h.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("encode:\n got % x\nwant % x", got, tt.want)
			}
			if len(got) != tt.h.length() {
				t.Errorf("len %d, length() %d", len(got), tt.h.length())
			}
			var d Header
			if err := d.UnmarshalBinary(append(got, 0xEE, 0xEE)); err != nil {
				t.Fatal(err)
			}
			want := tt.h
			if !want.HasNegotiationSize() {
				want.NegotiationSize = 0
			}
			if d != want {
				t.Errorf("decode: got %+v, want %+v", d, want)
			}
		})
	}
}

func TestHeaderShort(t *testing.T) {
	orig := Header{Seq: 5}
	for _, b := range [][]byte{
		nil,
		make([]byte, 11),
		{0x08, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 5}, // SPX II with known dst needs 14
	} {
		h := orig
		err := h.UnmarshalBinary(b)
		if !errors.Is(err, ErrShortBuffer) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes: err %v, want ErrShortBuffer and io.ErrUnexpectedEOF", len(b), err)
		}
		if h != orig {
			t.Errorf("%d bytes: header changed on error: %+v", len(b), h)
		}
	}
}

func TestHeaderNoAlloc(t *testing.T) {
	h := Header{Control: ControlSPX2, SrcID: 1, DstID: 2, Seq: 3, NegotiationSize: 1500}
	buf := make([]byte, 0, 64)
	enc, _ := h.AppendBinary(nil)
	var d Header
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = h.AppendBinary(buf[:0])
		_ = d.UnmarshalBinary(enc)
	}); n != 0 {
		t.Errorf("%v allocations per append+decode, want 0", n)
	}
}

func TestControlString(t *testing.T) {
	for c, want := range map[Control]string{
		0:                                  "0",
		ControlSystem | ControlSendAck:     "sys|ack",
		ControlEOM | ControlSPX2:           "eom|spx2",
		ControlNegotiate | ControlExtended: "neg|ext",
	} {
		if got := c.String(); got != want {
			t.Errorf("%#02x: got %q, want %q", uint8(c), got, want)
		}
	}
	if got := DatastreamEndOfConnection.String(); got != "end-of-connection" {
		t.Errorf("0xFE: %q", got)
	}
}

func FuzzSPX(f *testing.F) {
	f.Add([]byte{0xC0, 0, 0x12, 0x34, 0xFF, 0xFF, 0, 0, 0, 0, 0, 7})
	f.Add([]byte{0xCC, 0, 0, 1, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x18, 0x42, 0xAB, 0xCD, 0x01, 0x02, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x01, 0x05, 0xDC, 'h', 'i'})
	f.Add([]byte{0x08, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 5})
	f.Add([]byte{0x40, 0xFE, 0, 2, 0, 3, 0, 9, 0, 4, 0, 11})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := h.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrShortBuffer) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		enc, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != h.length() || !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("re-encode % x differs from input % x", enc, b[:min(len(b), len(enc))])
		}
		var h2 Header
		if err := h2.UnmarshalBinary(enc); err != nil || h2 != h {
			t.Fatalf("decode→encode→decode: %+v, %v; want %+v", h2, err, h)
		}
		// The layer decodes the same header and keeps the data.
		var l SPX
		if err := l.DecodeFromBytes(b, nopFeedback{}); err != nil {
			t.Fatal(err)
		}
		if l.Header != h || !bytes.Equal(l.Payload, b[h.length():]) {
			t.Fatalf("layer decode %+v payload %d bytes", l.Header, len(l.Payload))
		}
	})
}

type nopFeedback struct{}

func (nopFeedback) SetTruncated() {}

var _ = ipx.HeaderLen
