package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// errCut is what a cutConn's reader sees at its cut.
var errCut = errors.New("test: MSL cut here")

// cutter cuts a server's MSL connections: the next ones it dials each
// carry, from the primary, only the next budget of bytes; then the
// connection is closed under the reader, as a failing link would be.
type cutter struct {
	mu      sync.Mutex
	budgets []int
	cut     atomic.Int64 // connections cut
	ended   atomic.Int64 // connections given a budget that ended, cut or closed
}

func (c *cutter) set(budgets []int) {
	c.mu.Lock()
	c.budgets = budgets
	c.mu.Unlock()
}

func (c *cutter) left() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.budgets)
}

func (c *cutter) wrap(dial func(context.Context) (net.Conn, error)) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		conn, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.budgets) == 0 {
			return conn, nil
		}
		b := c.budgets[0]
		c.budgets = c.budgets[1:]
		return &cutConn{Conn: conn, left: b, c: c}, nil
	}
}

type cutConn struct {
	net.Conn
	c    *cutter
	left int
	once sync.Once
}

func (c *cutConn) Read(b []byte) (int, error) {
	if c.left <= 0 {
		c.once.Do(func() {
			c.c.cut.Add(1)
			c.c.ended.Add(1)
			c.Conn.Close()
		})
		return 0, errCut
	}
	n, err := c.Conn.Read(b[:min(len(b), c.left)])
	c.left -= n
	return n, err
}

// Close counts a connection the server closed before its cut: the
// server may end one for its own reasons (its peer went quiet, its send
// queue filled).
func (c *cutConn) Close() error {
	c.once.Do(func() { c.c.ended.Add(1) })
	return c.Conn.Close()
}

// restoreCheck is an Engine that records every failed Restore: the pair
// must only ever restore a whole image.
type restoreCheck struct {
	mirror.Engine
	restores, failed atomic.Int64
}

func (r *restoreCheck) Restore(rd io.Reader) error {
	err := r.Engine.Restore(rd)
	if err != nil {
		r.failed.Add(1)
	} else {
		r.restores.Add(1)
	}
	return err
}

// interruptPair starts a mirrored pair with two clients whose
// secondaries' dials go through cut (a primary running alone dials too,
// looking for another primary: not those), and whose engines go through
// restoreCheck (appended to checks as servers start).
func interruptPair(t *testing.T, cut *cutter, checks *[]*restoreCheck) *mirrortest.Pair {
	var mu sync.Mutex
	return mirrored(t, mirrortest.PairConfig{Clients: 2, Server: func(c *mirror.Config) {
		if c.Start == mirror.RoleSecondary {
			c.Dial = cut.wrap(c.Dial)
		}
		rc := &restoreCheck{Engine: c.Engine}
		c.Engine = rc
		mu.Lock()
		*checks = append(*checks, rc)
		mu.Unlock()
	}})
}

// fractions returns cut points across n bytes: the first bytes (the
// handshake), fractions of n, and the bytes around its end.
func cutPoints(n int) []int {
	pts := []int{0, 1, 40, 100, 200}
	for _, f := range []float64{0.01, 0.1, 0.15, 0.3, 0.5, 0.7, 0.9, 0.99, 1.02, 1.05, 1.1, 1.2} {
		pts = append(pts, int(f*float64(n)))
	}
	for _, d := range []int{-64, -1, 0, 1, 64, 2000} {
		pts = append(pts, n+d)
	}
	return pts
}

// waitRejoined waits until n connections with a budget ended and the pair is
// mirrored again, then checks that both engines hold the same state, that
// of the reference, and that no image was ever restored in part.
func waitRejoined(t *testing.T, p *mirrortest.Pair, cut *cutter, n int, checks []*restoreCheck) {
	t.Helper()
	if !mirrortest.WaitFor(2*time.Minute, func() bool { return cut.left() == 0 && cut.ended.Load() == int64(n) && p.WaitMirrored(0) }) {
		t.Fatalf("not mirrored after the cuts (%d ended, %d left): A %+v, B %+v", cut.ended.Load(), cut.left(), p.A.Status(), p.B.Status())
	}
	if c := cut.cut.Load(); c < int64(n)*3/4 {
		t.Fatalf("only %d of %d connections reached their cut", c, n)
	}
	for _, rc := range checks {
		if n := rc.failed.Load(); n != 0 {
			t.Fatalf("%d restores of a partial image", n)
		}
	}
}

func finishInterrupted(t *testing.T, p *mirrortest.Pair, w *refWorkload) {
	t.Helper()
	w.finish(t, 2*time.Second)
	if !mirrortest.WaitFor(time.Second, func() bool { return p.A.Status().Applied == p.B.Status().Applied }) {
		t.Fatalf("applied: A %d, B %d", p.A.Status().Applied, p.B.Status().Applied)
	}
	w.checkEngine(t, p.A)
	w.checkEngine(t, p.B)
	if da, db := p.A.KV.Data(), p.B.KV.Data(); !maps.Equal(da, db) {
		t.Fatal("engines differ")
	}
}

// Issue 13, bad input: a resynchronisation interrupted at any point
// restarts cleanly. A fresh secondary joins a primary holding a 200 kB
// image while clients write; its MSL connection is cut after 0, 1, 40,
// ... bytes, at fractions of the image and around its end (in the
// handshake, in the image, in the events after it), each time followed by
// a new connection. No image is ever restored in part, nothing panics,
// and the secondary ends holding the primary's state, which is the
// reference's.
func TestImageTransferInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cut := &cutter{}
		var checks []*restoreCheck
		p := interruptPair(t, cut, &checks)
		w := newRefWorkload(5 * time.Second)
		w.preload(t, p.Clients[0], 1000, 200)
		var img bytes.Buffer
		synctest.Wait()
		if err := p.A.KV.Snapshot(&img); err != nil {
			t.Fatal(err)
		}
		w.start(t, p, 10*time.Millisecond)
		p.Kill(p.B)
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.A.Status().Peer == mirror.PeerNone }) {
			t.Fatal("A never noticed B had gone")
		}
		pts := cutPoints(img.Len())
		cut.set(pts)
		p.Restart(p.B)
		waitRejoined(t, p, cut, len(pts), checks)
		finishInterrupted(t, p, w)
		t.Logf("image of %d bytes, cut at %v; B %+v", img.Len(), pts, p.B.Stats())
	})
}

// The same for a rejoin that resumes from the secondary's own state: the
// MSL fails (the secondary deactivates), the clients write on, and when
// it comes back the resume (the events since) is cut at many points.
// Each cut leaves the secondary a prefix of the history to resume from.
func TestResumeInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cut := &cutter{}
		var checks []*restoreCheck
		p := interruptPair(t, cut, &checks)
		w := newRefWorkload(5 * time.Second)
		w.start(t, p, 2*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		p.CutMSL()
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.B.Status().Role == mirror.RoleDeactivated }) {
			t.Fatalf("B %+v, want deactivated", p.B.Status())
		}
		time.Sleep(time.Second)
		lag := p.A.Status().Applied - p.B.Status().Applied
		// Some 60 bytes an event on the wire.
		pts := cutPoints(int(lag) * 60)
		cut.set(pts)
		imagesBefore := p.A.Stats().Images
		p.HealMSL()
		waitRejoined(t, p, cut, len(pts), checks)
		if a, b := p.A.Stats(), p.B.Stats(); a.Images != imagesBefore || b.Resumes < 2 {
			t.Fatalf("want resumes only: A %+v, B %+v", a, b)
		}
		finishInterrupted(t, p, w)
		t.Logf("%d events behind, cut at %v; B %+v", lag, pts, p.B.Stats())
	})
}

// Time-based cuts of the MSL segment itself during image transfers: a
// fresh secondary joins on a slow MSL and the segment is partitioned for
// longer than MSLTimeout after each of many delays, then healed.
func TestImageTransferPartitioned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var checks []*restoreCheck
		p := interruptPair(t, &cutter{}, &checks)
		w := newRefWorkload(5 * time.Second)
		w.preload(t, p.Clients[0], 1000, 200)
		w.start(t, p, 10*time.Millisecond)
		p.MSLSeg.SetImpairments(memlan.Impairments{Delay: 2 * time.Millisecond})
		// With this delay the handshake ends some 15 ms after the
		// restart and the image some 15 ms later.
		ms := []time.Duration{0, 12, 15, 17, 19, 21, 23, 25, 27, 29, 31, 35, 60}
		for i, after := range ms {
			after *= time.Millisecond
			p.Kill(p.B)
			if !mirrortest.WaitFor(5*time.Second, func() bool { return p.A.Status().Peer == mirror.PeerNone }) {
				t.Fatal("A never noticed B had gone")
			}
			b := p.Restart(p.B)
			time.Sleep(after)
			st := b.Status()
			p.CutMSL()
			time.Sleep(2 * mirror.DefaultMSLTimeout)
			p.HealMSL()
			if !p.WaitMirrored(10 * time.Second) {
				t.Fatalf("cut %d after %v: not mirrored: A %+v, B %+v", i, after, p.A.Status(), b.Status())
			}
			if !mirrortest.WaitFor(time.Second, func() bool { return p.A.Status().Applied == b.Status().Applied }) {
				t.Fatalf("applied: A %d, B %d", p.A.Status().Applied, b.Status().Applied)
			}
			t.Logf("cut %v after the restart, at %v/%v applied %d", after, st.Role, st.Peer, st.Applied)
		}
		for _, rc := range checks {
			if n := rc.failed.Load(); n != 0 {
				t.Fatalf("%d restores of a partial image", n)
			}
		}
		finishInterrupted(t, p, w)
	})
}
