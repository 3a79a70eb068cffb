package ether

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/mdlayher/packet"
)

// fakeConn is a PacketConn fed from a channel of frames. Written frames go
// to sink, or are kept in out when sink is nil. It never allocates itself,
// so allocation tests measure the Link alone.
type fakeConn struct {
	in     chan []byte
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	out  [][]byte
	dsts []ipx.Node
	sink func(b []byte, dst net.Addr)

	dmu      sync.Mutex
	deadline chan struct{} // closed when the read deadline passes
	timer    *time.Timer
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte, 64), closed: make(chan struct{}), deadline: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.dmu.Lock()
	dl := c.deadline
	c.dmu.Unlock()
	select {
	case f := <-c.in:
		return copy(b, f), nil, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-dl:
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if c.sink != nil {
		c.sink(b, addr)
		return len(b), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, bytes.Clone(b))
	c.dsts = append(c.dsts, ipx.Node(addr.(*packet.Addr).HardwareAddr))
	return len(b), nil
}

func (c *fakeConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.deadline = make(chan struct{})
	if t.IsZero() {
		return nil
	}
	ch := c.deadline
	c.timer = time.AfterFunc(time.Until(t), func() { close(ch) })
	return nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// written returns the frames written so far and forgets them.
func (c *fakeConn) written() ([][]byte, []ipx.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, dsts := c.out, c.dsts
	c.out, c.dsts = nil, nil
	return out, dsts
}

var (
	nodeA = ipx.Node{0x02, 0, 0, 0, 0, 0x0a}
	nodeB = ipx.Node{0x02, 0, 0, 0, 0, 0x0b}
	nodeC = ipx.Node{0x02, 0, 0, 0, 0, 0x0c}
)

var allTypes = []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP}

// cfgName names a Config.FrameType in test names.
func cfgName(t ipx.FrameType) string {
	if t == 0 {
		return "auto"
	}
	return t.String()
}

func newTestLink(t testing.TB, node ipx.Node, cfg Config) (*Link, *fakeConn) {
	t.Helper()
	c := newFakeConn()
	l, err := New(c, node, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, c
}

// testPacket is an encoded IPX packet from src to dst with payload.
func testPacket(t testing.TB, src, dst ipx.Node, payload string) []byte {
	t.Helper()
	p := ipx.Packet{
		Header: ipx.Header{
			Checksum: ipx.ChecksumNone,
			Type:     ipx.TypePEP,
			Dst:      ipx.Addr{Net: 1, Node: dst, Socket: 0x4001},
			Src:      ipx.Addr{Net: 1, Node: src, Socket: 0x4002},
		},
		Payload: []byte(payload),
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testFrame frames the packet pkt as ft from src to dst, padded to 60.
func testFrame(t testing.TB, ft ipx.FrameType, src, dst ipx.Node, pkt []byte) []byte {
	t.Helper()
	var f ipx.Frame
	if err := f.Packet.UnmarshalBinary(pkt); err != nil {
		t.Fatal(err)
	}
	f.Type, f.Src, f.Dst = ft, src, dst
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readOne(t *testing.T, l *Link) ([]byte, ipx.Node) {
	t.Helper()
	b := make([]byte, 2000)
	n, from, err := l.ReadPacket(b)
	if err != nil {
		t.Fatalf("ReadPacket: %v", err)
	}
	return b[:n], from
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		node ipx.Node
		cfg  Config
		want error
	}{
		{"zero node", ipx.NodeZero, Config{}, ipx.ErrBadAddr},
		{"broadcast node", ipx.NodeBroadcast, Config{}, ipx.ErrBadAddr},
		{"multicast node", ipx.Node{0x01, 0, 0x5e, 0, 0, 1}, Config{}, ipx.ErrBadAddr},
		{"frame type", nodeA, Config{FrameType: 9}, ipx.ErrUnknownFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(newFakeConn(), tt.node, tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := New(newFakeConn(), nodeA, Config{MaxPeers: -1}); err == nil {
		t.Fatal("New accepted negative MaxPeers")
	}
}

func TestMTU(t *testing.T) {
	tests := []struct {
		ft   ipx.FrameType
		want int
	}{
		{0, 1492},
		{ipx.FrameEthernetII, 1500},
		{ipx.Frame8023Raw, 1500},
		{ipx.Frame8022, 1497},
		{ipx.FrameSNAP, 1492},
	}
	for _, tt := range tests {
		t.Run(cfgName(tt.ft), func(t *testing.T) {
			l, _ := newTestLink(t, nodeA, Config{FrameType: tt.ft})
			if got := l.MTU(); got != tt.want {
				t.Fatalf("MTU = %d, want %d", got, tt.want)
			}
			// A packet of exactly MTU bytes goes out; one more is refused.
			pkt := testPacket(t, nodeA, nodeB, string(make([]byte, tt.want-ipx.HeaderLen)))
			if err := l.WritePacket(pkt, nodeB); err != nil {
				t.Fatalf("WritePacket of MTU bytes: %v", err)
			}
			pkt = testPacket(t, nodeA, nodeB, string(make([]byte, tt.want-ipx.HeaderLen+1)))
			if err := l.WritePacket(pkt, nodeB); !errors.Is(err, ipx.ErrTooLarge) {
				t.Fatalf("WritePacket of MTU+1 bytes = %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestReadFraming checks that a fixed-type Link accepts only its framing
// and an auto Link accepts all four, returning the packet unpadded.
func TestReadFraming(t *testing.T) {
	pkt := testPacket(t, nodeB, nodeA, "hi")
	for _, cfgType := range append([]ipx.FrameType{0}, allTypes...) {
		t.Run("link "+cfgName(cfgType), func(t *testing.T) {
			l, c := newTestLink(t, nodeA, Config{FrameType: cfgType})
			for _, ft := range allTypes {
				c.in <- testFrame(t, ft, nodeB, nodeA, pkt)
			}
			// A final marker frame in the Link's own framing ends the run.
			markerType := cfgType
			if markerType == 0 {
				markerType = ipx.FrameEthernetII
			}
			marker := testPacket(t, nodeC, nodeA, "end")
			c.in <- testFrame(t, markerType, nodeC, nodeA, marker)

			var got int
			for {
				p, from := readOne(t, l)
				if bytes.Equal(p, marker) {
					break
				}
				if !bytes.Equal(p, pkt) || from != nodeB {
					t.Fatalf("ReadPacket = % x from %v, want % x from %v", p, from, pkt, nodeB)
				}
				got++
			}
			want, wantOther := 1, uint64(3)
			if cfgType == 0 {
				want, wantOther = 4, 0
			}
			if got != want {
				t.Errorf("accepted %d framings, want %d", got, want)
			}
			if s := l.Stats(); s.OtherFrameType != wantOther || s.Received != uint64(want+1) {
				t.Errorf("stats %+v, want OtherFrameType %d Received %d", s, wantOther, want+1)
			}
		})
	}
}

// frameMod returns a modified copy of a frame.
func frameMod(b []byte, fn func(b []byte) []byte) []byte { return fn(bytes.Clone(b)) }

func TestReadFilters(t *testing.T) {
	pkt := testPacket(t, nodeB, nodeA, "hello")
	eii := testFrame(t, ipx.FrameEthernetII, nodeB, nodeA, pkt)
	raw := testFrame(t, ipx.Frame8023Raw, nodeB, nodeA, pkt)
	llc := testFrame(t, ipx.Frame8022, nodeB, nodeA, pkt)
	tests := []struct {
		name  string
		frame []byte
		count func(Stats) uint64
	}{
		{"own frame", testFrame(t, ipx.FrameEthernetII, nodeA, nodeA, pkt), func(s Stats) uint64 { return s.OwnFrames }},
		{"own broadcast", testFrame(t, ipx.FrameEthernetII, nodeA, ipx.NodeBroadcast, pkt), func(s Stats) uint64 { return s.OwnFrames }},
		{"other host unicast", testFrame(t, ipx.FrameEthernetII, nodeB, nodeC, pkt), func(s Stats) uint64 { return s.OtherHost }},
		{"multicast", testFrame(t, ipx.FrameEthernetII, nodeB, ipx.Node{0x33, 0x33, 0, 0, 0, 1}, pkt), func(s Stats) uint64 { return s.OtherHost }},
		{"IPv4", frameMod(eii, func(b []byte) []byte { b[12], b[13] = 0x08, 0x00; return b }), func(s Stats) uint64 { return s.NotIPX }},
		{"IPv6", frameMod(eii, func(b []byte) []byte { b[12], b[13] = 0x86, 0xdd; return b }), func(s Stats) uint64 { return s.NotIPX }},
		{"802.2 other SAP", frameMod(llc, func(b []byte) []byte { b[14], b[15] = 0x42, 0x42; return b }), func(s Stats) uint64 { return s.NotIPX }},
		{"802.2 bad control", frameMod(llc, func(b []byte) []byte { b[16] = 0x13; return b }), func(s Stats) uint64 { return s.NotIPX }},
		{"runt", eii[:13], func(s Stats) uint64 { return s.Malformed }},
		{"header only", eii[:14], func(s Stats) uint64 { return s.Malformed }},
		{"truncated IPX header", eii[:14+20], func(s Stats) uint64 { return s.Malformed }},
		{"length beyond frame", eii[:14+ipx.HeaderLen+2], func(s Stats) uint64 { return s.Malformed }},
		{"length below header", frameMod(eii, func(b []byte) []byte { binary.BigEndian.PutUint16(b[16:], 29); return b }), func(s Stats) uint64 { return s.Malformed }},
		{"group source", frameMod(eii, func(b []byte) []byte { b[6] |= 1; return b }), func(s Stats) uint64 { return s.Malformed }},
		{"zero source", frameMod(eii, func(b []byte) []byte { clear(b[6:12]); return b }), func(s Stats) uint64 { return s.Malformed }},
		{"raw 802.3 truncated", raw[:14+10], func(s Stats) uint64 { return s.Malformed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newTestLink(t, nodeA, Config{})
			c.in <- tt.frame
			c.in <- eii
			p, from := readOne(t, l)
			if !bytes.Equal(p, pkt) || from != nodeB {
				t.Fatalf("ReadPacket = % x from %v, want the good packet from %v", p, from, nodeB)
			}
			s := l.Stats()
			if got := tt.count(s); got != 1 {
				t.Fatalf("counter = %d, want 1 (stats %+v)", got, s)
			}
			if s.Received != 1 {
				t.Fatalf("Received = %d, want 1", s.Received)
			}
		})
	}
}

// TestReadLength checks that the IPX length decides the packet's extent,
// whatever the padding and the 802.3 length say, and that unpadded frames
// (as veth delivers them) are accepted.
func TestReadLength(t *testing.T) {
	pkt := testPacket(t, nodeB, nodeA, "abc") // 33 bytes, padded in a frame
	tests := []struct {
		name  string
		frame []byte
	}{
		{"Ethernet II padded", testFrame(t, ipx.FrameEthernetII, nodeB, nodeA, pkt)},
		{"Ethernet II unpadded", testFrame(t, ipx.FrameEthernetII, nodeB, nodeA, pkt)[:14+len(pkt)]},
		{"Ethernet II junk padding", frameMod(testFrame(t, ipx.FrameEthernetII, nodeB, nodeA, pkt), func(b []byte) []byte {
			for i := 14 + len(pkt); i < len(b); i++ {
				b[i] = 0xEE
			}
			return append(b, 1, 2, 3)
		})},
		{"802.3 length too large", frameMod(testFrame(t, ipx.Frame8023Raw, nodeB, nodeA, pkt), func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[12:], 1400)
			return b
		})},
		{"802.3 length too small", frameMod(testFrame(t, ipx.Frame8022, nodeB, nodeA, pkt), func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[12:], 3)
			return b
		})},
		{"SNAP unpadded", testFrame(t, ipx.FrameSNAP, nodeB, nodeA, pkt)[:22+len(pkt)]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newTestLink(t, nodeA, Config{})
			c.in <- tt.frame
			p, _ := readOne(t, l)
			if !bytes.Equal(p, pkt) {
				t.Fatalf("ReadPacket = % x, want % x", p, pkt)
			}
		})
	}
}

func TestReadTruncates(t *testing.T) {
	l, c := newTestLink(t, nodeA, Config{FrameType: ipx.FrameEthernetII})
	pkt := testPacket(t, nodeB, nodeA, "a payload longer than the buffer")
	c.in <- testFrame(t, ipx.FrameEthernetII, nodeB, nodeA, pkt)
	b := make([]byte, 40)
	n, _, err := l.ReadPacket(b)
	if err != nil || n != 40 || !bytes.Equal(b, pkt[:40]) {
		t.Fatalf("ReadPacket = %d, %v; want 40 bytes of the packet", n, err)
	}
	if s := l.Stats(); s.Truncated != 1 {
		t.Fatalf("Truncated = %d, want 1", s.Truncated)
	}
}

// TestWriteFraming checks the exact bytes sent in each fixed framing.
func TestWriteFraming(t *testing.T) {
	pkt := testPacket(t, nodeA, nodeB, "x")
	for _, ft := range allTypes {
		for _, dst := range []ipx.Node{nodeB, ipx.NodeBroadcast} {
			t.Run(ft.String()+" to "+dst.String(), func(t *testing.T) {
				l, c := newTestLink(t, nodeA, Config{FrameType: ft})
				// Trailing bytes past the length field are not sent.
				if err := l.WritePacket(append(bytes.Clone(pkt), 0xDE, 0xAD), dst); err != nil {
					t.Fatalf("WritePacket: %v", err)
				}
				out, dsts := c.written()
				want := testFrame(t, ft, nodeA, dst, pkt)
				if len(out) != 1 || !bytes.Equal(out[0], want) || dsts[0] != dst {
					t.Fatalf("wrote % x to %v, want % x to %v", out, dsts, want, dst)
				}
				if len(out[0]) != ipx.EthernetMinFrame {
					t.Fatalf("frame of %d bytes, want padding to %d", len(out[0]), ipx.EthernetMinFrame)
				}
				if s := l.Stats(); s.Sent != 1 {
					t.Fatalf("Sent = %d, want 1", s.Sent)
				}
			})
		}
	}
}

func TestWriteErrors(t *testing.T) {
	good := testPacket(t, nodeA, nodeB, "x")
	withSum := bytes.Clone(good)
	ipx.PutChecksum(withSum)
	tests := []struct {
		name string
		ft   ipx.FrameType
		pkt  []byte
		want error
	}{
		{"short", ipx.FrameEthernetII, good[:20], io.ErrUnexpectedEOF},
		{"length beyond buffer", ipx.FrameEthernetII, good[:len(good)-1], ipx.ErrBadLength},
		{"length below header", ipx.FrameEthernetII, frameMod(good, func(b []byte) []byte { b[3] = 10; return b }), ipx.ErrBadLength},
		{"raw 802.3 with checksum", ipx.Frame8023Raw, withSum, ipx.ErrBadChecksum},
		{"too large", ipx.FrameSNAP, testPacket(t, nodeA, nodeB, string(make([]byte, 1470))), ipx.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newTestLink(t, nodeA, Config{FrameType: tt.ft})
			err := l.WritePacket(tt.pkt, nodeB)
			if !errors.Is(err, tt.want) {
				t.Fatalf("WritePacket = %v, want %v", err, tt.want)
			}
			if out, _ := c.written(); len(out) != 0 {
				t.Fatalf("wrote %d frames on error", len(out))
			}
			if s := l.Stats(); s.SendErrors != 1 || s.Sent != 0 {
				t.Fatalf("stats %+v, want one send error", s)
			}
		})
	}
	// A checksum is fine in the other framings.
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8022, ipx.FrameSNAP} {
		l, _ := newTestLink(t, nodeA, Config{FrameType: ft})
		if err := l.WritePacket(withSum, nodeB); err != nil {
			t.Errorf("%v: WritePacket with checksum: %v", ft, err)
		}
	}
}

// TestAutoLearning checks that auto mode answers each peer in the framing
// it last used and sends broadcasts and unknown peers Ethernet II.
func TestAutoLearning(t *testing.T) {
	l, c := newTestLink(t, nodeA, Config{})
	send := func(dst ipx.Node) ipx.FrameType {
		t.Helper()
		if err := l.WritePacket(testPacket(t, nodeA, dst, "q"), dst); err != nil {
			t.Fatalf("WritePacket: %v", err)
		}
		out, _ := c.written()
		ft, _, err := ipx.DetectFrame(out[0])
		if err != nil {
			t.Fatal(err)
		}
		return ft
	}
	hear := func(from ipx.Node, ft ipx.FrameType) {
		t.Helper()
		c.in <- testFrame(t, ft, from, nodeA, testPacket(t, from, nodeA, "r"))
		readOne(t, l)
	}
	steps := []struct {
		name      string
		hearFrom  ipx.Node
		hearType  ipx.FrameType
		dst       ipx.Node
		want      ipx.FrameType
		wantKnown bool
	}{
		{"unknown peer", ipx.Node{}, 0, nodeB, ipx.FrameEthernetII, false},
		{"broadcast", ipx.Node{}, 0, ipx.NodeBroadcast, ipx.FrameEthernetII, false},
		{"peer speaks 802.2", nodeB, ipx.Frame8022, nodeB, ipx.Frame8022, true},
		{"broadcast stays Ethernet II", ipx.Node{}, 0, ipx.NodeBroadcast, ipx.FrameEthernetII, false},
		{"other peer speaks SNAP", nodeC, ipx.FrameSNAP, nodeC, ipx.FrameSNAP, true},
		{"first peer unchanged", ipx.Node{}, 0, nodeB, ipx.Frame8022, true},
		{"peer switches to raw", nodeB, ipx.Frame8023Raw, nodeB, ipx.Frame8023Raw, true},
		{"peer switches to Ethernet II", nodeB, ipx.FrameEthernetII, nodeB, ipx.FrameEthernetII, true},
	}
	for _, st := range steps {
		if st.hearType != 0 {
			hear(st.hearFrom, st.hearType)
		}
		if got := send(st.dst); got != st.want {
			t.Fatalf("%s: sent %v, want %v", st.name, got, st.want)
		}
		if !st.dst.IsBroadcast() {
			if got, known := l.PeerFrameType(st.dst); got != st.want || known != st.wantKnown {
				t.Fatalf("%s: PeerFrameType = %v, %v; want %v, %v", st.name, got, known, st.want, st.wantKnown)
			}
		}
	}
}

func TestAutoPeersBounded(t *testing.T) {
	l, c := newTestLink(t, nodeA, Config{MaxPeers: 3})
	for i := range 10 {
		peer := ipx.Node{0x02, 0, 0, 0, 1, byte(i)}
		c.in <- testFrame(t, ipx.FrameSNAP, peer, nodeA, testPacket(t, peer, nodeA, "r"))
		readOne(t, l)
		l.pmu.RLock()
		n := len(l.peers)
		l.pmu.RUnlock()
		if n > 3 {
			t.Fatalf("peer table holds %d entries, bound 3", n)
		}
		// The peer just heard is always remembered.
		if ft, ok := l.PeerFrameType(peer); !ok || ft != ipx.FrameSNAP {
			t.Fatalf("peer %d: PeerFrameType = %v, %v", i, ft, ok)
		}
	}
}

func TestFixedIgnoresLearning(t *testing.T) {
	l, c := newTestLink(t, nodeA, Config{FrameType: ipx.FrameSNAP})
	c.in <- testFrame(t, ipx.FrameSNAP, nodeB, nodeA, testPacket(t, nodeB, nodeA, "r"))
	readOne(t, l)
	if l.peers != nil {
		t.Fatal("fixed-mode Link keeps a peer table")
	}
	if ft, ok := l.PeerFrameType(nodeC); ft != ipx.FrameSNAP || !ok {
		t.Fatalf("PeerFrameType = %v, %v; want SNAP, true", ft, ok)
	}
}

func TestClose(t *testing.T) {
	l, _ := newTestLink(t, nodeA, Config{})
	done := make(chan error)
	go func() {
		_, _, err := l.ReadPacket(make([]byte, 100))
		done <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadPacket after Close = %v, want net.ErrClosed", err)
	}
	if _, _, err := l.ReadPacket(make([]byte, 100)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second ReadPacket = %v, want net.ErrClosed", err)
	}
	if err := l.WritePacket(testPacket(t, nodeA, nodeB, ""), nodeB); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WritePacket after Close = %v, want net.ErrClosed", err)
	}
	// The ipx Close rule: a second Close wraps net.ErrClosed.
	if err := l.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v, want net.ErrClosed", err)
	}
}

func TestReadDeadline(t *testing.T) {
	l, _ := newTestLink(t, nodeA, Config{})
	if err := l.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.ReadPacket(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadPacket past deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestConcurrentWrites(t *testing.T) {
	var (
		mu    sync.Mutex
		count = map[string]int{}
	)
	c := newFakeConn()
	c.sink = func(b []byte, _ net.Addr) {
		mu.Lock()
		count[string(b)]++
		mu.Unlock()
	}
	l, err := New(c, nodeA, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	const writers, each = 8, 200
	for i := range writers {
		wg.Go(func() {
			pkt := testPacket(t, nodeA, nodeB, string(rune('a'+i)))
			for range each {
				if err := l.WritePacket(pkt, nodeB); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(count) != writers {
		t.Fatalf("%d distinct frames, want %d (frames mixed between writers)", len(count), writers)
	}
	for f, n := range count {
		if n != each {
			t.Fatalf("frame % x sent %d times, want %d", f, n, each)
		}
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	c := newFakeConn()
	c.sink = func([]byte, net.Addr) {}
	l, err := New(c, nodeA, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pkt := testPacket(t, nodeA, nodeB, "payload")
	in := testFrame(t, ipx.Frame8022, nodeB, nodeA, testPacket(t, nodeB, nodeA, "payload"))
	buf := make([]byte, 1500)
	l.WritePacket(pkt, nodeB) // warm the writer pool and the peer table
	c.in <- in
	l.ReadPacket(buf)
	if n := testing.AllocsPerRun(100, func() {
		if err := l.WritePacket(pkt, nodeB); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WritePacket: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		c.in <- in
		if _, _, err := l.ReadPacket(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadPacket: %v allocations, want 0", n)
	}
}
