package ipx

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipxkit/ipxkit/internal/tsharktest"
)

// tsharkFields are the IPX header fields compared with Wireshark, then
// what tells the framing apart.
var tsharkFields = []string{
	"ipx.checksum", "ipx.len", "ipx.hops", "ipx.packet_type",
	"ipx.dst.net", "ipx.dst.node", "ipx.dst.socket",
	"ipx.src.net", "ipx.src.node", "ipx.src.socket",
	"frame.protocols", "llc.dsap",
}

// tsharkRow formats a frame the way tshark 4.x prints tsharkFields (run
// tshark -T fields on a capture to see): hex fields with 0x and fixed
// width, decimal length and hop count, nodes with colons.
func tsharkRow(ft FrameType, h Header) []string {
	node := func(n Node) string { return n.HardwareAddr().String() }
	proto, dsap := "", ""
	switch ft {
	case FrameEthernetII:
		proto = "eth:ethertype:ipx"
	case Frame8023Raw:
		proto = "eth:ipx"
	case Frame8022:
		proto, dsap = "eth:llc:ipx", "0xe0"
	case FrameSNAP:
		proto, dsap = "eth:llc:ipx", "0xaa"
	}
	return []string{
		fmt.Sprintf("0x%04x", h.Checksum), fmt.Sprint(h.Length), fmt.Sprint(h.TransportControl),
		fmt.Sprintf("0x%02x", uint8(h.Type)),
		fmt.Sprintf("0x%08x", uint32(h.Dst.Net)), node(h.Dst.Node), fmt.Sprintf("0x%04x", uint16(h.Dst.Socket)),
		fmt.Sprintf("0x%08x", uint32(h.Src.Net)), node(h.Src.Node), fmt.Sprintf("0x%04x", uint16(h.Src.Socket)),
		proto, dsap,
	}
}

// compareRow compares tshark's row with ours. frame.protocols is compared
// by prefix, since tshark appends "data" or an upper protocol.
func compareRow(t *testing.T, i int, got, want []string) {
	t.Helper()
	for j, f := range tsharkFields {
		g := got[j]
		if f == "frame.protocols" {
			if g != want[j] && !strings.HasPrefix(g, want[j]+":") {
				t.Errorf("frame %d %s: tshark %q, want %q (prefix)", i, f, g, want[j])
			}
			continue
		}
		if g != want[j] {
			t.Errorf("frame %d %s: tshark %q, ours %q", i, f, g, want[j])
		}
	}
}

// randomSocket avoids the sockets Wireshark hands to their own
// dissectors (0x0451–0x0457, 0x0550–0x055d, 0x4001, 0x4003, 0x8000 and
// up for NLSP, IPXWAN, SNMP, EIGRP and tunnels) by staying in
// 0x4100–0x7fff.
func randomSocket(r *rand.Rand) Socket { return Socket(0x4100 + r.IntN(0x7fff-0x4100+1)) }

// randomNode returns a random node, sometimes the broadcast node.
func randomNode(r *rand.Rand) Node {
	if r.IntN(8) == 0 {
		return NodeBroadcast
	}
	var n Node
	for i := range n {
		n[i] = byte(r.Uint32())
	}
	return n
}

// randomPacketType avoids 5 (SPX) and 17 (NCP), whose dissectors
// Wireshark runs on the payload, and 20 (NetBIOS).
func randomPacketType(r *rand.Rand) PacketType {
	for {
		t := PacketType(r.Uint32())
		if t != TypeSPX && t != TypeNCP && t != TypeNetBIOS {
			return t
		}
	}
}

func randomPacket(r *rand.Rand, ft FrameType) Packet {
	p := Packet{
		Header: Header{
			Checksum:         ChecksumNone,
			TransportControl: uint8(r.Uint32()),
			Type:             randomPacketType(r),
			Dst:              Addr{Network(r.Uint32()), randomNode(r), randomSocket(r)},
			Src:              Addr{Network(r.Uint32()), randomNode(r), randomSocket(r)},
		},
		Payload: make([]byte, r.IntN(300)),
	}
	for i := range p.Payload {
		p.Payload[i] = byte(r.Uint32())
	}
	p.Header.Length = uint16(p.length())
	if ft != Frame8023Raw && r.IntN(2) == 0 {
		b, _ := p.MarshalBinary()
		p.Header.Checksum = Checksum(b)
	}
	return p
}

// TestTsharkEncode encodes random frames of all four framings with our
// encoder and checks that Wireshark reads the same field values.
func TestTsharkEncode(t *testing.T) {
	tsharktest.Require(t)
	r := rand.New(rand.NewPCG(2026, 1125))
	var (
		frames [][]byte
		want   [][]string
	)
	for i := 0; i < 200; i++ {
		ft := allFrameTypes[i%len(allFrameTypes)]
		f := Frame{Type: ft, Dst: randomNode(r), Src: randomNode(r), Packet: randomPacket(r, ft)}
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		frames = append(frames, b)
		want = append(want, tsharkRow(ft, f.Packet.Header))
	}
	rows := tsharktest.Fields(t, tsharktest.WritePcap(t, frames), nil, tsharkFields...)
	if len(rows) != len(frames) {
		t.Fatalf("tshark printed %d rows for %d frames", len(rows), len(frames))
	}
	for i := range rows {
		compareRow(t, i, rows[i], want[i])
	}
}

// writeIPX is a test-local IPX writer that shares no code with the
// package's encoder: it writes each field with explicit shifts.
func writeIPX(b []byte, checksum, length uint16, tc, typ uint8, dnet uint32, dnode [6]byte, dsock uint16,
	snet uint32, snode [6]byte, ssock uint16, payload []byte) []byte {
	b = append(b, byte(checksum>>8), byte(checksum), byte(length>>8), byte(length), tc, typ)
	b = append(b, byte(dnet>>24), byte(dnet>>16), byte(dnet>>8), byte(dnet))
	b = append(b, dnode[:]...)
	b = append(b, byte(dsock>>8), byte(dsock))
	b = append(b, byte(snet>>24), byte(snet>>16), byte(snet>>8), byte(snet))
	b = append(b, snode[:]...)
	b = append(b, byte(ssock>>8), byte(ssock))
	return append(b, payload...)
}

// TestTsharkDecode builds random frames with a test-local writer, decodes
// them with our codec and our gopacket layers, and checks that both, and
// Wireshark, read the values the writer wrote.
func TestTsharkDecode(t *testing.T) {
	tsharktest.Require(t)
	r := rand.New(rand.NewPCG(7, 42))
	var (
		frames [][]byte
		want   [][]string
	)
	for i := 0; i < 200; i++ {
		ft := allFrameTypes[i%len(allFrameTypes)]
		dstMAC, srcMAC := randomNode(r), randomNode(r)
		var (
			tc, typ      = uint8(r.Uint32()), uint8(randomPacketType(r))
			dnet, snet   = r.Uint32(), r.Uint32()
			dnode, snode = [6]byte(randomNode(r)), [6]byte(randomNode(r))
			dsock, ssock = uint16(randomSocket(r)), uint16(randomSocket(r))
			payload      = make([]byte, r.IntN(300))
		)
		for j := range payload {
			payload[j] = byte(r.Uint32())
		}
		length := uint16(30 + len(payload))
		pkt := writeIPX(nil, 0xFFFF, length, tc, typ, dnet, dnode, dsock, snet, snode, ssock, payload)
		if ft != Frame8023Raw && r.IntN(2) == 0 {
			binary.BigEndian.PutUint16(pkt, refChecksum(pkt))
		}
		frame := append(append([]byte(nil), dstMAC[:]...), srcMAC[:]...)
		switch ft {
		case FrameEthernetII:
			frame = append(frame, 0x81, 0x37)
		case Frame8023Raw:
			frame = append(frame, byte(len(pkt)>>8), byte(len(pkt)))
		case Frame8022:
			frame = append(frame, byte((len(pkt)+3)>>8), byte(len(pkt)+3), 0xe0, 0xe0, 0x03)
		case FrameSNAP:
			frame = append(frame, byte((len(pkt)+8)>>8), byte(len(pkt)+8), 0xaa, 0xaa, 0x03, 0, 0, 0, 0x81, 0x37)
		}
		frame = append(frame, pkt...)
		for len(frame) < 60 {
			frame = append(frame, 0)
		}
		frames = append(frames, frame)
		wantHeader := Header{
			Checksum: binary.BigEndian.Uint16(pkt), Length: length, TransportControl: tc, Type: PacketType(typ),
			Dst: Addr{Network(dnet), dnode, Socket(dsock)}, Src: Addr{Network(snet), snode, Socket(ssock)},
		}
		want = append(want, tsharkRow(ft, wantHeader))

		// Our codec.
		var f Frame
		if err := f.UnmarshalBinary(frame); err != nil {
			t.Fatalf("frame %d (%v): %v", i, ft, err)
		}
		if f.Type != ft || f.Dst != dstMAC || f.Src != srcMAC || f.Packet.Header != wantHeader || string(f.Packet.Payload) != string(payload) {
			t.Errorf("frame %d: decoded %v %v %v %+v, want %v %v %v %+v", i, f.Type, f.Dst, f.Src, f.Packet.Header, ft, dstMAC, srcMAC, wantHeader)
		}
		// Our gopacket layers, from gopacket's own Ethernet layer.
		gp := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		if x, ok := gp.Layer(LayerTypeIPX).(*IPX); !ok || x.Header != wantHeader {
			t.Errorf("frame %d (%v): gopacket decoded %v", i, ft, gp)
		}
	}
	rows := tsharktest.Fields(t, tsharktest.WritePcap(t, frames), nil, tsharkFields...)
	if len(rows) != len(frames) {
		t.Fatalf("tshark printed %d rows for %d frames", len(rows), len(frames))
	}
	for i := range rows {
		compareRow(t, i, rows[i], want[i])
	}
}
