package sap

import (
	"errors"
	"io"
	"testing"

	"github.com/google/gopacket"
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
