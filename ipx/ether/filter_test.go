package ether

import (
	"bytes"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
	"golang.org/x/net/bpf"
)

// verdict runs frame f through the kernel filter (in x/net/bpf's VM) and
// through classify, and returns whether each accepted it and which of the
// Link's counters classify moved.
func verdict(t testing.TB, vm *bpf.VM, l *Link, f []byte) (kernel, code bool, before, after Stats) {
	t.Helper()
	n, err := vm.Run(f)
	if err != nil {
		t.Fatalf("bpf: %v", err)
	}
	before = l.Stats()
	_, _, code = l.classify(f)
	return n > 0, code, before, l.Stats()
}

func testVM(t testing.TB, node ipx.Node, ft ipx.FrameType) *bpf.VM {
	t.Helper()
	prog, err := filterProgram(node, ft)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatalf("assemble: %v", err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// filterCases are frames to nodeA with whether an auto-mode Link keeps them.
func filterCases(t testing.TB) []struct {
	name  string
	frame []byte
	ft    ipx.FrameType // framing, 0 for frames no Link keeps
} {
	pkt := testPacket(t, nodeB, nodeA, "payload")
	eii := testFrame(t, ipx.FrameEthernetII, nodeB, nodeA, pkt)
	snap := testFrame(t, ipx.FrameSNAP, nodeB, nodeA, pkt)
	return []struct {
		name  string
		frame []byte
		ft    ipx.FrameType
	}{
		{"Ethernet II", eii, ipx.FrameEthernetII},
		{"raw 802.3", testFrame(t, ipx.Frame8023Raw, nodeB, nodeA, pkt), ipx.Frame8023Raw},
		{"802.2", testFrame(t, ipx.Frame8022, nodeB, nodeA, pkt), ipx.Frame8022},
		{"SNAP", snap, ipx.FrameSNAP},
		{"broadcast", testFrame(t, ipx.Frame8022, nodeB, ipx.NodeBroadcast, pkt), ipx.Frame8022},
		{"own frame", testFrame(t, ipx.FrameEthernetII, nodeA, ipx.NodeBroadcast, pkt), 0},
		{"own MAC prefix only", testFrame(t, ipx.FrameEthernetII, ipx.Node{0x02, 0, 0, 0, 9, 0x0a}, nodeA, pkt), ipx.FrameEthernetII},
		{"other host", testFrame(t, ipx.FrameEthernetII, nodeB, nodeC, pkt), 0},
		{"other host same prefix", testFrame(t, ipx.FrameEthernetII, nodeB, ipx.Node{0x02, 0, 0, 0, 0, 0x0b}, pkt), 0},
		{"broadcast prefix only", testFrame(t, ipx.FrameEthernetII, nodeB, ipx.Node{0xff, 0xff, 0xff, 0xff, 0, 0}, pkt), 0},
		{"IPv4", frameMod(eii, func(b []byte) []byte { b[12], b[13] = 0x08, 0x00; return b }), 0},
		{"802.3 STP", frameMod(eii, func(b []byte) []byte { b[12], b[13], b[14], b[15] = 0, 40, 0x42, 0x42; return b }), 0},
		{"SNAP other OUI", frameMod(snap, func(b []byte) []byte { b[18] = 0x0c; return b }), 0},
		{"SNAP other type", frameMod(snap, func(b []byte) []byte { b[21] = 0x00; return b }), 0},
		{"runt", eii[:12], 0},
	}
}

// TestFilterProgram checks the kernel filter against classify on every
// case, for auto mode and each fixed framing.
func TestFilterProgram(t *testing.T) {
	for _, cfgType := range append([]ipx.FrameType{0}, allTypes...) {
		t.Run("link "+cfgName(cfgType), func(t *testing.T) {
			vm := testVM(t, nodeA, cfgType)
			l, _ := newTestLink(t, nodeA, Config{FrameType: cfgType})
			for _, tc := range filterCases(t) {
				want := tc.ft != 0 && (cfgType == 0 || cfgType == tc.ft)
				kernel, code, _, _ := verdict(t, vm, l, tc.frame)
				if kernel != want || code != want {
					t.Errorf("%s: kernel filter %v, classify %v; want %v", tc.name, kernel, code, want)
				}
			}
		})
	}
}

func TestProtocolFor(t *testing.T) {
	tests := []struct {
		ft   ipx.FrameType
		want int
	}{
		{0, 0x0003},
		{ipx.FrameEthernetII, 0x8137},
		{ipx.Frame8023Raw, 0x0001},
		{ipx.Frame8022, 0x0004},
		{ipx.FrameSNAP, 0x0004},
	}
	for _, tt := range tests {
		if got := protocolFor(tt.ft); got != tt.want {
			t.Errorf("protocolFor(%v) = %#04x, want %#04x", tt.ft, got, tt.want)
		}
	}
}

// FuzzFilter checks that the kernel filter never drops a frame classify
// keeps, and that whatever it passes and classify drops is malformed IPX,
// not a frame the filter was meant to stop.
func FuzzFilter(f *testing.F) {
	for _, tc := range filterCases(f) {
		f.Add(tc.frame, uint8(0))
		f.Add(tc.frame, uint8(tc.ft))
	}
	f.Fuzz(func(t *testing.T, frame []byte, ft uint8) {
		cfgType := ipx.FrameType(ft % 5)
		vm := testVM(t, nodeA, cfgType)
		c := newFakeConn()
		l, err := New(c, nodeA, Config{FrameType: cfgType})
		if err != nil {
			t.Fatal(err)
		}
		kernel, code, before, after := verdict(t, vm, l, frame)
		if code && !kernel {
			t.Fatalf("kernel filter drops % x, classify keeps it", frame)
		}
		if kernel && !code && after.Malformed == before.Malformed {
			t.Fatalf("kernel filter keeps % x, classify drops it as foreign: %+v", frame, after)
		}
	})
}

// FuzzReadPacket feeds arbitrary frames to a Link and checks that what it
// accepts frames again (decode, encode, decode) to the same packet.
func FuzzReadPacket(f *testing.F) {
	for _, tc := range filterCases(f) {
		f.Add(tc.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		rx, _ := newTestLink(t, nodeA, Config{})
		pkt, src, ok := rx.classify(frame)
		if !ok {
			return
		}
		ft, _ := rx.PeerFrameType(src)
		if ft == ipx.Frame8023Raw && len(pkt) >= 2 && (pkt[0] != 0xFF || pkt[1] != 0xFF) {
			t.Fatalf("raw 802.3 packet without 0xFFFF: % x", pkt)
		}
		if len(pkt) < ipx.HeaderLen {
			t.Fatalf("accepted a %d-byte packet", len(pkt))
		}
		// Answer the sender in its framing, from our node, and decode that
		// as the sender would.
		c := newFakeConn()
		tx, err := New(c, nodeA, Config{FrameType: ft})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.WritePacket(pkt, src); err != nil {
			if len(pkt) > tx.MTU() {
				return // a jumbo frame's packet does not fit the framing
			}
			t.Fatalf("WritePacket(% x): %v", pkt, err)
		}
		out, _ := c.written()
		peer, err := New(newFakeConn(), src, Config{FrameType: ft})
		if err != nil {
			t.Fatal(err)
		}
		again, from, ok := peer.classify(out[0])
		if !ok || from != nodeA || !bytes.Equal(again, pkt) {
			t.Fatalf("re-framed % x decodes to % x from %v (ok %v), want % x", out[0], again, from, ok, pkt)
		}
	})
}
