package rip

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
)

func TestLayerDecodeSerialize(t *testing.T) {
	wire := []byte{0, 2, 0, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 3, 0, 16, 0, 5}
	pkt := gopacket.NewPacket(wire, LayerTypeRIP, gopacket.Default)
	l, ok := pkt.Layer(LayerTypeRIP).(*RIP)
	if !ok {
		t.Fatalf("no RIP layer in %v", pkt)
	}
	if got, want := l.Summary(), "RIP response 2 routes: 00000002/1/2 00000003/16/5"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if !bytes.Equal(l.LayerContents(), wire) || len(l.LayerPayload()) != 0 {
		t.Errorf("contents % x payload % x", l.LayerContents(), l.LayerPayload())
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, l); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), wire) {
		t.Errorf("serialized % x, want % x", buf.Bytes(), wire)
	}
	if LayerTypeRIP.String() != "RIP" {
		t.Errorf("layer type name %q", LayerTypeRIP.String())
	}

	bad := gopacket.NewPacket(wire[:5], LayerTypeRIP, gopacket.Default)
	if bad.ErrorLayer() == nil {
		t.Error("truncated packet decoded without error layer")
	}
}

func TestLayerSummaryOne(t *testing.T) {
	l := RIP{Packet: Packet{Operation: OpRequest, Entries: []Entry{RequestEntry(0xffffffff)}}}
	if got, want := l.Summary(), "RIP request 1 route: ffffffff/65535/65535"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestLayerDecodeNoAlloc(t *testing.T) {
	wire := []byte{0, 2, 0, 0, 0, 2, 0, 1, 0, 2}
	var l RIP
	allocs := testing.AllocsPerRun(100, func() {
		if err := l.DecodeFromBytes(wire, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decode", allocs)
	}
	if len(l.Entries) != 1 || l.Entries[0].Network != 2 {
		t.Errorf("decoded %+v", l.Entries)
	}
}
