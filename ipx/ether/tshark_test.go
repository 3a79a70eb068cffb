package ether

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/ipxkit/ipxkit/internal/tsharktest"
	"github.com/ipxkit/ipxkit/ipx"
)

// TestTsharkFraming checks the frames a Link writes against Wireshark's
// dissectors: each framing is recognised as IPX, through the expected
// encapsulation, with the IPX length and addresses intact despite padding.
func TestTsharkFraming(t *testing.T) {
	tsharktest.Require(t)
	want := map[ipx.FrameType]string{
		ipx.FrameEthernetII: "eth:ethertype:ipx",
		ipx.Frame8023Raw:    "eth:ipx",
		ipx.Frame8022:       "eth:llc:ipx",
		ipx.FrameSNAP:       "eth:llc:ipx",
	}
	var frames [][]byte
	var pkts [][]byte
	for i, ft := range allTypes {
		l, c := newTestLink(t, nodeA, Config{FrameType: ft})
		pkt := testPacket(t, nodeA, nodeB, fmt.Sprintf("framing %d", i))
		if err := l.WritePacket(pkt, nodeB); err != nil {
			t.Fatal(err)
		}
		out, _ := c.written()
		frames = append(frames, out[0])
		pkts = append(pkts, pkt)
	}
	rows := tsharktest.Fields(t, tsharktest.WritePcap(t, frames), nil,
		"frame.protocols", "ipx.len", "ipx.dst.node", "ipx.src.node", "llc.dsap", "llc.type")
	if len(rows) != len(frames) {
		t.Fatalf("tshark dissected %d frames, want %d", len(rows), len(frames))
	}
	for i, ft := range allTypes {
		r := rows[i]
		if r[0] != want[ft] {
			t.Errorf("%v: tshark protocols %q, want %q", ft, r[0], want[ft])
		}
		if r[1] != strconv.Itoa(len(pkts[i])) {
			t.Errorf("%v: tshark ipx.len %s, want %d", ft, r[1], len(pkts[i]))
		}
		if r[2] != nodeB.HardwareAddr().String() || r[3] != nodeA.HardwareAddr().String() {
			t.Errorf("%v: tshark nodes %s -> %s", ft, r[3], r[2])
		}
		wantLLC := map[ipx.FrameType][2]string{ipx.Frame8022: {"0xe0", ""}, ipx.FrameSNAP: {"0xaa", "0x8137"}}[ft]
		if r[4] != wantLLC[0] || r[5] != wantLLC[1] {
			t.Errorf("%v: tshark LLC DSAP %q type %q, want %q %q", ft, r[4], r[5], wantLLC[0], wantLLC[1])
		}
	}
}
