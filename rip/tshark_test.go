package rip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ipxkit/ipxkit/internal/tsharktest"
	"github.com/ipxkit/ipxkit/ipx"
)

// TestTsharkCrossCheck has Wireshark's IPX RIP dissector decode packets
// this codec encodes, in all four Ethernet framings.
func TestTsharkCrossCheck(t *testing.T) {
	tsharktest.Require(t)
	packets := []Packet{
		{Operation: OpRequest, Entries: []Entry{RequestEntry(ipx.NetworkAll)}},
		{Operation: OpResponse, Entries: []Entry{{0x0a0b0c0d, 1, 2}, {0x00000002, 16, 0x0102}, {0xfffffffe, 3, 7}}},
		{Operation: OpResponse, Entries: fullEntries()},
	}
	frameTypes := []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP}
	var frames [][]byte
	var want [][]string
	for _, ft := range frameTypes {
		for _, p := range packets {
			payload, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			f := ipx.Frame{
				Type: ft,
				Dst:  ipx.NodeBroadcast,
				Src:  ipx.Node{0, 0x1b, 0x21, 1, 2, 3},
				Packet: ipx.Packet{
					Header: ipx.Header{
						Checksum: ipx.ChecksumNone,
						Type:     ipx.TypeRIP,
						Dst:      ipx.Addr{Net: 1, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP},
						Src:      ipx.Addr{Net: 1, Node: ipx.Node{0, 0x1b, 0x21, 1, 2, 3}, Socket: ipx.SocketRIP},
					},
					Payload: payload,
				},
			}
			b, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, b)
			var nets, hops, ticks []string
			for _, e := range p.Entries {
				nets = append(nets, fmt.Sprintf("0x%08x", uint32(e.Network)))
				hops = append(hops, fmt.Sprint(e.Hops))
				ticks = append(ticks, fmt.Sprint(e.Ticks))
			}
			want = append(want, []string{
				fmt.Sprint(uint16(p.Operation)),
				strings.Join(nets, ","), strings.Join(hops, ","), strings.Join(ticks, ","),
			})
		}
	}
	path := tsharktest.WritePcap(t, frames)
	rows := tsharktest.Fields(t, path, nil, "ipxrip.packet_type", "ipxrip.route_vector", "ipxrip.hops", "ipxrip.ticks")
	if len(rows) != len(want) {
		t.Fatalf("tshark gave %d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if rows[i][j] != want[i][j] {
				t.Errorf("frame %d (%v) field %d: tshark %q, want %q", i, frameTypes[i/len(packets)], j, rows[i][j], want[i][j])
			}
		}
	}
}

func fullEntries() []Entry {
	e := make([]Entry, MaxEntries)
	for i := range e {
		e[i] = Entry{Network: ipx.Network(0x100 + i), Hops: uint16(i%16 + 1), Ticks: uint16(i + 1)}
	}
	return e
}
