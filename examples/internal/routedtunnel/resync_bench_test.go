package routedtunnel_test

// Issue 13, item 9: how long a mirrored pair takes to resynchronise a
// returning secondary, and the longest pause a client sees meanwhile,
// against the image size and the change-log length, on memlan and on the
// loopback UDP tunnel. The benchmarks live here because only this package
// (with examples/mirrordemo) can route a pair's internal network on a
// tunnel. Real time: each op is one resynchronisation; resync-ms is its
// time from the join to both servers mirrored, pause-ms the longest a
// client request took from the join to the end, req/s the load the
// clients kept up meanwhile.
//
//	go test ./examples/internal/routedtunnel -run '^$' -bench Resync -benchmem -benchtime 3x

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/routedtunnel"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/spx"
)

const (
	benchLAN      ipx.Network = 0x00000001
	benchInternal ipx.Network = 0x00C0FFEE
	benchMSL      ipx.Socket  = 0x4B00
)

var (
	benchNode = ipx.Node{0, 0, 0, 0, 0, 1}
	benchKey  = []byte("resync bench MSL key, 32 bytes..")
	benchSPX  = spx.Config{Linger: -1, PiggybackAcks: true}
)

// benchNet is the LAN the pair and its clients share.
type benchNet interface {
	attach(node ipx.Node) (ipx.Link, error)
	// tcp is the pair's dedicated TCP MSL on loopback, or nil for an
	// SPX MSL on the LAN.
	tcp() *tcpMSL
	close()
}

type memlanNet struct{ seg *memlan.Segment }

func (m memlanNet) attach(node ipx.Node) (ipx.Link, error) { return m.seg.Attach(node) }
func (memlanNet) tcp() *tcpMSL                             { return nil }
func (memlanNet) close()                                   {}

type udpNet struct {
	t   *routedtunnel.Tunnel
	msl *tcpMSL
}

func (u udpNet) attach(ipx.Node) (ipx.Link, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return udp.Dial(ctx, u.t.Addr(), udp.Config{})
}
func (u udpNet) tcp() *tcpMSL { return u.msl }
func (u udpNet) close()       { u.t.Close() }

// tcpMSL is a pair's MSL on TCP over loopback, a dedicated link as SFT
// III's was: each server listens, and dials the other's listener.
type tcpMSL struct {
	mu    sync.Mutex
	addrs []string
}

func (t *tcpMSL) listen(b *testing.B) (net.Listener, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addrs = append(t.addrs, ln.Addr().String())
	return ln, ln.Addr().String()
}

func (t *tcpMSL) dialOther(ctx context.Context, self string) (net.Conn, error) {
	t.mu.Lock()
	var peer string
	for _, a := range t.addrs {
		if a != self {
			peer = a
		}
	}
	t.mu.Unlock()
	if peer == "" {
		return nil, errGate
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", peer)
}

// newBenchNet returns a LAN of kind "memlan", "udp" (the tunnel, the
// MSL on it) or "udp-tcpmsl" (the tunnel, the MSL on its own TCP link).
func newBenchNet(b *testing.B, kind string) benchNet {
	if kind == "memlan" {
		return memlanNet{memlan.NewSegment(memlan.Config{})}
	}
	t, err := routedtunnel.Listen("127.0.0.1:0", benchLAN)
	if err != nil {
		b.Fatal(err)
	}
	if kind == "udp-tcpmsl" {
		return udpNet{t: t, msl: new(tcpMSL)}
	}
	return udpNet{t: t}
}

// benchServer is one server of the pair, on its own stack.
type benchServer struct {
	net    benchNet
	stack  *ipx.Stack
	link   ipx.Link
	router *rip.Router
	kv     *mirrortest.KV
	srv    *mirror.Server
	// gate, when set, fails the server's MSL dials; conn is its last
	// MSL connection.
	gate atomic.Bool
	// dialed is when the last MSL dial the gate let through began.
	dialed atomic.Int64
	mu     sync.Mutex
	conn   net.Conn
}

func (s *benchServer) close() {
	if s.srv != nil {
		s.srv.Close()
	}
	if s.router != nil {
		s.router.Close()
	}
	s.stack.Close()
}

// cutMSL aborts the server's MSL connection.
func (s *benchServer) cutMSL() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.(*spx.Conn).Abort()
	}
}

var errGate = fmt.Errorf("bench: MSL dial gated")

func startBenchServer(b *testing.B, n benchNet, node ipx.Node, peer ipx.Node, role mirror.Role, kv *mirrortest.KV) *benchServer {
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		b.Fatal(err)
	}
	s := &benchServer{net: n, stack: st, kv: kv}
	if s.link, err = n.attach(node); err != nil {
		b.Fatal(err)
	}
	if _, err := st.AddLink(s.link, benchLAN); err != nil {
		b.Fatal(err)
	}
	if role == mirror.RolePrimary {
		return s // started by serve, once its peer's node is known
	}
	s.serve(b, peer, role)
	return s
}

func (s *benchServer) serve(b *testing.B, peer ipx.Node, role mirror.Role) {
	st := s.stack
	if _, err := st.AddLinkConfig(ipx.NewInternalLink(benchNode), ipx.LinkConfig{Network: benchInternal, Shared: true}); err != nil {
		b.Fatal(err)
	}
	var err error
	if s.router, err = rip.NewRouter(st, rip.Config{Shared: map[ipx.Network]rip.SharedState{benchInternal: rip.SharedStandby}}); err != nil {
		b.Fatal(err)
	}
	var ln net.Listener
	var self string
	if t := s.net.tcp(); t != nil {
		ln, self = t.listen(b)
	} else if ln, err = spx.ListenConfig(st, benchMSL, benchSPX); err != nil {
		b.Fatal(err)
	}
	peerMSL := ipx.Addr{Net: benchLAN, Node: peer, Socket: benchMSL}
	s.srv, err = mirror.NewServer(mirror.Config{
		Stack: st, Router: s.router, Engine: s.kv, EngineVersion: "kv1",
		Network: benchInternal, Node: benchNode, Start: role, Key: benchKey,
		Peer: ipx.Addr{Net: benchLAN, Node: peer}, Listener: ln,
		Dial: func(ctx context.Context) (net.Conn, error) {
			if s.gate.Load() {
				return nil, errGate
			}
			s.dialed.Store(time.Now().UnixNano())
			if t := s.net.tcp(); t != nil {
				return t.dialOther(ctx, self)
			}
			c, err := spx.DialConfig(ctx, st, peerMSL, benchSPX)
			if err == nil {
				s.mu.Lock()
				s.conn = c
				s.mu.Unlock()
			}
			return c, err
		},
	})
	if err != nil {
		b.Fatal(err)
	}
}

// benchLoad is clients sending puts back to back, one request each at a
// time, recording the longest request since the last mark.
type benchLoad struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	longest time.Duration
	since   time.Time
	done    atomic.Int64
	failed  atomic.Int64
}

func startLoad(cls []*mirror.Client, gap time.Duration) *benchLoad {
	l := &benchLoad{stop: make(chan struct{}), since: time.Now()}
	for i, c := range cls {
		l.wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.Do(ctx, mirrortest.Put(fmt.Sprint("load", i), fmt.Sprint(j)))
				cancel()
				if err != nil {
					l.failed.Add(1)
				}
				l.done.Add(1)
				end := time.Now()
				l.mu.Lock()
				if !end.Before(l.since) {
					if start.Before(l.since) {
						start = l.since
					}
					l.longest = max(l.longest, end.Sub(start))
				}
				l.mu.Unlock()
				if gap > 0 {
					time.Sleep(gap)
				}
			}
		})
	}
	return l
}

// mark starts a new window for longest.
func (l *benchLoad) mark() {
	l.mu.Lock()
	l.longest, l.since = 0, time.Now()
	l.mu.Unlock()
}

func (l *benchLoad) window() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.longest
}

func (l *benchLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// benchPair is a primary A holding image bytes of KV pairs, and clients;
// the secondary is started by each benchmark.
type benchPair struct {
	net    benchNet
	a      *benchServer
	client *ipx.Stack
	router *rip.Router
	cls    []*mirror.Client
}

func (p *benchPair) close() {
	for _, c := range p.cls {
		c.Close()
	}
	if p.router != nil {
		p.router.Close()
	}
	if p.client != nil {
		p.client.Close()
	}
	p.a.close()
	p.net.close()
}

// filledKV returns a KV holding about size bytes of image.
func filledKV(size int) *mirrortest.KV {
	kv := mirrortest.NewKV()
	val := strings.Repeat("v", 240)
	for i := 0; i*(240+16) < size; i++ {
		kv.Apply(mirror.Event{Data: mirrortest.Put(fmt.Sprintf("k%012d", i), val)})
	}
	return kv
}

// peerNode is the node B takes on memlan; on the tunnel the relay picks.
var peerNode = ipx.Node{2, 0, 0, 0, 0, 2}

func newBenchPair(b *testing.B, kind string, kv *mirrortest.KV, clients int) *benchPair {
	p := &benchPair{net: newBenchNet(b, kind)}
	p.a = startBenchServer(b, p.net, ipx.Node{2, 0, 0, 0, 0, 1}, ipx.Node{}, mirror.RolePrimary, kv)
	// On the tunnel B's node is known only once it attaches; A probes
	// and dials its peer only while alone, which a benchmark does not
	// need to succeed.
	p.a.serve(b, peerNode, mirror.RolePrimary)
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p.client = st
	l, err := p.net.attach(ipx.Node{2, 0, 0, 0, 0, 0x10})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.AddLink(l, benchLAN); err != nil {
		b.Fatal(err)
	}
	if p.router, err = rip.NewRouter(st, rip.Config{ListenOnly: true}); err != nil {
		b.Fatal(err)
	}
	if !waitUntil(10*time.Second, func() bool { _, ok := p.router.Table().Lookup(benchInternal); return ok }) {
		b.Fatal("the client learnt no route to the pair")
	}
	for range clients {
		c, err := mirror.NewClient(mirror.ClientConfig{Stack: st, Server: ipx.Addr{Net: benchInternal, Node: benchNode, Socket: mirror.DefaultSocket}})
		if err != nil {
			b.Fatal(err)
		}
		p.cls = append(p.cls, c)
	}
	return p
}

func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func mirroredBoth(a, b *benchServer) bool {
	return a.srv.Status().Peer == mirror.PeerMirrored && b.srv.Status().Peer == mirror.PeerMirrored
}

// report records the figures of the n resynchronisations measured:
// total their time, longest the longest client request, reqs the
// requests answered in wall, the windows from each mark to mirrored.
func report(b *testing.B, total, longest time.Duration, reqs int64, wall time.Duration, failed int64) {
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "resync-ms")
	b.ReportMetric(float64(longest.Microseconds())/1000, "pause-ms")
	b.ReportMetric(float64(reqs)/wall.Seconds(), "req/s")
	if failed > 0 {
		b.Errorf("%d client requests failed", failed)
	}
}

// BenchmarkResyncImage: a fresh secondary joins a primary whose image is
// 1 MB or 64 MB, while four clients write; each op is one join, from the
// secondary's start to both servers mirrored.
func BenchmarkResyncImage(b *testing.B) {
	for _, kind := range []string{"memlan", "udp"} {
		for _, size := range []int{1 << 20, 64 << 20} {
			b.Run(fmt.Sprintf("%s/%dMB", kind, size>>20), func(b *testing.B) {
				kv := filledKV(size)
				p := newBenchPair(b, kind, kv, 4)
				defer p.close()
				load := startLoad(p.cls, time.Millisecond)
				var total, longest, wall time.Duration
				reqs := int64(0)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					// A's peer address (peerNode) matters only to a
					// primary alone; B dials A, which is all a join needs.
					node := ipx.Node{2, 0, 0, 0, 1, byte(i)}
					load.mark()
					marked := time.Now()
					n0 := load.done.Load()
					b.StartTimer()
					start := time.Now()
					sb := startBenchServer(b, p.net, node, p.a.link.Node(), mirror.RoleSecondary, mirrortest.NewKV())
					if !waitUntil(5*time.Minute, func() bool { return mirroredBoth(p.a, sb) }) {
						b.Fatalf("not mirrored: A %+v, B %+v", p.a.srv.Status(), sb.srv.Status())
					}
					d := time.Since(start)
					b.StopTimer()
					total += d
					longest = max(longest, load.window())
					reqs += load.done.Load() - n0
					wall += time.Since(marked)
					if s := sb.srv.Stats(); s.Images != 1 {
						b.Fatalf("B joined without an image: %+v", s)
					}
					sb.close()
					if !waitUntil(10*time.Second, func() bool { return p.a.srv.Status().Peer == mirror.PeerNone }) {
						b.Fatal("A never noticed B had gone")
					}
					b.StartTimer()
				}
				b.StopTimer()
				load.end()
				report(b, total, longest, reqs, wall, load.failed.Load())
			})
		}
	}
}

// BenchmarkResyncLog: a mirrored secondary loses the MSL, the primary
// goes on alone for 1,000 or 100,000 events (its change log), and the
// secondary rejoins from its own state with the events since, while four
// clients write; each op is one rejoin, from the secondary's dial to both
// servers mirrored (ns/op counts from the MSL's return, so it adds the
// wait for that dial, up to RedialInterval).
func BenchmarkResyncLog(b *testing.B) {
	for _, kind := range []string{"memlan", "udp"} {
		for _, events := range []int{1000, 100000} {
			b.Run(fmt.Sprintf("%s/%dk", kind, events/1000), func(b *testing.B) {
				p := newBenchPair(b, kind, filledKV(1<<20), 4+16)
				defer p.close()
				sb := startBenchServer(b, p.net, peerNode, p.a.link.Node(), mirror.RoleSecondary, mirrortest.NewKV())
				defer sb.close()
				if !waitUntil(time.Minute, func() bool { return mirroredBoth(p.a, sb) }) {
					b.Fatal("not mirrored")
				}
				load := startLoad(p.cls[:4], time.Millisecond)
				bulk := p.cls[4:]
				var total, longest, wall time.Duration
				reqs := int64(0)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					sb.gate.Store(true)
					sb.cutMSL()
					if !waitUntil(10*time.Second, func() bool {
						return p.a.srv.Status().Peer == mirror.PeerNone && sb.srv.Status().Role == mirror.RoleDeactivated
					}) {
						b.Fatalf("the MSL did not fail: A %+v, B %+v", p.a.srv.Status(), sb.srv.Status())
					}
					from := p.a.srv.Status().Applied
					fill(b, bulk, events)
					before := sb.srv.Stats()
					load.mark()
					marked := time.Now()
					n0 := load.done.Load()
					sb.dialed.Store(0)
					b.StartTimer()
					sb.gate.Store(false)
					// Timed from B's next dial, which comes within
					// RedialInterval (250 ms) of the gate opening.
					if !waitUntil(5*time.Minute, func() bool { return mirroredBoth(p.a, sb) }) {
						b.Fatalf("not mirrored: A %+v, B %+v", p.a.srv.Status(), sb.srv.Status())
					}
					b.StopTimer()
					d := time.Since(time.Unix(0, sb.dialed.Load()))
					total += d
					longest = max(longest, load.window())
					reqs += load.done.Load() - n0
					wall += time.Since(marked)
					if s := sb.srv.Stats(); s.Resumes == before.Resumes || s.Images != before.Images {
						b.Fatalf("B did not resume from its state (%d events behind): %+v", p.a.srv.Status().Applied-from, s)
					}
					b.StartTimer()
				}
				b.StopTimer()
				load.end()
				report(b, total, longest, reqs, wall, load.failed.Load())
			})
		}
	}
}

// fill sends n puts through the clients, as fast as they go.
func fill(b *testing.B, cls []*mirror.Client, n int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for i, c := range cls {
		wg.Go(func() {
			for j := next.Add(1); j <= int64(n); j = next.Add(1) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.Do(ctx, mirrortest.Put(fmt.Sprint("bulk", i, ".", j%64), "x"))
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
