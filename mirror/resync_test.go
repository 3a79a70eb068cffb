package mirror_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// A secondary that deactivated when only the MSL failed rejoins from its
// own state: the primary sends the events since (its change log), not
// the whole image, and the secondary can then take over with every
// write.
func TestRejoinResumesFromChangeLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("before", "1"), time.Second)
		imagesBefore := p.A.Stats().Images
		p.CutMSL()
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.B.Status().Role == mirror.RoleDeactivated }) {
			t.Fatalf("B %+v, want deactivated", p.B.Status())
		}
		for i := range 50 {
			do(t, c, mirrortest.Put(fmt.Sprint("alone", i), "x"), time.Second)
		}
		p.HealMSL()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		if a, b := p.A.Stats(), p.B.Stats(); a.Images != imagesBefore || b.Resumes != 1 {
			t.Fatalf("rejoin sent an image or did not resume: A %+v, B %+v", a, b)
		}
		p.Crash(p.A)
		for i := range 50 {
			if st, v := do(t, c, mirrortest.Get(fmt.Sprint("alone", i)), 5*time.Second); st != mirrortest.StatusOK || v != "x" {
				t.Fatalf("alone%d = %d %q after takeover", i, st, v)
			}
		}
	})
}

// When the change log no longer reaches back to the secondary's state,
// it gets the whole image instead.
func TestRejoinPastChangeLogGetsImage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Server: func(c *mirror.Config) { c.MaxLogBytes = 200 }})
		c := p.Clients[0]
		p.CutMSL()
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.B.Status().Role == mirror.RoleDeactivated }) {
			t.Fatalf("B %+v, want deactivated", p.B.Status())
		}
		for i := range 20 {
			do(t, c, mirrortest.Put(fmt.Sprint("k", i), "v"), time.Second)
		}
		imagesBefore := p.A.Stats().Images
		p.HealMSL()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		if a, b := p.A.Stats(), p.B.Stats(); a.Images != imagesBefore+1 || b.Resumes != 0 {
			t.Fatalf("want an image: A %+v, B %+v", a, b)
		}
		if a, b := p.A.Status(), p.B.Status(); a.Applied != b.Applied {
			t.Fatalf("applied: A %d, B %d", a.Applied, b.Applied)
		}
	})
}

// A restarted secondary joins with an empty engine while clients keep
// writing: it receives the image and the events since while the primary
// answers, and no request waits longer than MaxResyncPause.
func TestJoinUnderLoadPauseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 4})
		// A large image: 2,000 keys of 200 bytes.
		big := string(make([]byte, 200))
		for i := range 2000 {
			do(t, p.Clients[i%4], mirrortest.Put(fmt.Sprint("big", i), big), time.Second)
		}
		// Replace B by a fresh server with an empty engine.
		p.B.Server.Close()
		p.Crash(p.B)
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.A.Status().Peer == mirror.PeerNone }) {
			t.Fatal("A never noticed B had gone")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			mu       sync.Mutex
			longest  time.Duration
			requests int
			wg       sync.WaitGroup
		)
		for i, c := range p.Clients {
			wg.Go(func() {
				for j := 0; ctx.Err() == nil; j++ {
					start := time.Now()
					rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := c.Do(rctx, mirrortest.Put(fmt.Sprint("load", i), fmt.Sprint(j)))
					rcancel()
					if err != nil {
						return
					}
					mu.Lock()
					longest = max(longest, time.Since(start))
					requests++
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		// A slow MSL: the image takes many round trips, and the events
		// ordered meanwhile pile up behind it.
		p.MSLSeg.SetImpairments(memlan.Impairments{Delay: 5 * time.Millisecond})
		b2 := p.StartServer("B2", mirrortest.Node(3), p.A.Node, mirror.RoleSecondary)
		// A's peer address is B's; B2 dials A, which is all joining needs.
		if !mirrortest.WaitFor(30*time.Second, func() bool {
			return p.A.Status().Peer == mirror.PeerMirrored && b2.Status().Peer == mirror.PeerMirrored
		}) {
			cancel()
			wg.Wait()
			t.Fatalf("B2 never mirrored: A %+v, B2 %+v", p.A.Status(), b2.Status())
		}
		time.Sleep(200 * time.Millisecond)
		cancel()
		wg.Wait()
		if requests < 50 {
			t.Fatalf("only %d requests during the join", requests)
		}
		if longest > mirror.DefaultMaxResyncPause {
			t.Fatalf("a client waited %v during the join, want at most %v", longest, mirror.DefaultMaxResyncPause)
		}
		t.Logf("%d requests during the join, longest %v; B2 %+v", requests, longest, b2.Stats())
		// Events ordered for requests whose clients gave up at cancel
		// may still be on their way to B2.
		if !mirrortest.WaitFor(time.Second, func() bool { return p.A.Status().Applied == b2.Status().Applied }) {
			t.Fatalf("applied: A %d, B2 %d", p.A.Status().Applied, b2.Status().Applied)
		}
	})
}
