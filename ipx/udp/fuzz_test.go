package udp

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

// roundTrip checks that p's header decodes, re-encodes to the same 30
// bytes and decodes again to the same value.
func roundTrip(t *testing.T, p []byte) {
	t.Helper()
	if len(p) == ipx.HeaderLen && p[offLength] == 0 && p[offLength+1] == 0 {
		return // ipxbox's bare header, relayed as it came (see checkPacket)
	}
	var h, h2 ipx.Header
	if err := h.UnmarshalBinary(p); err != nil {
		t.Fatalf("accepted packet does not decode: %v", err)
	}
	enc, err := h.AppendBinary(nil)
	if err != nil || !bytes.Equal(enc, p[:ipx.HeaderLen]) {
		t.Fatalf("re-encoded % x, want % x (%v)", enc, p[:ipx.HeaderLen], err)
	}
	if err := h2.UnmarshalBinary(enc); err != nil || h2 != h {
		t.Fatalf("second decode %+v, want %+v (%v)", h2, h, err)
	}
	if int(h.Length) != len(p) {
		t.Fatalf("length field %d, packet %d bytes", h.Length, len(p))
	}
}

func fuzzSeeds(f *testing.F) {
	nA, nB := mustNode(f, addrA), mustNode(f, addrB)
	reg, p, ans := registration(), ping(nA), pingAnswer(pingNode, nA)
	f.Add(reg[:])
	f.Add(p[:])
	f.Add(ans[:])
	f.Add(pkt(f, nA, nB, 0x4000, "unicast"))
	f.Add(pkt(f, nA, ipx.NodeBroadcast, 0x4000, "broadcast"))
	f.Add(append(pkt(f, nA, nB, 0x4000, "padded"), 0, 0, 0))
	f.Add(pkt(f, mustNode(f, addrC), nB, 0x4000, "spoofed"))
	routed := pkt(f, nA, ipx.Node{2, 0, 0, 0, 0, 1}, 0x4000, "routed") // to a node behind B
	routed[offDstNet+3] = 2
	f.Add(routed)
	f.Add([]byte{0xff, 0xff, 0, 10})
	f.Add(ipxboxPing(f))
	f.Add(ipxboxRegistration(f))
	f.Add(ipxboxPingAnswer(f, pingNode, nA))
}

// FuzzServer feeds arbitrary datagrams from a registered client to the
// relay, as DOSBox's and routing (ServerConfig.Route): it must not panic,
// must relay only valid IPX packets (the input without padding) and must
// keep the table bounded.
func FuzzServer(f *testing.F) {
	fuzzSeeds(f)
	nB := mustNode(f, addrB)
	// Even networks are behind B.
	route := func(n ipx.Network) (ipx.Node, bool) { return nB, n%2 == 0 }
	f.Fuzz(func(t *testing.T, d []byte) {
		fuzzRelay(t, d, nil)
		fuzzRelay(t, d, route)
	})
}

// fuzzRelay feeds d to a relay with A and B registered, from A and from
// an unregistered sender, and checks what it sends.
func fuzzRelay(t *testing.T, d []byte, route func(ipx.Network) (ipx.Node, bool)) {
	t.Helper()
	rec := &recorder{}
	r := newRelay(ServerConfig{MaxClients: 3, Route: route}.withDefaults(), mustNode(t, srvAddr), singleConn{rec}, t0)
	for _, a := range []netip.AddrPort{addrA, addrB} {
		reg := registration()
		r.handle(t0, a, reg[:])
	}
	rec.take()
	r.handle(t0, addrA, d)
	r.handle(t0, addrC, d) // unregistered sender: may register, nothing else
	if len(r.table) > 3 {
		t.Fatalf("%d clients above the bound", len(r.table))
	}
	hosts := 0
	for _, n := range r.hosts {
		hosts += n
	}
	if hosts != len(r.table) {
		t.Fatalf("host counts %v disagree with %d clients", r.hosts, len(r.table))
	}
	for _, s := range rec.take() {
		n, ok := checkPacket(s.b)
		if !ok || n != len(s.b) {
			t.Fatalf("sent invalid datagram % x", s.b)
		}
		roundTrip(t, s.b)
		if len(s.b) > ipx.HeaderLen && !bytes.Equal(s.b, d[:len(s.b)]) {
			t.Fatalf("relayed % x, not the input % x", s.b, d)
		}
	}
}

// FuzzLinkInput feeds arbitrary datagrams to the Link's input check:
// whatever it delivers is a whole, valid IPX packet that round-trips.
func FuzzLinkInput(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, d []byte) {
		rec := &recorder{}
		l := &Link{conn: rec, server: srvAddr, peer: srvAddr, node: mustNode(t, addrB)}
		p, ok := l.input(d)
		if !ok {
			if l.malformed.Load()+l.control.Load()+l.pings.Load() != 1 {
				t.Fatalf("dropped datagram not counted: %+v", l.Stats())
			}
			return
		}
		if isControl(p) || !bytes.Equal(p, d[:len(p)]) {
			t.Fatalf("delivered % x from % x", p, d)
		}
		roundTrip(t, p)
		for _, s := range rec.sent {
			roundTrip(t, s.b)
		}
	})
}
