package sap

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ipxkit/ipxkit/internal/tsharktest"
	"github.com/ipxkit/ipxkit/ipx"
)

// sapFrame wraps a SAP message in an IPX packet to socket 0x0452 and an
// Ethernet frame of the given framing.
func sapFrame(t testing.TB, ft ipx.FrameType, typ ipx.PacketType, m *Message) []byte {
	t.Helper()
	body, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f := ipx.Frame{
		Type: ft,
		Dst:  ipx.NodeBroadcast,
		Src:  node1,
		Packet: ipx.Packet{
			Header: ipx.Header{
				Checksum: ipx.ChecksumNone, Type: typ,
				Dst: ipx.Addr{Net: 1, Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP},
				Src: ipx.Addr{Net: 1, Node: node1, Socket: ipx.SocketSAP},
			},
			Payload: body,
		},
	}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTshark compares the fields Wireshark's ipxsap dissector reads from
// our messages with what we encoded, for random responses in every framing.
func TestTshark(t *testing.T) {
	tsharktest.Require(t)
	rng := rand.New(rand.NewPCG(5, 6))
	var frames [][]byte
	var msgs []*Message
	frameTypes := []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP}
	pktTypes := []ipx.PacketType{0, 4, 17}
	for i := range 24 {
		m := &Message{Op: Operation(1 + i%4)}
		if m.Op.IsQuery() {
			m.ServiceType = ServiceType(rng.Uint32())
		} else {
			for range 1 + rng.IntN(MaxEntries) {
				var node ipx.Node
				for k := range node {
					node[k] = byte(rng.Uint32())
				}
				name := make([]byte, 1+rng.IntN(MaxNameLen))
				for k := range name {
					name[k] = byte('A' + rng.IntN(26))
				}
				m.Entries = append(m.Entries, Entry{
					Type: ServiceType(rng.Uint32()), Name: MustName(string(name)),
					Addr: ipx.Addr{Net: ipx.Network(rng.Uint32()), Node: node, Socket: ipx.Socket(rng.Uint32())},
					Hops: uint16(rng.IntN(MaxHops + 1)),
				})
			}
		}
		msgs = append(msgs, m)
		frames = append(frames, sapFrame(t, frameTypes[i%4], pktTypes[i%3], m))
	}
	pcap := tsharktest.WritePcap(t, frames)
	rows := tsharktest.Fields(t, pcap, nil,
		"ipxsap.packet_type", "ipxsap.server.type", "ipxsap.server.name", "ipxsap.server.network",
		"ipxsap.server.node", "ipxsap.server.socket", "ipxsap.server.intermediate_networks")
	if len(rows) != len(msgs) {
		t.Fatalf("tshark gave %d rows for %d frames", len(rows), len(msgs))
	}
	for i, m := range msgs {
		want := []string{strconv.Itoa(int(m.Op)), "", "", "", "", "", ""}
		if m.Op.IsQuery() {
			want[1] = fmt.Sprintf("0x%04x", uint16(m.ServiceType))
		}
		var cols [6][]string
		for _, e := range m.Entries {
			cols[0] = append(cols[0], fmt.Sprintf("0x%04x", uint16(e.Type)))
			cols[1] = append(cols[1], e.Name.String())
			cols[2] = append(cols[2], fmt.Sprintf("0x%08x", uint32(e.Addr.Net)))
			cols[3] = append(cols[3], e.Addr.Node.HardwareAddr().String())
			cols[4] = append(cols[4], fmt.Sprintf("0x%04x", uint16(e.Addr.Socket)))
			cols[5] = append(cols[5], strconv.Itoa(int(e.Hops)))
		}
		if m.Op.IsResponse() {
			for k := range cols {
				want[k+1] = strings.Join(cols[k], ",")
			}
		}
		for k := range want {
			if rows[i][k] != want[k] {
				t.Errorf("frame %d (%s) field %d: tshark %q, ours %q", i, m.Op, k, rows[i][k], want[k])
			}
		}
	}
}

// TestTsharkHandBuilt gives tshark and our decoder the same hand-built
// bytes (not from our encoder), including garbage after a name's NUL, and
// compares what each reads.
func TestTsharkHandBuilt(t *testing.T) {
	tsharktest.Require(t)
	junk := rawEntry(0x0278, "TREE_A", 0xdeadbeef, node1, 0x4005, 15)
	copy(junk[2+7:50], "leftover bytes")
	payloads := [][]byte{
		rawMsg(2, rawEntry(4, "FS1", 0x10, node1, 0x451, 1), junk),
		rawMsg(4, rawEntry(7, "PRINT~SERVER 2", 0x1, [6]byte{0xff, 0, 0, 0, 0, 0xfe}, 0x8060, 16)),
		rawMsg(3, []byte{0x02, 0x78}),
	}
	var frames [][]byte
	for _, p := range payloads {
		f := ipx.Frame{Type: ipx.FrameEthernetII, Dst: ipx.NodeBroadcast, Src: node1, Packet: ipx.Packet{
			Header: ipx.Header{Checksum: ipx.ChecksumNone, Type: 4,
				Dst: ipx.Addr{Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP}, Src: ipx.Addr{Node: node1, Socket: ipx.SocketSAP}},
			Payload: p,
		}}
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	rows := tsharktest.Fields(t, tsharktest.WritePcap(t, frames), nil,
		"ipxsap.packet_type", "ipxsap.server.type", "ipxsap.server.name", "ipxsap.server.network",
		"ipxsap.server.node", "ipxsap.server.socket", "ipxsap.server.intermediate_networks")
	if len(rows) != len(payloads) {
		t.Fatalf("tshark gave %d rows", len(rows))
	}
	for i, p := range payloads {
		m := NewMessage()
		if err := m.UnmarshalBinary(p); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
		ours := []string{strconv.Itoa(int(m.Op))}
		if m.Op.IsQuery() {
			ours = append(ours, fmt.Sprintf("0x%04x", uint16(m.ServiceType)), "", "", "", "", "")
		} else {
			var cols [6][]string
			for _, e := range m.Entries {
				cols[0] = append(cols[0], fmt.Sprintf("0x%04x", uint16(e.Type)))
				cols[1] = append(cols[1], e.Name.String())
				cols[2] = append(cols[2], fmt.Sprintf("0x%08x", uint32(e.Addr.Net)))
				cols[3] = append(cols[3], e.Addr.Node.HardwareAddr().String())
				cols[4] = append(cols[4], fmt.Sprintf("0x%04x", uint16(e.Addr.Socket)))
				cols[5] = append(cols[5], strconv.Itoa(int(e.Hops)))
			}
			for _, c := range cols {
				ours = append(ours, strings.Join(c, ","))
			}
		}
		for k := range ours {
			if rows[i][k] != ours[k] {
				t.Errorf("payload %d field %d: tshark %q, ours %q", i, k, rows[i][k], ours[k])
			}
		}
	}
}
