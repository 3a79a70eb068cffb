package echo_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ipxkit/ipxkit/ipx/echo"
)

func TestMessageCodec(t *testing.T) {
	tests := []struct {
		name string
		m    echo.Message
		wire []byte
	}{
		{
			name: "request",
			m:    echo.Message{Version: 1, Kind: echo.KindRequest, ID: 0x1234, Data: []byte{}},
			wire: []byte{'P', 'i', 'n', 'g', 1, 0, 0x12, 0x34, 0, 0},
		},
		{
			name: "reply with data",
			m:    echo.Message{Version: 1, Kind: echo.KindReply, ID: 7, Result: 1, Data: []byte{0xaa, 0xbb}},
			wire: []byte{'P', 'i', 'n', 'g', 1, 1, 0, 7, 1, 0, 0xaa, 0xbb},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.MarshalBinary()
			if err != nil || !bytes.Equal(got, tt.wire) {
				t.Fatalf("MarshalBinary = % x, %v; want % x", got, err, tt.wire)
			}
			var m echo.Message
			if err := m.UnmarshalBinary(tt.wire); err != nil {
				t.Fatal(err)
			}
			if m.Version != tt.m.Version || m.Kind != tt.m.Kind || m.ID != tt.m.ID ||
				m.Result != tt.m.Result || !bytes.Equal(m.Data, tt.m.Data) {
				t.Errorf("UnmarshalBinary = %+v, want %+v", m, tt.m)
			}
		})
	}
}

func TestMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"short", []byte("Ping\x01\x00\x00\x01\x00"), io.ErrUnexpectedEOF},
		{"signature", []byte("Pong\x01\x00\x00\x01\x00\x00"), echo.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := echo.Message{ID: 99}
			err := m.UnmarshalBinary(tt.b)
			if !errors.Is(err, tt.want) {
				t.Errorf("UnmarshalBinary(%q) = %v, want %v", tt.b, err, tt.want)
			}
			if m.ID != 99 {
				t.Error("message changed on error")
			}
		})
	}
}

func TestMessageNoAllocs(t *testing.T) {
	m := echo.Message{Version: 1, ID: 3, Data: make([]byte, 46)}
	buf := make([]byte, 0, 64)
	var d echo.Message
	allocs := testing.AllocsPerRun(100, func() {
		b, _ := m.AppendBinary(buf[:0])
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}

func FuzzMessage(f *testing.F) {
	f.Add([]byte("Ping\x01\x00\x12\x34\x00\x00"))
	f.Add([]byte("Ping\x01\x01\x00\x07\x01\x00\xaa\xbb"))
	f.Add([]byte("Ping"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m echo.Message
		if m.UnmarshalBinary(b) != nil {
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != len(b) {
			t.Fatalf("re-encoded %d bytes from %d", len(enc), len(b))
		}
		var m2 echo.Message
		if err := m2.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if m2.Version != m.Version || m2.Kind != m.Kind || m2.ID != m.ID ||
			m2.Result != m.Result || !bytes.Equal(m2.Data, m.Data) {
			t.Fatalf("round trip %+v -> %+v", m, m2)
		}
	})
}
