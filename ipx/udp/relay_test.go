package udp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// recorder is an addrPortConn whose writes are kept for inspection.
type recorder struct{ sent []datagram }

func (r *recorder) ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error) {
	panic("not used")
}

func (r *recorder) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	r.sent = append(r.sent, datagram{to, append([]byte(nil), b...)})
	return len(b), nil
}

func (r *recorder) take() []datagram { s := r.sent; r.sent = nil; return s }

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srvAddr = netip.MustParseAddrPort("10.0.0.1:213")
	addrA   = netip.MustParseAddrPort("10.0.0.2:4000")
	addrB   = netip.MustParseAddrPort("10.0.0.3:4001")
	addrC   = netip.MustParseAddrPort("10.0.0.4:4002")
)

func mustNode(t testing.TB, ap netip.AddrPort) ipx.Node {
	t.Helper()
	n, ok := NodeFromAddrPort(ap)
	if !ok {
		t.Fatalf("no node for %v", ap)
	}
	return n
}

func newTestRelay(t *testing.T, cfg ServerConfig) (*relay, *recorder) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return newRelay(cfg.withDefaults(), mustNode(t, srvAddr), singleConn{rec}, t0), rec
}

// pkt builds an IPX packet from src to dst with payload.
func pkt(t testing.TB, src, dst ipx.Node, dstSock ipx.Socket, payload string) []byte {
	t.Helper()
	p := ipx.Packet{
		Header: ipx.Header{
			Checksum: ipx.ChecksumNone, Type: ipx.TypePEP,
			Dst: ipx.Addr{Net: 0, Node: dst, Socket: dstSock},
			Src: ipx.Addr{Net: 0, Node: src, Socket: 0x4000},
		},
		Payload: []byte(payload),
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func register(t *testing.T, r *relay, rec *recorder, now time.Time, from netip.AddrPort) {
	t.Helper()
	reg := registration()
	r.handle(now, from, reg[:])
	got := rec.take()
	want := registrationReply(mustNode(t, from), 0, r.self)
	if len(got) != 1 || got[0].from != from || !bytes.Equal(got[0].b, want[:]) {
		t.Fatalf("registration of %v: sent %v, want reply % x", from, got, want)
	}
}

// TestControlBytes pins the control packets to the bytes DOSBox sends
// (src/hardware/ipx.cpp ConnectToServer, pingSend, pingAck;
// ipxserver.cpp ackClient).
func TestControlBytes(t *testing.T) {
	client := ipx.Node{127, 0, 0, 1, 0xbd, 0x38}
	server := ipx.Node{0, 0, 0, 0, 0, 213}
	tests := []struct {
		name string
		got  [ipx.HeaderLen]byte
		want string
	}{
		{"registration", registration(),
			"ffff001e0000" + "00000000" + "000000000000" + "0002" + "00000000" + "000000000000" + "0002"},
		{"registration reply", registrationReply(client, 0, server),
			"ffff001e0000" + "00000000" + "7f000001bd38" + "0002" + "00000001" + "0000000000d5" + "0002"},
		{"ping", ping(client),
			"ffff001e0000" + "00000000" + "ffffffffffff" + "0002" + "00000000" + "7f000001bd38" + "0002"},
		{"ping answer", pingAnswer(client, server),
			"ffff001e0000" + "00000000" + "7f000001bd38" + "0002" + "00000000" + "0000000000d5" + "0002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(tt.got[:]); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestNodeAddrPort(t *testing.T) {
	tests := []struct {
		ap   string
		node string
		ok   bool
	}{
		{"127.0.0.1:48440", "7f000001bd38", true},
		{"10.1.2.3:213", "0a01020300d5", true},
		{"[::ffff:10.1.2.3]:213", "0a01020300d5", true},
		{"[2001:db8::1]:213", "000000000000", false},
	}
	for _, tt := range tests {
		t.Run(tt.ap, func(t *testing.T) {
			ap := netip.MustParseAddrPort(tt.ap)
			n, ok := NodeFromAddrPort(ap)
			if ok != tt.ok || n.String() != tt.node {
				t.Fatalf("NodeFromAddrPort = %v, %v; want %s, %v", n, ok, tt.node, tt.ok)
			}
			if ok {
				if back := AddrPortFromNode(n); back != netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) {
					t.Errorf("AddrPortFromNode = %v", back)
				}
			}
		})
	}
}

func TestRelay(t *testing.T) {
	nA, nB, nC := mustNode(t, addrA), mustNode(t, addrB), mustNode(t, addrC)
	tests := []struct {
		name string
		from netip.AddrPort
		b    func(t *testing.T) []byte
		want []netip.AddrPort // recipients; nil = nothing sent
		stat func(ServerStats) uint64
	}{
		{"unicast", addrA, func(t *testing.T) []byte { return pkt(t, nA, nB, 0x4000, "hi") },
			[]netip.AddrPort{addrB}, func(s ServerStats) uint64 { return s.Unicasts }},
		{"broadcast skips sender", addrA, func(t *testing.T) []byte { return pkt(t, nA, ipx.NodeBroadcast, 0x4000, "all") },
			[]netip.AddrPort{addrB, addrC}, func(s ServerStats) uint64 { return s.Broadcasts }},
		{"broadcast by address part only", addrA, func(t *testing.T) []byte {
			return pkt(t, nA, ipx.Node{0xff, 0xff, 0xff, 0xff, 0, 1}, 0x4000, "all")
		}, []netip.AddrPort{addrB, addrC}, func(s ServerStats) uint64 { return s.Broadcasts }},
		{"unregistered sender", netip.MustParseAddrPort("10.9.9.9:1"), func(t *testing.T) []byte {
			return pkt(t, ipx.Node{10, 9, 9, 9, 0, 1}, nB, 0x4000, "x")
		}, nil, func(s ServerStats) uint64 { return s.DropUnregistered }},
		{"spoofed source node", addrA, func(t *testing.T) []byte { return pkt(t, nC, nB, 0x4000, "x") },
			nil, func(s ServerStats) uint64 { return s.DropSpoofed }},
		{"spoofed broadcast", addrA, func(t *testing.T) []byte { return pkt(t, nC, ipx.NodeBroadcast, 0x4000, "x") },
			nil, func(s ServerStats) uint64 { return s.DropSpoofed }},
		{"unknown destination", addrA, func(t *testing.T) []byte {
			return pkt(t, nA, ipx.Node{10, 9, 9, 9, 0, 1}, 0x4000, "x")
		}, nil, func(s ServerStats) uint64 { return s.DropNoDest }},
		{"short datagram", addrA, func(t *testing.T) []byte { return make([]byte, 29) },
			nil, func(s ServerStats) uint64 { return s.DropMalformed }},
		{"length field beyond datagram", addrA, func(t *testing.T) []byte {
			b := pkt(t, nA, nB, 0x4000, "hi")
			b[3]++
			return b
		}, nil, func(s ServerStats) uint64 { return s.DropMalformed }},
		{"answer to server ping", addrA, func(t *testing.T) []byte {
			a := pingAnswer(pingNode, nA)
			return a[:]
		}, nil, func(s ServerStats) uint64 { return s.ToServer }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newTestRelay(t, ServerConfig{})
			for _, a := range []netip.AddrPort{addrA, addrB, addrC} {
				register(t, r, rec, t0, a)
			}
			b := tt.b(t)
			r.handle(t0.Add(time.Second), tt.from, b)
			got := rec.take()
			if len(got) != len(tt.want) {
				t.Fatalf("sent %d datagrams, want %d: %v", len(got), len(tt.want), got)
			}
			seen := map[netip.AddrPort]bool{}
			for _, d := range got {
				seen[d.from] = true
				if !bytes.Equal(d.b, b) {
					t.Errorf("relayed % x, want % x", d.b, b)
				}
			}
			for _, w := range tt.want {
				if !seen[w] {
					t.Errorf("nothing sent to %v", w)
				}
			}
			if n := tt.stat(r.st); n != 1 {
				t.Errorf("counter = %d, want 1 (stats %+v)", n, r.st)
			}
		})
	}
}

// TestRelayRoute: with ServerConfig.Route, a unicast to a node no client
// has goes to the next hop Route names for its destination network,
// whatever its source node; never back to its sender, and to the Port or
// nowhere when Route names no client.
func TestRelayRoute(t *testing.T) {
	nA, nB, nC := mustNode(t, addrA), mustNode(t, addrB), mustNode(t, addrC)
	internal := ipx.Node{2, 0, 0, 0, 0, 1} // a mirrored pair's internal node, no client's
	routes := map[ipx.Network]ipx.Node{
		7: nB,                  // the pair's internal network, behind B
		8: {10, 9, 9, 9, 0, 1}, // behind a node that is no client
		9: nA,                  // behind A itself
	}
	route := func(n ipx.Network) (ipx.Node, bool) { nd, ok := routes[n]; return nd, ok }
	to := func(t *testing.T, src ipx.Node, net ipx.Network, dst ipx.Node) []byte {
		b := pkt(t, src, dst, 0x4000, "x")
		binary.BigEndian.PutUint32(b[offDstNet:], uint32(net))
		return b
	}
	tests := []struct {
		name  string
		b     func(t *testing.T) []byte
		want  []netip.AddrPort
		stats ServerStats // the counters checked: Routed, Unicasts, DropSpoofed, DropNoDest
	}{
		{"routed to the next hop", func(t *testing.T) []byte { return to(t, nA, 7, internal) },
			[]netip.AddrPort{addrB}, ServerStats{Routed: 1, Unicasts: 1}},
		{"a known node is relayed, not routed", func(t *testing.T) []byte { return to(t, nA, 7, nC) },
			[]netip.AddrPort{addrC}, ServerStats{Unicasts: 1}},
		{"foreign source relayed", func(t *testing.T) []byte { return to(t, internal, 0, nC) },
			[]netip.AddrPort{addrC}, ServerStats{Unicasts: 1}},
		{"no route", func(t *testing.T) []byte { return to(t, nA, 6, internal) },
			nil, ServerStats{DropNoDest: 1}},
		{"next hop no client", func(t *testing.T) []byte { return to(t, nA, 8, internal) },
			nil, ServerStats{DropNoDest: 1}},
		{"next hop the sender", func(t *testing.T) []byte { return to(t, nA, 9, internal) },
			nil, ServerStats{DropNoDest: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newTestRelay(t, ServerConfig{Route: route})
			for _, a := range []netip.AddrPort{addrA, addrB, addrC} {
				register(t, r, rec, t0, a)
			}
			b := tt.b(t)
			r.handle(t0, addrA, b)
			got := rec.take()
			if len(got) != len(tt.want) {
				t.Fatalf("sent %v, want to %v", got, tt.want)
			}
			for i, d := range got {
				if d.from != tt.want[i] || !bytes.Equal(d.b, b) {
					t.Errorf("sent % x to %v, want % x to %v", d.b, d.from, b, tt.want[i])
				}
			}
			st := ServerStats{Routed: r.st.Routed, Unicasts: r.st.Unicasts, DropSpoofed: r.st.DropSpoofed, DropNoDest: r.st.DropNoDest}
			if st != tt.stats {
				t.Errorf("stats %+v, want %+v", st, tt.stats)
			}
		})
	}

	t.Run("unrouted to the Port", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{Route: route})
		var port [][]byte
		r.port = func(b []byte) { port = append(port, append([]byte(nil), b...)) }
		register(t, r, rec, t0, addrA)
		b := to(t, nA, 6, internal)
		r.handle(t0, addrA, b)
		if got := rec.take(); len(got) != 0 || len(port) != 1 || !bytes.Equal(port[0], b) {
			t.Fatalf("sent %v, Port got %d packets; want the packet at the Port only", got, len(port))
		}
	})

	t.Run("without Route, as DOSBox", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{})
		for _, a := range []netip.AddrPort{addrA, addrB} {
			register(t, r, rec, t0, a)
		}
		r.handle(t0, addrA, to(t, nA, 7, internal))
		r.handle(t0, addrA, to(t, internal, 0, nB))
		if got := rec.take(); len(got) != 0 || r.st.DropNoDest != 1 || r.st.DropSpoofed != 1 {
			t.Fatalf("sent %v, stats %+v; want nothing sent, one DropNoDest and one DropSpoofed", got, r.st)
		}
	})
}

func TestRelayTrimsPadding(t *testing.T) {
	r, rec := newTestRelay(t, ServerConfig{})
	register(t, r, rec, t0, addrA)
	register(t, r, rec, t0, addrB)
	b := pkt(t, mustNode(t, addrA), mustNode(t, addrB), 0x4000, "hi")
	r.handle(t0, addrA, append(b, 0, 0, 0, 0))
	if got := rec.take(); len(got) != 1 || !bytes.Equal(got[0].b, b) {
		t.Fatalf("relayed %v, want the packet without its padding", got)
	}
}

func TestRelayPing(t *testing.T) {
	r, rec := newTestRelay(t, ServerConfig{})
	register(t, r, rec, t0, addrA)
	register(t, r, rec, t0, addrB)
	nA := mustNode(t, addrA)
	p := ping(nA)
	r.handle(t0, addrA, p[:])
	got := rec.take()
	ans := pingAnswer(nA, r.self)
	if len(got) != 2 ||
		got[0].from != addrA || !bytes.Equal(got[0].b, ans[:]) ||
		got[1].from != addrB || !bytes.Equal(got[1].b, p[:]) {
		t.Fatalf("ping from A: sent %v; want the server's answer to A and the ping relayed to B", got)
	}
	if r.st.PingsAnswered != 1 {
		t.Errorf("PingsAnswered = %d", r.st.PingsAnswered)
	}
}

func TestRelayRegistration(t *testing.T) {
	t.Run("reregistration answered again", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{})
		register(t, r, rec, t0, addrA)
		register(t, r, rec, t0.Add(time.Second), addrA)
		if r.st.Registrations != 1 || r.st.Reregistrations != 1 || len(r.table) != 1 {
			t.Fatalf("stats %+v, %d clients", r.st, len(r.table))
		}
	})
	t.Run("table full", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{MaxClients: 2})
		register(t, r, rec, t0, addrA)
		register(t, r, rec, t0, addrB)
		reg := registration()
		r.handle(t0, addrC, reg[:])
		if got := rec.take(); len(got) != 0 || r.st.RefusedFull != 1 || len(r.table) != 2 {
			t.Fatalf("sent %v, stats %+v", got, r.st)
		}
		register(t, r, rec, t0, addrA) // a known client is still answered
	})
	t.Run("per host", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{MaxPerHost: 2, ClientTimeout: time.Minute, Keepalive: -1})
		reg := registration()
		for port := range uint16(5) {
			r.handle(t0, netip.AddrPortFrom(addrA.Addr(), 1000+port), reg[:])
		}
		if len(r.table) != 2 || r.st.RefusedHost != 3 || len(rec.take()) != 2 {
			t.Fatalf("%d clients, stats %+v", len(r.table), r.st)
		}
		register(t, r, rec, t0, addrB) // another host is welcome
		// Once the host's clients expire it may register again.
		r.tick(t0.Add(time.Minute))
		register(t, r, rec, t0.Add(time.Minute), addrA)
		if len(r.hosts) != 1 || r.hosts[addrA.Addr()] != 1 {
			t.Fatalf("host counts %v", r.hosts)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{RegisterRate: 1, RegisterBurst: 3})
		reg := registration()
		for i := range 10 {
			r.handle(t0, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 1000), reg[:])
		}
		if len(r.table) != 3 || r.st.RefusedRate != 7 || len(rec.take()) != 3 {
			t.Fatalf("%d clients, stats %+v", len(r.table), r.st)
		}
		// One token back per second.
		r.handle(t0.Add(time.Second), addrA, reg[:])
		r.handle(t0.Add(time.Second), addrB, reg[:])
		if len(r.table) != 4 || r.st.RefusedRate != 8 {
			t.Fatalf("after 1 s: %d clients, stats %+v", len(r.table), r.st)
		}
	})
	t.Run("IPv6 sender", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{})
		reg := registration()
		r.handle(t0, netip.MustParseAddrPort("[2001:db8::1]:5"), reg[:])
		if len(rec.take()) != 0 || r.st.RefusedNotIPv4 != 1 {
			t.Fatalf("stats %+v", r.st)
		}
	})
	t.Run("IPv4-mapped sender", func(t *testing.T) {
		r, rec := newTestRelay(t, ServerConfig{})
		reg := registration()
		r.handle(t0, netip.MustParseAddrPort("[::ffff:10.0.0.2]:4000"), reg[:])
		if got := rec.take(); len(got) != 1 || got[0].from != addrA {
			t.Fatalf("sent %v", got)
		}
	})
}

func TestRelayTimers(t *testing.T) {
	// Pings, but no drop for missing them: ClientTimeout alone.
	cfg := ServerConfig{ClientTimeout: time.Minute, Keepalive: 10 * time.Second, KeepaliveMisses: -1}
	r, rec := newTestRelay(t, cfg)
	register(t, r, rec, t0, addrA)
	register(t, r, rec, t0, addrB)

	// Nothing due yet: the next deadline is the keepalive.
	if next := r.tick(t0.Add(time.Second)); !next.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("next = %v", next.Sub(t0))
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("sent %v before any deadline", got)
	}

	// Keepalive: both idle clients are pinged from pingNode.
	next := r.tick(t0.Add(10 * time.Second))
	got := rec.take()
	p := ping(pingNode)
	if len(got) != 2 || !bytes.Equal(got[0].b, p[:]) || !bytes.Equal(got[1].b, p[:]) {
		t.Fatalf("keepalive sent %v", got)
	}
	if !next.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("next = %v", next.Sub(t0))
	}

	// A answers its pings; B stays silent and is forgotten after a minute.
	for s := 20; s <= 60; s += 10 {
		now := t0.Add(time.Duration(s) * time.Second)
		a := pingAnswer(pingNode, mustNode(t, addrA))
		r.handle(now, addrA, a[:])
		r.tick(now)
	}
	if _, ok := r.table[addrB]; ok || r.st.Expired != 1 {
		t.Fatalf("B not expired: stats %+v", r.st)
	}
	if _, ok := r.table[addrA]; !ok {
		t.Fatal("A expired although it answered")
	}
	if r.st.ToServer != 5 {
		t.Errorf("ToServer = %d, want 5", r.st.ToServer)
	}
}

func TestServerConfigValidate(t *testing.T) {
	bad := []ServerConfig{
		{MaxClients: -1},
		{MaxPerHost: -1},
		{ClientTimeout: -1},
		{RegisterRate: -1},
		{MaxPacketLen: 10},
		{Keepalive: time.Minute, ClientTimeout: time.Minute},
	}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: Validate = %v, want ErrBadConfig", c, err)
		}
	}
	if err := (&ServerConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
