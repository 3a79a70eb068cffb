package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
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

// Addresses of the demo network.
const (
	lanNet      ipx.Network = 0x00000001
	internalNet ipx.Network = 0x00C0FFEE
	mslSocket   ipx.Socket  = 0x4B00
)

var (
	internalNode = ipx.Node{0, 0, 0, 0, 0, 1}
	mslKey       = []byte("mirrordemo MSL key, 32 bytes....")
)

// mslSPX configures the MSL's SPX connections. A server closes a failed
// MSL and must not wait there for a dead peer to acknowledge: Close
// returns at once. Each MSL message is answered at once (an event by its
// ack, a heartbeat by the next), so the answers carry SPX's acks.
var mslSPX = spx.Config{Linger: -1, PiggybackAcks: true}

// Timeouts of the setup phases; the demo gives up past them.
const (
	setupTimeout   = 5 * time.Second
	requestTimeout = 5 * time.Second
)

// console writes lines from several goroutines, each prefixed with the
// time since the demo started and who speaks.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (c *console) printf(who, format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "[%6.3fs] %-6s %s\n", time.Since(c.start).Seconds(), who, fmt.Sprintf(format, a...))
}

// logWriter is an io.Writer for a slog handler that sends each line to
// the console under a name.
type logWriter struct {
	c   *console
	who string
	// mute silences a crashed server: its goroutines still run in this
	// process, but a crashed machine's console is seen by no one.
	mute *atomic.Bool
}

func (w logWriter) Write(p []byte) (int, error) {
	if w.mute.Load() {
		return len(p), nil
	}
	for line := range bytes.Lines(p) {
		w.c.printf(w.who, "%s", bytes.TrimRight(line, "\n"))
	}
	return len(p), nil
}

// transport attaches stacks to the demo's LAN.
type transport interface {
	// attach returns a link for a new station; node is a hint the
	// tunnel ignores (its server assigns nodes).
	attach(ctx context.Context, node ipx.Node) (ipx.Link, error)
	// crash makes l fall silent at once, as a powered-off machine does.
	crash(l ipx.Link)
	describe() string
	close()
}

type memlanTransport struct{ seg *memlan.Segment }

func (m memlanTransport) attach(_ context.Context, node ipx.Node) (ipx.Link, error) {
	return m.seg.Attach(node)
}
func (memlanTransport) crash(l ipx.Link) { l.(*memlan.Link).Crash() }
func (memlanTransport) describe() string { return "an in-memory LAN (memlan)" }
func (memlanTransport) close()           {}

type udpTransport struct{ t *routedtunnel.Tunnel }

func (u udpTransport) attach(ctx context.Context, _ ipx.Node) (ipx.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	return udp.Dial(ctx, u.t.Addr(), udp.Config{})
}

// crash closes the tunnel socket: the DOSBox protocol has no goodbye, so
// the relay and the peers hear nothing more, as from a crashed machine.
func (udpTransport) crash(l ipx.Link) { l.Close() }
func (u udpTransport) describe() string {
	return "IPX over UDP, a loopback tunnel at " + u.t.Addr()
}
func (u udpTransport) close() { u.t.Close() }

// station is one stack on the LAN.
type station struct {
	name   string
	stack  *ipx.Stack
	link   ipx.Link
	router *rip.Router
}

// server is one server of the pair.
type server struct {
	station
	kv   *mirrortest.KV
	srv  *mirror.Server
	mute atomic.Bool
}

type demo struct {
	o      options
	con    *console
	tr     transport
	a, b   *server
	client station
	// One mirror.Client per worker: each keeps one request going, so
	// its request ids reach the pair in order.
	cls  []*mirror.Client
	addr ipx.Addr
}

// newDemo builds the network, starts the pair and the client, and waits
// until the pair is mirrored and the client has a route to it. On error
// the returned demo, if any, holds what was started.
func newDemo(ctx context.Context, o options, w io.Writer) (*demo, error) {
	d := &demo{o: o, con: &console{w: w, start: time.Now()},
		addr: ipx.Addr{Net: internalNet, Node: internalNode, Socket: mirror.DefaultSocket}}
	if o.memlan {
		d.tr = memlanTransport{memlan.NewSegment(memlan.Config{Seed: 1})}
	} else {
		t, err := routedtunnel.Listen("127.0.0.1:0", lanNet)
		if err != nil {
			return nil, fmt.Errorf("tunnel: %w", err)
		}
		d.tr = udpTransport{t}
	}
	d.say("network: %s, LAN network %v; the pair serves %v", d.tr.describe(), lanNet, d.addr)
	var err error
	if d.a, err = d.station("A", ipx.Node{2, 0, 0, 0, 0, 1}); err != nil {
		return d, err
	}
	if d.b, err = d.station("B", ipx.Node{2, 0, 0, 0, 0, 2}); err != nil {
		return d, err
	}
	if err := d.startServer(d.a, d.b, mirror.RolePrimary); err != nil {
		return d, err
	}
	if err := d.startServer(d.b, d.a, mirror.RoleSecondary); err != nil {
		return d, err
	}
	if !waitFor(ctx, setupTimeout, func() bool {
		return d.a.srv.Status().Peer == mirror.PeerMirrored && d.b.srv.Status().Peer == mirror.PeerMirrored
	}) {
		return d, fmt.Errorf("the pair did not mirror within %v", setupTimeout)
	}
	d.say("A is primary and B secondary, mirrored over an SPX MSL")

	// The client starts once A advertises, so that its first RIP
	// request learns the route.
	if err := d.addStation(&d.client, "client", ipx.Node{2, 0, 0, 0, 0, 0x10}); err != nil {
		return d, err
	}
	if d.client.router, err = rip.NewRouter(d.client.stack, rip.Config{ListenOnly: true}); err != nil {
		return d, fmt.Errorf("client router: %w", err)
	}
	if !waitFor(ctx, setupTimeout, func() bool {
		_, ok := d.client.router.Table().Lookup(internalNet)
		return ok
	}) {
		return d, fmt.Errorf("the client learnt no route to %v within %v", internalNet, setupTimeout)
	}
	for range o.workers {
		cl, err := mirror.NewClient(mirror.ClientConfig{Stack: d.client.stack, Server: d.addr})
		if err != nil {
			return d, err
		}
		d.cls = append(d.cls, cl)
	}
	return d, nil
}

func (d *demo) say(format string, a ...any) { d.con.printf("demo", format, a...) }

// station returns a server's station on the LAN.
func (d *demo) station(name string, node ipx.Node) (*server, error) {
	s := &server{kv: mirrortest.NewKV()}
	return s, d.addStation(&s.station, name, node)
}

func (d *demo) addStation(s *station, name string, node ipx.Node) error {
	s.name = name
	var err error
	if s.stack, err = ipx.NewStack(ipx.StackConfig{}); err != nil {
		return err
	}
	ctx := context.Background()
	if s.link, err = d.tr.attach(ctx, node); err != nil {
		return fmt.Errorf("%s: attach: %w", name, err)
	}
	if _, err := s.stack.AddLink(s.link, lanNet); err != nil {
		s.link.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// startServer starts s as one server of the pair with peer as the other,
// as mirrortest.Pair does, with the MSL over the LAN.
func (d *demo) startServer(s, peer *server, start mirror.Role) error {
	st := s.stack
	if _, err := st.AddLinkConfig(ipx.NewInternalLink(internalNode), ipx.LinkConfig{Network: internalNet, Shared: true}); err != nil {
		return fmt.Errorf("%s: internal link: %w", s.name, err)
	}
	var err error
	s.router, err = rip.NewRouter(st, rip.Config{
		Shared: map[ipx.Network]rip.SharedState{internalNet: rip.SharedStandby},
	})
	if err != nil {
		return fmt.Errorf("%s: router: %w", s.name, err)
	}
	ln, err := spx.ListenConfig(st, mslSocket, mslSPX)
	if err != nil {
		return fmt.Errorf("%s: MSL listener: %w", s.name, err)
	}
	peerNode := peer.link.Node()
	peerMSL := ipx.Addr{Net: lanNet, Node: peerNode, Socket: mslSocket}
	log := slog.New(slog.NewTextHandler(logWriter{d.con, s.name, &s.mute}, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the console stamps each line
			}
			return a
		},
	}))
	s.srv, err = mirror.NewServer(mirror.Config{
		Stack: st, Router: s.router, Engine: s.kv, EngineVersion: "kv1",
		Network: internalNet, Node: internalNode, Start: start, Key: mslKey,
		Peer:     ipx.Addr{Net: lanNet, Node: peerNode},
		Listener: ln,
		Dial: func(ctx context.Context) (net.Conn, error) {
			return spx.DialConfig(ctx, st, peerMSL, mslSPX)
		},
		Logger: log,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("%s: %w", s.name, err)
	}
	d.say("%s started as %v at LAN node %v", s.name, start, s.link.Node())
	return nil
}

// close stops everything that was started, the client first.
func (d *demo) close() {
	for _, cl := range d.cls {
		cl.Close()
	}
	if d.client.router != nil {
		d.client.router.Close()
	}
	if d.client.stack != nil {
		d.client.stack.Close()
	}
	for _, s := range []*server{d.a, d.b} {
		if s == nil {
			continue
		}
		if s.srv != nil {
			s.srv.Close()
		}
		if s.router != nil {
			s.router.Close()
		}
		if s.stack != nil {
			s.stack.Close()
		}
	}
	if d.tr != nil {
		d.tr.close()
	}
}

// waitFor polls cond every 10 ms until it holds, timeout passes or ctx
// ends; it reports whether cond held.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// result is what one worker saw.
type result struct {
	requests  int
	updates   int // acknowledged puts and CASes
	acked     map[string]string
	maxPause  time.Duration
	pauseAt   time.Duration // when the longest request started, since the workload began
	pauseWhat string
	failures  []string
}

// worker runs puts, gets and CASes on its own keys until stop, checking
// each reply against what it saw acknowledged, and records every
// acknowledged update.
func (d *demo) worker(ctx context.Context, w int, began, stop time.Time) *result {
	r := &result{acked: make(map[string]string)}
	key := func(i int) string { return fmt.Sprintf("w%d-k%d", w, i%d.o.keys) }
	ctr := fmt.Sprintf("w%d-counter", w)
	n := 0 // the counter's value, as acknowledged
	fail := func(format string, a ...any) {
		if len(r.failures) < 10 {
			r.failures = append(r.failures, fmt.Sprintf("worker %d: ", w)+fmt.Sprintf(format, a...))
		}
	}
	for i := 0; time.Now().Before(stop) && ctx.Err() == nil && len(r.failures) == 0; i++ {
		var req []byte
		var what string
		switch i % 3 {
		case 0:
			what = "put " + key(i/3) + " v" + strconv.Itoa(i)
			req = mirrortest.Put(key(i/3), "v"+strconv.Itoa(i))
		case 1:
			what = "get " + key(i/3)
			req = mirrortest.Get(key(i / 3))
		case 2:
			what = fmt.Sprintf("cas %s %d %d", ctr, n, n+1)
			req = mirrortest.CAS(ctr, strconv.Itoa(n), strconv.Itoa(n+1))
			if n == 0 {
				req = mirrortest.CAS(ctr, "", "1")
			}
		}
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		reply, err := d.cls[w].Do(rctx, req)
		cancel()
		if dt := time.Since(t0); dt > r.maxPause {
			r.maxPause, r.pauseAt, r.pauseWhat = dt, t0.Sub(began), what
		}
		r.requests++
		if err != nil {
			fail("%s: %v", what, err)
			break
		}
		status, value, err := mirrortest.ParseReply(reply)
		if err != nil {
			fail("%s: %v", what, err)
			break
		}
		switch i % 3 {
		case 0:
			if status != mirrortest.StatusOK {
				fail("%s: status %d", what, status)
			}
			r.acked[key(i/3)] = "v" + strconv.Itoa(i)
			r.updates++
		case 1:
			want, ok := r.acked[key(i/3)]
			if !ok && status != mirrortest.StatusNotFound || ok && (status != mirrortest.StatusOK || value != want) {
				fail("%s: got status %d %q, want %q", what, status, value, want)
			}
		case 2:
			if status != mirrortest.StatusOK {
				fail("%s: status %d, value %q: the counter moved without us", what, status, value)
				break
			}
			n++
			r.acked[ctr] = strconv.Itoa(n)
			r.updates++
		}
	}
	return r
}

// run runs the workload, crashes A partway, and checks the outcome.
func (d *demo) run(ctx context.Context) bool {
	d.say("workload: %d workers, each putting, getting and compare-and-setting its keys, for %v; A crashes after %v",
		d.o.workers, d.o.duration, d.o.killAfter)
	began := time.Now()
	stop := began.Add(d.o.duration)
	results := make([]*result, d.o.workers)
	var wg sync.WaitGroup
	for w := range d.o.workers {
		wg.Go(func() { results[w] = d.worker(ctx, w, began, stop) })
	}
	kill := time.NewTimer(d.o.killAfter)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var crashedAt time.Duration
	select {
	case <-kill.C:
		crashedAt = time.Since(began)
		d.say("crashing A, the primary: its link falls silent; it withdraws no route and tells no one (A's console goes dark too)")
		d.a.mute.Store(true)
		d.tr.crash(d.a.link)
	case <-done:
	}
	<-done
	kill.Stop()

	ok := true
	var total, updates int
	var longest result
	acked := make(map[string]string)
	for _, r := range results {
		total += r.requests
		updates += r.updates
		if r.maxPause > longest.maxPause {
			longest = *r
		}
		for k, v := range r.acked {
			acked[k] = v
		}
		for _, f := range r.failures {
			d.say("FAILED: %s", f)
			ok = false
		}
	}
	var cs mirror.ClientStats
	for _, cl := range d.cls {
		s := cl.Stats()
		cs.Requests += s.Requests
		cs.Sent += s.Sent
		cs.Replies += s.Replies
		cs.Stale += s.Stale
		cs.Notices += s.Notices
	}
	d.say("requests: %d in %v (%d acknowledged updates), %d packets sent, %d takeover notices heard",
		total, d.o.duration, updates, cs.Sent, cs.Notices)
	d.say("longest pause the client saw: %v, for %q sent at +%.3fs (A crashed at +%.3fs)",
		longest.maxPause.Round(time.Millisecond), longest.pauseWhat, longest.pauseAt.Seconds(), crashedAt.Seconds())
	if d.o.verbose {
		d.say("A: %+v", d.a.srv.Stats())
		d.say("B: %+v", d.b.srv.Stats())
		d.say("client: %+v", cs)
	}
	if crashedAt == 0 {
		d.say("FAILED: the workload ended before A crashed")
		ok = false
	}
	if st := d.b.srv.Status(); st.Role != mirror.RolePrimary {
		d.say("FAILED: B is %v, not primary", st.Role)
		ok = false
	} else {
		d.say("B is primary now, epoch %d", st.Epoch)
	}
	if !d.verify(ctx, acked) {
		ok = false
	}
	return ok
}

// verify reads every key back from the pair, now B, and compares it with
// what the client saw acknowledged.
func (d *demo) verify(ctx context.Context, acked map[string]string) bool {
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		reply, err := d.cls[0].Do(rctx, mirrortest.Get(k))
		cancel()
		var status byte
		var value string
		if err == nil {
			status, value, err = mirrortest.ParseReply(reply)
		}
		switch {
		case err != nil:
			d.say("FAILED: get %s: %v", k, err)
		case status != mirrortest.StatusOK || value != acked[k]:
			d.say("FAILED: %s is %q (status %d), acknowledged as %q", k, value, status, acked[k])
		default:
			continue
		}
		if bad++; bad == 10 {
			break
		}
	}
	if bad > 0 {
		return false
	}
	d.say("check: all %d keys read back from B hold their last acknowledged value: every acknowledged update survived", len(keys))
	return true
}
