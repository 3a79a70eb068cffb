package tsharktest

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// ethFrame returns a 60-byte Ethernet II frame with EtherType 0x88B5
// (local experimental) whose payload starts with tag.
func ethFrame(tag byte) []byte {
	b := make([]byte, 60)
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 2})
	b[12], b[13] = 0x88, 0xB5
	b[14] = tag
	return b
}

func TestWritePcap(t *testing.T) {
	frames := [][]byte{ethFrame(1), ethFrame(2), ethFrame(3)}
	path := WritePcap(t, frames)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type %v, want Ethernet", r.LinkType())
	}
	for i, want := range frames {
		got, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("frame %d: got % x, want % x", i, got, want)
		}
		if ci.Timestamp.Nanosecond() != i*1e6 {
			t.Errorf("frame %d: timestamp %v", i, ci.Timestamp)
		}
	}
	if _, _, err := r.ReadPacketData(); err == nil {
		t.Error("extra frame in pcap")
	}
}

func TestFields(t *testing.T) {
	Require(t)
	path := WritePcap(t, [][]byte{ethFrame(1), ethFrame(2)})
	rows := Fields(t, path, nil, "frame.number", "eth.type", "frame.len")
	want := [][]string{{"1", "0x88b5", "60"}, {"2", "0x88b5", "60"}}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows %q, want %q", len(rows), rows, want)
	}
	for i := range want {
		for j := range want[i] {
			if rows[i][j] != want[i][j] {
				t.Errorf("row %d field %d: got %q, want %q", i, j, rows[i][j], want[i][j])
			}
		}
	}
}

func TestUnexpectedStderr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Running as user \"root\" and group \"root\". This could be dangerous.\n", ""},
		{"tshark: some real error\n", "tshark: some real error"},
	}
	for _, tt := range tests {
		if got := unexpectedStderr(tt.in); got != tt.want {
			t.Errorf("unexpectedStderr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
