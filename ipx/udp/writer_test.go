package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

// queuedLink returns a Link registered with srv, a bare socket, that
// queues its writes; the test is skipped where Links write inline only.
func queuedLink(t *testing.T, srv *net.UDPConn) *Link {
	t.Helper()
	l := directLink(t, srv)
	if l.wq == nil {
		l.Close()
		t.Skip("no batched writes on this system")
	}
	return l
}

// forceQueue makes l's next write take the queue, as after a batch.
func forceQueue(l *Link) {
	q := l.wq
	q.mu.Lock()
	q.skip, q.backoff = 0, 0
	q.mu.Unlock()
}

func TestLinkWriteInlineOnly(t *testing.T) {
	l, srv := linkPair(t, newMemNet())
	if l.wq != nil {
		t.Error("a Link over a conn without batched I/O queues its writes")
	}
	// WritePackets there sends one datagram per packet, in order.
	peer := mustNode(t, srv.addr)
	var ps [][]byte
	for i := range 3 {
		ps = append(ps, pkt(t, l.Node(), peer, 0x4000, fmt.Sprint("batch ", i)))
	}
	if n, err := l.WritePackets(ps, peer); n != 3 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	buf := make([]byte, MTU)
	for i, want := range ps {
		n, _, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram %d: % x, %v", i, buf[:n], err)
		}
	}
	if st := l.Stats(); st.Sent != 3 {
		t.Errorf("Sent %d, want 3", st.Sent)
	}
}

// TestLinkWriteQueueOrder writes from several goroutines at once, which
// sends some packets inline and queues others: each goroutine's packets
// arrive complete and in order, and Sent counts them all.
func TestLinkWriteQueueOrder(t *testing.T) {
	srv := loopbackUDP(t)
	srv.SetReadBuffer(1 << 20)
	l := queuedLink(t, srv)
	peer := mustNode(t, apOf(srv))
	const writers, each = 4, 50
	forceQueue(l)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.WritePacket(pkt(t, l.Node(), peer, 0x4000, fmt.Sprintf("%d %d", g, i)), peer); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	readInOrder(t, srv, writers, writers*each)
	wg.Wait()
	l.Close()
	if !l.wq.running {
		t.Error("no packet took the queue")
	}
	if st := l.Stats(); st.Sent != writers*each || st.WriteErrors != 0 {
		t.Errorf("stats %+v, want Sent %d", st, writers*each)
	}
}

// readInOrder reads count datagrams "g i" from srv, written by writers
// goroutines g each numbering its packets i from 0, and fails unless
// every writer's packets arrive in order.
func readInOrder(t *testing.T, srv *net.UDPConn, writers, count int) {
	t.Helper()
	next := make([]int, writers)
	buf := make([]byte, MTU)
	for range count {
		n, _, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		if _, err := fmt.Sscanf(string(buf[30:n]), "%d %d", &g, &i); err != nil || g < 0 || g >= writers {
			t.Fatalf("unexpected datagram % x", buf[:n])
		}
		if i != next[g] {
			t.Fatalf("writer %d: packet %d arrived, want %d", g, i, next[g])
		}
		next[g]++
	}
}

// TestLinkWriteQueueClose queues packets and closes the Link at once:
// Close sends them all before it closes the socket, its writer goroutine
// exits, and later writes report the close.
func TestLinkWriteQueueClose(t *testing.T) {
	srv := loopbackUDP(t)
	l := queuedLink(t, srv)
	peer := mustNode(t, apOf(srv))
	const count = 10
	forceQueue(l)
	for i := range count {
		if err := l.WritePacket(pkt(t, l.Node(), peer, 0x4000, fmt.Sprint("packet ", i)), peer); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.wq.done:
	default:
		if l.wq.running {
			t.Error("writer goroutine still running after Close")
		}
	}
	buf := make([]byte, MTU)
	for i := range count {
		n, _, err := srv.ReadFromUDPAddrPort(buf)
		if want := pkt(t, l.Node(), peer, 0x4000, fmt.Sprint("packet ", i)); err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("packet %d: % x, %v", i, buf[:n], err)
		}
	}
	if st := l.Stats(); st.Sent != count {
		t.Errorf("stats %+v, want Sent %d", st, count)
	}
	if err := l.WritePacket(pkt(t, l.Node(), peer, 0x4000, "late"), peer); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WritePacket after Close: %v, want net.ErrClosed", err)
	}
	l.Close() // must not wait for the writer goroutine again
}

// TestLinkWriteQueueError checks that a queued packet the socket refuses
// is counted and its error returned by the next WritePacket.
func TestLinkWriteQueueError(t *testing.T) {
	srv := loopbackUDP(t)
	l := queuedLink(t, srv)
	peer := mustNode(t, apOf(srv))
	// Port 0 is no destination: the kernel refuses the datagram.
	l.server = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)
	forceQueue(l)
	if err := l.WritePacket(pkt(t, l.Node(), peer, 0x4000, "refused"), peer); err != nil {
		t.Fatalf("queued write: %v", err)
	}
	l.Close() // waits for the writer goroutine
	err := l.WritePacket(pkt(t, l.Node(), peer, 0x4000, "next"), peer)
	var oe *net.OpError
	if err == nil || errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != "write" {
		t.Errorf("next WritePacket: %v, want the queued packet's write error", err)
	}
	if st := l.Stats(); st.WriteErrors != 1 || st.Sent != 0 {
		t.Errorf("stats %+v, want WriteErrors 1, Sent 0", st)
	}
}

// TestLinkWriteQueueAllocs checks that a queued write allocates nothing.
func TestLinkWriteQueueAllocs(t *testing.T) {
	srv := loopbackUDP(t)
	l := queuedLink(t, srv)
	defer l.Close()
	peer := mustNode(t, apOf(srv))
	p := pkt(t, l.Node(), peer, 0x4000, "allocation-free")
	buf := make([]byte, MTU)
	allocs := testing.AllocsPerRun(200, func() {
		forceQueue(l)
		if err := l.WritePacket(p, peer); err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per queued packet, want 0", allocs)
	}
}

// TestLinkWritePackets sends batches with WritePackets while other
// goroutines write single packets, so that some batches find the queue
// idle and go inline and others queue: every writer's packets arrive
// complete and in order, a bad packet in a batch stops all of it, and the
// caller's buffers are not kept.
func TestLinkWritePackets(t *testing.T) {
	srv := loopbackUDP(t)
	srv.SetReadBuffer(4 << 20)
	l := queuedLink(t, srv)
	peer := mustNode(t, apOf(srv))
	const writers, batches, per = 3, 20, 12
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for b := range batches {
				ps := make([][]byte, per)
				for i := range ps {
					ps[i] = pkt(t, l.Node(), peer, 0x4000, fmt.Sprintf("%d %d", g, b*per+i))
				}
				if g == 0 { // one writer sends single packets
					for _, p := range ps {
						if err := l.WritePacket(p, peer); err != nil {
							t.Error(err)
							return
						}
					}
					continue
				}
				if n, err := l.WritePackets(ps, peer); n != per || err != nil {
					t.Errorf("WritePackets = %d, %v", n, err)
					return
				}
			}
		})
	}
	readInOrder(t, srv, writers, writers*batches*per)
	wg.Wait()
	for _, m := range l.wq.direct {
		if m.buf != nil {
			t.Fatal("the inline batch keeps a caller's packet")
		}
	}

	good := pkt(t, l.Node(), peer, 0x4000, "good")
	n, err := l.WritePackets([][]byte{good, good[:ipx.HeaderLen-1], good}, peer)
	if n != 0 || !errors.Is(err, ipx.ErrShortBuffer) {
		t.Errorf("batch with a short packet: %d, %v; want none sent and ErrShortBuffer", n, err)
	}
	// The writer goroutine counts a packet after its send returns, which
	// may be after the packet arrived: Close waits for that goroutine,
	// so the counters are settled after it.
	l.Close()
	if st := l.Stats(); st.Sent != writers*batches*per || st.WriteErrors != 0 {
		t.Errorf("stats %+v, want Sent %d", st, writers*batches*per)
	}
	if _, err := l.WritePackets([][]byte{good}, peer); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WritePackets after Close: %v, want net.ErrClosed", err)
	}
}
