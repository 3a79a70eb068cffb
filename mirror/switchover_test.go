package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// A planned switchover under load, and back: no client request fails,
// every acknowledged write is there, and the roles and epochs follow.
func TestSwitchoverAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 3})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			mu     sync.Mutex
			last   = map[string]string{}
			failed error
			wg     sync.WaitGroup
		)
		for i, c := range p.Clients {
			wg.Go(func() {
				for j := 0; ctx.Err() == nil; j++ {
					k, v := fmt.Sprint("k", i), fmt.Sprint(j)
					rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := c.Do(rctx, mirrortest.Put(k, v))
					rcancel()
					mu.Lock()
					if err != nil && failed == nil {
						failed = err
					}
					if err == nil {
						last[k] = v
					}
					mu.Unlock()
					if err != nil {
						return
					}
					time.Sleep(3 * time.Millisecond)
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		if err := p.A.Switchover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if a, b := p.A.Status(), p.B.Status(); a.Role != mirror.RoleSecondary || b.Role != mirror.RolePrimary || b.Epoch != 2 || a.Epoch != 2 {
			t.Fatalf("after switchover: A %+v, B %+v", a, b)
		}
		if err := p.A.Switchover(context.Background()); !errors.Is(err, mirror.ErrNotPrimary) {
			t.Fatalf("switchover from the secondary: %v, want ErrNotPrimary", err)
		}
		time.Sleep(100 * time.Millisecond)
		if !p.WaitMirrored(5 * time.Second) {
			t.Fatalf("not mirrored after switchover: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		if err := p.B.Switchover(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
		wg.Wait()
		if failed != nil {
			t.Fatalf("a client request failed: %v", failed)
		}
		if a := p.A.Status(); a.Role != mirror.RolePrimary || a.Epoch != 3 {
			t.Fatalf("after switching back: A %+v", a)
		}
		for k, v := range last {
			if st, got := do(t, p.Clients[0], mirrortest.Get(k), time.Second); st != mirrortest.StatusOK || got != v {
				t.Fatalf("%s = %q, want %q", k, got, v)
			}
		}
		if s := p.A.Stats(); s.Takeovers != 0 {
			t.Fatalf("a switchover counted as a takeover: %+v", s)
		}
	})
}

func TestSwitchoverNeedsMirroredPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrortest.NewPair(t, mirrortest.PairConfig{Alone: true})
		if err := p.A.Switchover(context.Background()); !errors.Is(err, mirror.ErrNoPeer) {
			t.Fatalf("switchover alone: %v, want ErrNoPeer", err)
		}
	})
}

// The new primary crashes the instant a switchover back completes: the
// other server must still take over and reach the clients. It once could
// not: the new primary advertised the taking-over metric until the old
// one's first ack, so a crash in that round trip left the clients' route
// on the taking-over metric, which the next takeover's ties and cannot
// beat, for as long as the dead route lived (minutes).
func TestCrashRightAfterSwitchover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		if err := p.A.Switchover(context.Background()); err != nil {
			t.Fatal(err)
		}
		do(t, c, mirrortest.Put("b", "2"), 5*time.Second)
		if err := p.B.Switchover(context.Background()); err != nil {
			t.Fatal(err)
		}
		p.Crash(p.A)
		if st, v := do(t, c, mirrortest.Get("b"), 5*time.Second); st != mirrortest.StatusOK || v != "2" {
			t.Fatalf("b = %d %q", st, v)
		}
		if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 4 {
			t.Fatalf("B: %+v", b)
		}
	})
}
