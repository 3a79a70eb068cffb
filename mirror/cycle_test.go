package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// refWorkload is a workload whose acknowledged requests have one order
// that matters: each client owns its keys and sends one request at a
// time, so a reference engine fed every reply's request as it comes (in
// any interleaving of the clients) ends in the state the pair must hold,
// and gives each request the reply the pair must have given.
type refWorkload struct {
	deadline time.Duration
	stop     chan struct{}
	halt     sync.Once
	wg       sync.WaitGroup

	mu      sync.Mutex
	ref     *mirrortest.KV
	acked   int
	failed  []string // requests that got no reply within the deadline
	wrong   []string // replies that differ from the reference's
	longest time.Duration
}

// newRefWorkload returns a workload whose requests each get deadline.
func newRefWorkload(deadline time.Duration) *refWorkload {
	return &refWorkload{deadline: deadline, stop: make(chan struct{}), ref: mirrortest.NewKV()}
}

// start starts one goroutine per client of p: puts, compare-and-sets
// and gets on the client's four keys, with a pause of gap between
// requests.
func (w *refWorkload) start(t *testing.T, p *mirrortest.Pair, gap time.Duration) {
	// A test that fails stops the clients too, before its bubble ends.
	t.Cleanup(w.end)
	for i, c := range p.Clients {
		w.wg.Go(func() { w.client(c, i, gap) })
	}
}

// preload writes n keys of size bytes through c, before the clients
// start, so that each image the pair sends takes many MSL round trips.
func (w *refWorkload) preload(t *testing.T, c *mirrortest.Client, n, size int) {
	t.Helper()
	val := string(bytes.Repeat([]byte{'x'}, size))
	for i := range n {
		req := mirrortest.Put(fmt.Sprint("pre", i), val)
		ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
		r, err := c.Do(ctx, req)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		w.acked++
		if want := w.ref.Apply(mirror.Event{Data: req}); !bytes.Equal(r, want) {
			t.Fatalf("preload %d: reply %q, want %q", i, r, want)
		}
		w.mu.Unlock()
	}
}

func (w *refWorkload) client(c *mirrortest.Client, i int, gap time.Duration) {
	last := map[string]string{}
	for j := 0; ; j++ {
		select {
		case <-w.stop:
			return
		default:
		}
		k := fmt.Sprintf("c%d.k%d", i, j%4)
		v := fmt.Sprintf("%d.%d", i, j)
		var req []byte
		switch j % 5 {
		case 0, 1:
			req = mirrortest.Put(k, v)
		case 2, 3:
			// A CAS applied twice (a retry applied again) fails the
			// second time: the reference catches it.
			req = mirrortest.CAS(k, last[k], v)
		default:
			req = mirrortest.Get(k)
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
		r, err := c.Do(ctx, req)
		cancel()
		took := time.Since(start)
		w.mu.Lock()
		if err != nil {
			w.failed = append(w.failed, fmt.Sprintf("client %d request %d (%q) after %v: %v", i, j, req, took, err))
			w.mu.Unlock()
			// The request may or may not have been applied: the
			// reference can no longer say what the pair holds.
			return
		}
		w.acked++
		w.longest = max(w.longest, took)
		want := w.ref.Apply(mirror.Event{Data: req})
		if !bytes.Equal(r, want) {
			w.wrong = append(w.wrong, fmt.Sprintf("client %d request %d (%q): reply %q, reference %q", i, j, req, r, want))
		}
		w.mu.Unlock()
		if st, val, _ := mirrortest.ParseReply(r); st == mirrortest.StatusOK && req[0] != mirrortest.OpGet {
			last[k] = v
		} else if st == mirrortest.StatusMismatch {
			last[k] = val
		}
		time.Sleep(gap)
	}
}

// end stops the clients once each has its reply.
func (w *refWorkload) end() {
	w.halt.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// finish stops the clients, once each has its reply, and checks what
// they saw: no request failed, none waited longer than bound, and every
// reply was the reference's.
func (w *refWorkload) finish(t *testing.T, bound time.Duration) {
	t.Helper()
	w.end()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.failed {
		t.Errorf("request failed: %s", f)
	}
	for _, f := range w.wrong {
		t.Errorf("wrong reply: %s", f)
	}
	if w.longest > bound {
		t.Errorf("a request took %v, want at most %v", w.longest, bound)
	}
}

// checkEngine checks that s's engine holds exactly the reference's state:
// the same pairs, and the same count of applied events (each
// acknowledged request applied once; none that no client saw answered).
func (w *refWorkload) checkEngine(t *testing.T, s *mirrortest.Server) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if got, want := s.KV.Data(), w.ref.Data(); !maps.Equal(got, want) {
		t.Errorf("%s's engine differs from the reference:\n got  %v\n want %v", s.Name, got, want)
	}
	if got, want := s.KV.Applied(), w.ref.Applied(); got != want {
		t.Errorf("%s applied %d events, the reference %d", s.Name, got, want)
	}
}

// waitPeerMirrored waits, on the subscription of s and its Status, until
// s reports mirrored operation; false after timeout.
func waitPeerMirrored(s *mirrortest.Server, sub *mirror.Subscription, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for s.Status().Peer != mirror.PeerMirrored {
		select {
		case <-sub.C:
		case <-deadline:
			return false
		}
	}
	return true
}

func primaryOf(p *mirrortest.Pair) *mirrortest.Server {
	if p.A.Status().Role == mirror.RolePrimary {
		return p.A
	}
	return p.B
}

// cycleBound is the longest a request may wait in TestCrashRestartCycles:
// a takeover (MSLTimeout + ProbeTimeout, 700 ms) and the RIP exchange and
// retry after it. A resynchronisation adds at most MaxResyncPause, and
// never happens during a takeover.
const cycleBound = time.Second

// Issue 13, item 8: in one run with a workload going, crash the primary,
// let the secondary take over, restart the crashed server, let it
// resynchronise, crash the new primary, and so on 20 times. No request
// fails or waits past a takeover, every reply is the reference engine's,
// and the engines end in the reference's state.
func TestCrashRestartCycles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const cycles = 20
		p := mirrored(t, mirrortest.PairConfig{Clients: 3})
		w := newRefWorkload(5 * time.Second)
		// An image of some 200 kB on an MSL with a little delay: each
		// resynchronisation takes many round trips, during which the
		// primary answers alone.
		w.preload(t, p.Clients[0], 1000, 200)
		p.MSLSeg.SetImpairments(memlan.Impairments{Delay: 5 * time.Millisecond})
		w.start(t, p, 5*time.Millisecond)
		for cycle := range cycles {
			// Mirrored operation under load for a while.
			time.Sleep(200 * time.Millisecond)
			old := primaryOf(p)
			next := p.Other(old)
			sub := next.Subscribe(64)
			epoch := old.Status().Epoch
			p.Kill(old)
			// The secondary takes over.
			if !waitRole(next, sub, mirror.RolePrimary, 5*time.Second) {
				t.Fatalf("cycle %d: %s did not take over: %+v", cycle, next.Name, next.Status())
			}
			if st := next.Status(); st.Epoch != epoch+1 {
				t.Fatalf("cycle %d: %s took over under epoch %d, want %d", cycle, next.Name, st.Epoch, epoch+1)
			}
			// The crashed server comes back as a fresh secondary and
			// resynchronises while the clients keep writing.
			back := p.Restart(old)
			bsub := back.Subscribe(64)
			if !waitPeerMirrored(back, bsub, 10*time.Second) || !waitPeerMirrored(next, sub, time.Second) {
				t.Fatalf("cycle %d: not mirrored again: %s %+v, %s %+v", cycle, next.Name, next.Status(), back.Name, back.Status())
			}
			sub.Close()
			bsub.Close()
			if back.Stats().Images != 1 {
				t.Fatalf("cycle %d: %s joined without an image: %+v", cycle, back.Name, back.Stats())
			}
			if st := back.Status(); st.Role != mirror.RoleSecondary || st.Epoch != epoch+1 {
				t.Fatalf("cycle %d: %s after its return: %+v", cycle, back.Name, st)
			}
		}
		time.Sleep(200 * time.Millisecond)
		w.finish(t, cycleBound)
		pr := primaryOf(p)
		if st := pr.Status(); st.Epoch != 1+cycles || pr.Stats().Takeovers != 1 {
			t.Errorf("%s at the end: %+v %+v, want epoch %d after its takeover", pr.Name, st, pr.Stats(), 1+cycles)
		}
		sec := p.Other(pr)
		if !mirrortest.WaitFor(time.Second, func() bool { return sec.Status().Applied == pr.Status().Applied }) {
			t.Fatalf("secondary applied %d, primary %d", sec.Status().Applied, pr.Status().Applied)
		}
		w.checkEngine(t, pr)
		w.checkEngine(t, sec)
		t.Logf("%d cycles: %d requests acknowledged, longest %v", cycles, w.acked, w.longest)
	})
}

// waitRole waits until s has role r, on its subscription and Status.
func waitRole(s *mirrortest.Server, sub *mirror.Subscription, r mirror.Role, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for s.Status().Role != r {
		select {
		case <-sub.C:
		case <-deadline:
			return false
		}
	}
	return true
}
