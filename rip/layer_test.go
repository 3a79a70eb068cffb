package rip

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/gopacket"

	"github.com/ipxkit/ipxkit/ipx"
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

func ripFrame(t *testing.T, ft ipx.FrameType, p Packet) []byte {
	t.Helper()
	payload, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f := ipx.Frame{Type: ft, Dst: ipx.NodeBroadcast, Src: ipx.Node{2, 0, 0, 0, 0, 1},
		Packet: ipx.Packet{
			Header: ipx.Header{
				Checksum: ipx.ChecksumNone, Type: ipx.TypeRIP,
				Dst: ipx.Addr{Net: 1, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP},
				Src: ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 1}, Socket: ipx.SocketRIP},
			},
			Payload: payload,
		}}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLayerAfterIPX(t *testing.T) {
	want := Packet{Operation: OpResponse, Entries: []Entry{{2, 1, 2}, {3, 16, 5}}}
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP} {
		t.Run(ft.String(), func(t *testing.T) {
			frame := ripFrame(t, ft, want)
			pkt := gopacket.NewPacket(frame, ipx.LayerTypeEthernetIPX, gopacket.Default)
			l, ok := pkt.Layer(LayerTypeRIP).(*RIP)
			if !ok {
				t.Fatalf("no RIP layer: %v", pkt)
			}
			if l.Operation != want.Operation || !slices.Equal(l.Entries, want.Entries) {
				t.Errorf("decoded %+v", l.Packet)
			}
			var s ipx.Summarizer = l
			if s.Summary() != "RIP response 2 routes: 00000002/1/2 00000003/16/5" {
				t.Errorf("summary %q", s.Summary())
			}
		})
	}
}

func TestDecodingLayerParserNoAlloc(t *testing.T) {
	frame := ripFrame(t, ipx.FrameEthernetII, Packet{Operation: OpResponse, Entries: fullEntries()})
	var (
		eth ipx.EthernetIPX
		hdr ipx.IPX
		rip RIP
	)
	parser := gopacket.NewDecodingLayerParser(ipx.LayerTypeEthernetIPX, &eth, &hdr, &rip)
	decoded := make([]gopacket.LayerType, 0, 4)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded) != 3 || decoded[2] != LayerTypeRIP || len(rip.Entries) != MaxEntries {
		t.Fatalf("decoded %v, %d entries", decoded, len(rip.Entries))
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := parser.DecodeLayers(frame, &decoded); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}
