package spx

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// sendAndExit is a program that writes size bytes, closes the connection
// and exits (its Stack closes), as spxcat does. It returns the sender's
// first error and what the receiver read.
func sendAndExit(t *testing.T, seed uint64, size int, cfg Config, im memlan.Impairments) (got, want []byte, sendErr error) {
	n := newTestNet(t, memlan.Config{Seed: seed})
	c, s, _ := n.connect(t, cfg, cfg)
	n.seg.SetImpairments(im)
	want = make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 2))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	recv := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(s)
		s.Close()
		recv <- b
	}()
	_, sendErr = c.Write(want)
	if err := c.Close(); sendErr == nil {
		sendErr = err
	}
	n.a.Close() // the program exits
	return <-recv, want, sendErr
}

// -close.runs sets how many runs TestCloseDelivers makes; 0 means 200,
// 20 under -race (where 200 take about a minute), 10 with -short.
var closeRuns = flag.Int("close.runs", 0, "runs of TestCloseDelivers (0: by mode)")

// TestCloseDelivers: every run of a write, close and exit across 5 %
// loss ends with the data delivered byte-exact, or an error at the
// sender.
func TestCloseDelivers(t *testing.T) {
	runs, size := 200, 2<<20
	switch {
	case *closeRuns > 0:
		runs = *closeRuns
	case testing.Short():
		runs = 10
	case raceEnabled:
		runs = 20
	}
	var failed int
	for seed := range uint64(runs) {
		synctest.Test(t, func(t *testing.T) {
			got, want, err := sendAndExit(t, seed+1, size, Config{Window: 64}, memlan.Impairments{Loss: 0.05, Delay: time.Millisecond})
			switch {
			case err != nil:
				failed++
				t.Logf("seed %d: sender reports %v; receiver got %d of %d bytes", seed+1, err, len(got), len(want))
			case !bytes.Equal(got, want):
				t.Errorf("seed %d: sender reports success, receiver got %d of %d bytes", seed+1, len(got), len(want))
			}
		})
	}
	t.Logf("%d runs of %s at 5%% loss: %d reported an error at the sender", runs, byteSize(size), failed)
}

// TestCloseDeliversImpaired is TestCloseDelivers with 256 KB across 20 %
// loss, duplication, reordering and jitter, plain SPX and SPX II in turn.
// A sender that cannot know its data arrived (its acknowledgements lost)
// may report an error though it did; none did in 1,000 runs.
func TestCloseDeliversImpaired(t *testing.T) {
	runs := 100
	switch {
	case testing.Short():
		runs = 10
	case raceEnabled:
		runs = 20
	}
	var failed int
	for seed := range uint64(runs) {
		synctest.Test(t, func(t *testing.T) {
			cfg := Config{Window: 64, PlainSPX: seed%2 == 0}
			im := memlan.Impairments{Loss: 0.2, Duplicate: 0.05, Reorder: 0.05, Delay: time.Millisecond, Jitter: 20 * time.Millisecond}
			got, want, err := sendAndExit(t, seed+1000, 256<<10, cfg, im)
			switch {
			case err != nil:
				failed++
				t.Logf("seed %d: sender reports %v; receiver got %d of %d bytes", seed+1000, err, len(got), len(want))
			case !bytes.Equal(got, want):
				t.Errorf("seed %d: sender reports success, receiver got %d of %d bytes", seed+1000, len(got), len(want))
			}
		})
	}
	t.Logf("%d runs: %d reported an error at the sender", runs, failed)
}

// TestCloseReportsLoss: a sender whose peer vanishes mid-transfer gets an
// error wrapping ErrNotDelivered from Close, within Config.Linger.
func TestCloseReportsLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 3})
		cfg := Config{Window: 16, Linger: 10 * time.Second}
		c, _, _ := n.connect(t, cfg, cfg)
		n.b.Close() // the receiver's program dies
		synctest.Wait()
		start := time.Now()
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write(make([]byte, 64<<10)) // queued, or stopped by the deadline
		err := c.Close()
		if !errors.Is(err, ErrNotDelivered) {
			t.Fatalf("Close = %v, want ErrNotDelivered", err)
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "close" {
			t.Errorf("Close error %v is not a close *net.OpError", err)
		}
		if el := time.Since(start); el > cfg.Linger+time.Second {
			t.Errorf("Close took %v, linger %v", el, cfg.Linger)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %v, want net.ErrClosed", err)
		}
	})
}

// TestCloseLingerExpires: a peer that never reads keeps its window shut;
// Close gives up after Config.Linger and says the data was not delivered.
func TestCloseLingerExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 4})
		cfg := Config{Window: 8, Linger: 5 * time.Second}
		c, s, _ := n.connect(t, cfg, cfg)
		defer s.Close()
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(make([]byte, 64<<10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write = %v, want a deadline error once both buffers are full", err)
		}
		start := time.Now()
		err := c.Close()
		if !errors.Is(err, ErrNotDelivered) {
			t.Fatalf("Close = %v, want ErrNotDelivered", err)
		}
		if el := time.Since(start); el != cfg.Linger {
			t.Errorf("Close took %v, want the linger time %v", el, cfg.Linger)
		}
	})
}

// TestCloseNegativeLinger: with a negative Linger, Close returns at once
// and the data is still delivered in the background.
func TestCloseNegativeLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 5})
		cfg := Config{Linger: -1}
		c, s, _ := n.connect(t, cfg, cfg)
		want := bytes.Repeat([]byte("x"), 100<<10)
		go func() {
			c.Write(want)
			start := time.Now()
			if err := c.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if el := time.Since(start); el != 0 {
				t.Errorf("Close waited %v", el)
			}
		}()
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read %d bytes, %v; want %d", len(got), err, len(want))
		}
		s.Close()
	})
}

// TestFlush: Flush returns once the peer acknowledged what was written,
// gives up with ctx, and reports data a vanished peer never acknowledged.
func TestFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 6})
		cfg := Config{Window: 8}
		c, s, _ := n.connect(t, cfg, cfg)
		if _, err := c.Write(make([]byte, 2000)); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(context.Background()); err != nil {
			t.Fatalf("Flush = %v", err)
		}
		c.mu.Lock()
		una, end := c.ep.sndUna, c.ep.sendEnd()
		c.mu.Unlock()
		if una != end {
			t.Errorf("Flush returned with %d packets unacknowledged", end-una)
		}

		// The peer does not read: both buffers fill and Flush waits.
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write(make([]byte, 64<<10))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Flush = %v, want context.DeadlineExceeded", err)
		}

		n.b.Close() // the peer vanishes with our data unread
		if err := c.Flush(context.Background()); !errors.Is(err, ErrNotDelivered) {
			t.Fatalf("Flush = %v, want ErrNotDelivered", err)
		}
		_ = s
		if err := c.Close(); !errors.Is(err, ErrNotDelivered) {
			t.Errorf("Close = %v, want ErrNotDelivered", err)
		}
		if err := c.Flush(context.Background()); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Flush after Close = %v, want net.ErrClosed", err)
		}
	})
}

// -close.udpruns sets how many runs TestCloseDeliversUDP makes; the
// issue's 200 take minutes of real time.
var closeUDPRuns = flag.Int("close.udpruns", 1, "runs of TestCloseDeliversUDP")

// lossyLink drops a fraction of the packets a link sends.
type lossyLink struct {
	ipx.Link
	mu   sync.Mutex
	r    *rand.Rand
	loss float64
}

func (l *lossyLink) WritePacket(p []byte, dst ipx.Node) error {
	l.mu.Lock()
	drop := l.r.Float64() < l.loss
	l.mu.Unlock()
	if drop {
		return nil
	}
	return l.Link.WritePacket(p, dst)
}

// TestCloseDeliversUDP is TestCloseDelivers over the UDP tunnel on
// loopback, 5 % of the packets each end sends dropped.
func TestCloseDeliversUDP(t *testing.T) {
	if testing.Short() {
		t.Skip("real time: seconds per run")
	}
	runs, size := *closeUDPRuns, 2<<20
	stack := func(srv *udp.Server, seed uint64) *ipx.Stack {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddLink(&lossyLink{Link: l, r: rand.New(rand.NewPCG(seed, 3)), loss: 0.05}, 0); err != nil {
			t.Fatal(err)
		}
		return s
	}
	var failed int
	for seed := range uint64(runs) {
		// A server per run: one refuses a host's clients after 64.
		srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve() }()
		sa, sb := stack(srv, 2*seed+1), stack(srv, 2*seed+2)
		cfg := Config{Window: 64}
		ln, err := ListenConfig(sb, 0, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, size)
		r := rand.New(rand.NewPCG(seed, 2))
		for i := range want {
			want[i] = byte(r.Uint32())
		}
		recv := make(chan []byte, 1)
		go func() {
			s, err := ln.AcceptSPX()
			if err != nil {
				recv <- nil
				return
			}
			b, _ := io.ReadAll(s)
			s.Close()
			recv <- b
		}()
		start := time.Now()
		c, err := DialConfig(context.Background(), sa, ln.Addr().(ipx.Addr), cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Write(want)
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		sa.Close() // the program exits
		got := <-recv
		ln.Close()
		sb.Close()
		srv.Close()
		<-done
		switch {
		case err != nil:
			failed++
			t.Logf("run %d: sender reports %v; receiver got %d of %d bytes", seed, err, len(got), len(want))
		case !bytes.Equal(got, want):
			t.Errorf("run %d: sender reports success, receiver got %d of %d bytes", seed, len(got), len(want))
		}
		t.Logf("run %d: %v", seed, time.Since(start))
	}
	t.Logf("%d runs of %s at 5%% loss over the tunnel: %d reported an error at the sender", runs, byteSize(size), failed)
}

// TestRelistenAfterPeerClose: once the application has closed a
// connection the peer ended, and its listener, the socket is free at
// once, not after the verify interval.
func TestRelistenAfterPeerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 8})
		c, s, ln := n.connect(t, Config{}, Config{})
		if _, err := c.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(s); err != nil || string(b) != "bye" {
			t.Fatalf("read %q, %v", b, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ln.Close()
		ln2, err := Listen(n.b, 0x5000)
		if err != nil {
			t.Fatalf("listen again at once: %v", err)
		}
		defer ln2.Close()

		// The other way round: the dialled end's dynamic socket, too,
		// closes with the connection, and nothing keeps the Stack
		// (no timer, no table entry).
		go func() {
			s, err := ln2.AcceptSPX()
			if err != nil {
				return
			}
			s.Write([]byte("bye"))
			s.Close()
		}()
		c, err = Dial(context.Background(), n.a, ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000})
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "bye" {
			t.Fatalf("read %q, %v", b, err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		m := c.m
		m.mu.Lock()
		conns, closed := len(m.conns), m.pcClosed
		m.mu.Unlock()
		if conns != 0 || !closed {
			t.Errorf("after Close: %d connections, socket closed %v", conns, closed)
		}
	})
}

// TestDialNoRoute: Dial to a network with no route fails at once with
// an error wrapping ipx.ErrNoRoute, not when ctx ends.
func TestDialNoRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := Dial(ctx, n.a, ipx.Addr{Net: 99, Node: n.nodeB, Socket: 0x5000})
		if !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("Dial = %v, want ipx.ErrNoRoute", err)
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("Dial took %v", el)
		}
	})
}
