package spx

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipxkit/ipxkit/internal/tsharktest"
	"github.com/ipxkit/ipxkit/ipx"
)

// spxFrame builds an Ethernet frame of type ft carrying h and data.
func spxFrame(t testing.TB, ft ipx.FrameType, h Header, data []byte) []byte {
	t.Helper()
	payload, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	payload = append(payload, data...)
	src := ipx.Node{0, 0x1b, 0x21, 1, 2, 3}
	dst := ipx.Node{0, 0x1b, 0x21, 4, 5, 6}
	f := ipx.Frame{
		Type: ft, Dst: dst, Src: src,
		Packet: ipx.Packet{
			Header: ipx.Header{
				Checksum: ipx.ChecksumNone,
				Type:     ipx.TypeSPX,
				Dst:      ipx.Addr{Net: 1, Node: dst, Socket: 0x5000},
				Src:      ipx.Addr{Net: 1, Node: src, Socket: 0x4100}, // not 0x4001, which tshark dissects as IPX Message
			},
			Payload: payload,
		},
	}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var layerHeaders = []Header{
	{Control: ControlSystem | ControlSendAck | ControlSPX2 | ControlNegotiate, SrcID: 0x1234, DstID: IDUnknown, Alloc: 31},
	{Control: ControlSystem | ControlSPX2 | ControlNegotiate, SrcID: 0x4321, DstID: 0x1234, Alloc: 31, NegotiationSize: 1500},
	{Control: ControlEOM | ControlSendAck, SrcID: 7, DstID: 9, Seq: 0xFFFF, Ack: 0x8001, Alloc: 0x8010},
	{Control: ControlAttention | ControlSPX2, DatastreamType: 0x42, SrcID: 0xFFFE, DstID: 1, Seq: 3, Ack: 4, Alloc: 5, NegotiationSize: 576},
	{Control: ControlSendAck, DatastreamType: DatastreamEndOfConnection, SrcID: 2, DstID: 3, Seq: 10, Ack: 11, Alloc: 12},
}

func TestLayerAfterIPX(t *testing.T) {
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP} {
		for i, h := range layerHeaders {
			t.Run(fmt.Sprintf("%v/%d", ft, i), func(t *testing.T) {
				data := []byte("payload")
				frame := spxFrame(t, ft, h, data)
				p := gopacket.NewPacket(frame, ipx.LayerTypeEthernetIPX, gopacket.Default)
				l, ok := p.Layer(LayerTypeSPX).(*SPX)
				if !ok {
					t.Fatalf("no SPX layer in %v", p)
				}
				want := h
				if !want.HasNegotiationSize() {
					want.NegotiationSize = 0
				}
				if l.Header != want {
					t.Errorf("got %+v, want %+v", l.Header, want)
				}
				if !bytes.Equal(l.Payload, data) {
					t.Errorf("payload %q", l.Payload)
				}
				var s ipx.Summarizer = l
				if sum := s.Summary(); !strings.HasPrefix(sum, "SPX ") || !strings.HasSuffix(sum, " data 7") {
					t.Errorf("summary %q", sum)
				}
			})
		}
	}
}

func TestLayerSerialize(t *testing.T) {
	for _, h := range layerHeaders {
		buf := gopacket.NewSerializeBuffer()
		l := &SPX{Header: h}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, l, gopacket.Payload("xy")); err != nil {
			t.Fatal(err)
		}
		want, _ := h.MarshalBinary()
		want = append(want, "xy"...)
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("got % x, want % x", buf.Bytes(), want)
		}
	}
}

func TestLayerParserNoAlloc(t *testing.T) {
	frame := spxFrame(t, ipx.FrameEthernetII, layerHeaders[2], []byte("data"))
	var (
		eth     layers.Ethernet
		ipxl    ipx.IPX
		spxl    SPX
		payload gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ipxl, &spxl, &payload)
	decoded := make([]gopacket.LayerType, 0, 8)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		t.Fatalf("%v (decoded %v)", err, decoded)
	}
	if len(decoded) != 4 || decoded[2] != LayerTypeSPX || spxl.Seq != 0xFFFF {
		t.Fatalf("decoded %v, spx %+v", decoded, spxl.Header)
	}
	if n := testing.AllocsPerRun(100, func() { _ = parser.DecodeLayers(frame, &decoded) }); n != 0 {
		t.Errorf("%v allocations per decode, want 0", n)
	}
}

// TestTsharkCrossCheck has Wireshark's SPX dissector decode the headers
// this codec encodes, in all four framings.
func TestTsharkCrossCheck(t *testing.T) {
	tsharktest.Require(t)
	var frames [][]byte
	var want [][]string
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP} {
		for _, h := range layerHeaders {
			frames = append(frames, spxFrame(t, ft, h, []byte{1, 2, 3}))
			neg := ""
			if h.HasNegotiationSize() {
				neg = fmt.Sprint(h.NegotiationSize)
			}
			// tshark's spx.ctl field covers the high nibble only (mask
			// 0xF0), and it dissects the SPX II bits only in SPX II packets.
			v2, negBit := "", ""
			if h.Control&ControlSPX2 != 0 {
				v2, negBit = boolField(h.Control&ControlSPX2), boolField(h.Control&ControlNegotiate)
			}
			want = append(want, []string{
				fmt.Sprintf("0x%02x", uint8(h.Control)>>4), fmt.Sprintf("0x%02x", uint8(h.DatastreamType)),
				fmt.Sprint(h.SrcID), fmt.Sprint(h.DstID), fmt.Sprint(h.Seq), fmt.Sprint(h.Ack), fmt.Sprint(h.Alloc), neg,
				boolField(h.Control & ControlSystem), boolField(h.Control & ControlSendAck),
				boolField(h.Control & ControlAttention), boolField(h.Control & ControlEOM), v2, negBit,
			})
		}
	}
	path := tsharktest.WritePcap(t, frames)
	rows := tsharktest.Fields(t, path, nil, "spx.ctl", "spx.type", "spx.src", "spx.dst", "spx.seq", "spx.ack",
		"spx.alloc", "spx.neg_size", "spx.ctl.sys", "spx.ctl.send_ack", "spx.ctl.attn", "spx.ctl.eom",
		"spx.ctl.v2", "spx.ctl.neg_size")
	if len(rows) != len(want) {
		t.Fatalf("tshark gave %d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if rows[i][j] != want[i][j] {
				t.Errorf("frame %d field %d: tshark %q, want %q (row %q)", i, j, rows[i][j], want[i][j], rows[i])
			}
		}
	}
}

func boolField(c Control) string {
	if c != 0 {
		return "1"
	}
	return "0"
}
