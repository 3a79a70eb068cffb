package sap

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/google/gopacket"

	"github.com/ipxkit/ipxkit/ipx"
)

func TestLayerDecode(t *testing.T) {
	wire := rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 1), rawEntry(4, "FS2", 0x11, node1, 0x451, 2))
	p := gopacket.NewPacket(wire, LayerTypeSAP, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("decode error: %v", el.Error())
	}
	l, ok := p.Layer(LayerTypeSAP).(*SAP)
	if !ok {
		t.Fatalf("no SAP layer in %v", p)
	}
	if l.Op != OpGeneralResponse || len(l.Entries) != 2 || l.Entries[1].Name.String() != "FS2" || l.Entries[1].Hops != 2 {
		t.Fatalf("decoded %+v", l.Message)
	}
	if p.ApplicationLayer() != l {
		t.Error("SAP is not the application layer")
	}
	if got, want := l.Summary(), l.Message.String(); got != want {
		t.Errorf("Summary %q, want %q", got, want)
	}
	if len(l.LayerContents()) != len(wire) {
		t.Errorf("contents %d bytes, want %d", len(l.LayerContents()), len(wire))
	}

	// Serialize back.
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, l); err != nil {
		t.Fatal(err)
	}
	if string(buf.Bytes()) != string(wire) {
		t.Errorf("serialized % x\nwant % x", buf.Bytes(), wire)
	}
}

func TestLayerTruncated(t *testing.T) {
	wire := rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 1))[:40]
	p := gopacket.NewPacket(wire, LayerTypeSAP, gopacket.Default)
	el := p.ErrorLayer()
	if el == nil || !errors.Is(el.Error(), io.ErrUnexpectedEOF) {
		t.Fatalf("error layer %v, want a truncation error", el)
	}
	if !p.Metadata().Truncated {
		t.Error("packet not marked truncated")
	}
}

func TestDecodingLayerParserAllocs(t *testing.T) {
	wire := rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 1), rawEntry(7, "P", 0x11, node1, 0x8060, 3))
	var s SAP
	parser := gopacket.NewDecodingLayerParser(LayerTypeSAP, &s)
	decoded := make([]gopacket.LayerType, 0, 4)
	if err := parser.DecodeLayers(wire, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded) != 1 || len(s.Entries) != 2 || s.Entries[1].Type != TypePrintServer {
		t.Fatalf("decoded %v %+v", decoded, s.Message)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := parser.DecodeLayers(wire, &decoded); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodeLayers: %v allocs", n)
	}
}

// TestLayerAfterIPX decodes whole Ethernet frames of every framing down to
// SAP, with the packet types SAP is seen with in real traffic.
func TestLayerAfterIPX(t *testing.T) {
	m := &Message{Op: OpGeneralResponse, Entries: []Entry{{Type: 4, Name: MustName("FS1"), Addr: ipx.Addr{Net: 1, Node: node1, Socket: 0x451}, Hops: 1}}}
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP} {
		for _, pt := range []ipx.PacketType{0, 4, 17} {
			t.Run(fmt.Sprintf("%v/type%d", ft, pt), func(t *testing.T) {
				frame := sapFrame(t, ft, pt, m)
				p := gopacket.NewPacket(frame, ipx.LayerTypeEthernetIPX, gopacket.Default)
				if el := p.ErrorLayer(); el != nil {
					t.Fatalf("decode error: %v", el.Error())
				}
				l, ok := p.Layer(LayerTypeSAP).(*SAP)
				if !ok {
					t.Fatalf("no SAP layer: %v", p)
				}
				if !reflect.DeepEqual(l.Entries, m.Entries) {
					t.Fatalf("entries %v, want %v", l.Entries, m.Entries)
				}
				var s ipx.Summarizer = l
				if !strings.Contains(s.Summary(), "FS1") {
					t.Errorf("summary %q", s.Summary())
				}
			})
		}
	}
	// A reply from socket 0x0452 to a dynamic socket is SAP too.
	frame := sapFrame(t, ipx.FrameEthernetII, 4, m)
	frame[14+16], frame[14+17] = 0x40, 0x01 // destination socket 0x4001
	var (
		eth     ipx.EthernetIPX
		x       ipx.IPX
		s       SAP
		decoded = make([]gopacket.LayerType, 0, 4)
	)
	parser := gopacket.NewDecodingLayerParser(ipx.LayerTypeEthernetIPX, &eth, &x, &s)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded) != 3 || decoded[2] != LayerTypeSAP || s.Entries[0].Name.String() != "FS1" {
		t.Fatalf("decoded %v %+v", decoded, s.Message)
	}
	if n := testing.AllocsPerRun(100, func() { _ = parser.DecodeLayers(frame, &decoded) }); n != 0 {
		t.Errorf("Ethernet→IPX→SAP: %v allocs", n)
	}
}
