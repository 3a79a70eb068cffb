package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/ipxarbiter"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

func serverID(s *mirrortest.Server) string {
	return mirror.ServerID(ipx.Addr{Net: mirrortest.LANNet, Node: s.Node})
}

// neverPrimary fails the test if sub reports s becoming primary.
func neverPrimary(t *testing.T, name string, sub *mirror.Subscription) {
	t.Helper()
	for len(sub.C) > 0 {
		if ch := <-sub.C; ch.Role == mirror.RolePrimary {
			t.Fatalf("%s became primary: %+v", name, ch)
		}
	}
}

func TestArbiterTakeoverAfterCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Arbiter: true})
		c := p.Clients[0]
		if g, _ := p.Arbiter.Grant(mirrortest.InternalNet); g != (ipxarbiter.Grant{Epoch: 1, Holder: serverID(p.A)}) {
			t.Fatalf("grant at start: %+v", g)
		}
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		crashed := time.Now()
		p.Crash(p.A)
		if st, _ := do(t, c, mirrortest.Put("b", "2"), 5*time.Second); st != mirrortest.StatusOK {
			t.Fatalf("put after the crash: %d", st)
		}
		if pause := time.Since(crashed); pause > time.Second {
			t.Errorf("failover with an arbiter took %v, want under 1 s", pause)
		}
		if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 2 {
			t.Fatalf("B: %+v", b)
		}
		if g, _ := p.Arbiter.Grant(mirrortest.InternalNet); g != (ipxarbiter.Grant{Epoch: 2, Holder: serverID(p.B)}) {
			t.Fatalf("grant after the takeover: %+v", g)
		}
		if st, v := do(t, c, mirrortest.Get("a"), time.Second); st != mirrortest.StatusOK || v != "1" {
			t.Fatalf("a = %d %q", st, v)
		}
	})
}

// A full partition between the servers, both still reaching the arbiter
// and the clients: the primary claims the next epoch first and goes on
// alone; the secondary's claim for the same epoch is denied, so it never
// answers, and it rejoins when the partition heals.
func TestArbiterDeniesSecondPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Arbiter: true})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		subB := p.B.Subscribe(64)
		defer subB.Close()
		p.CutMSL()
		p.CutLAN()
		// The client keeps being served, by A alone.
		for i := range 5 {
			if st, _ := do(t, c, mirrortest.Put(fmt.Sprint("k", i), "x"), 5*time.Second); st != mirrortest.StatusOK {
				t.Fatalf("put %d during the partition: %d", i, st)
			}
		}
		time.Sleep(3 * time.Second)
		if a := p.A.Status(); a.Role != mirror.RolePrimary || a.Epoch != 2 {
			t.Fatalf("A during the partition: %+v", a)
		}
		if s := p.B.Stats(); s.Denials == 0 || s.Takeovers != 0 || s.Replies != 0 {
			t.Fatalf("B during the partition: %+v", s)
		}
		neverPrimary(t, "B", subB)
		p.HealMSL()
		p.HealLAN()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored after the heal: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		neverPrimary(t, "B", subB)
		for k, want := range map[string]string{"a": "1", "k0": "x", "k4": "x"} {
			if st, v := do(t, c, mirrortest.Get(k), time.Second); st != mirrortest.StatusOK || v != want {
				t.Fatalf("%s = %d %q, want %q", k, st, v, want)
			}
		}
	})
}

// The primary cut off from its secondary and from the arbiter, but not
// from the clients: without an arbiter it would answer alone while the
// secondary takes over (two primaries). With one it never answers alone:
// the secondary is granted the next epoch, and the old primary steps down
// when it meets it.
func TestArbiterIsolatedPrimaryNeverAnswersAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Arbiter: true})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		p.CutMSL()
		p.CutLAN()
		p.LAN.SetReachable(p.A.Node, mirrortest.ArbiterNode, false)
		p.LAN.SetReachable(mirrortest.ArbiterNode, p.A.Node, false)
		synctest.Wait()
		repliesA := p.A.Stats().Replies
		if st, _ := do(t, c, mirrortest.Put("b", "2"), 5*time.Second); st != mirrortest.StatusOK {
			t.Fatalf("put during the partition: %d", st)
		}
		time.Sleep(3 * time.Second)
		if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 2 {
			t.Fatalf("B: %+v", b)
		}
		if got := p.A.Stats().Replies; got != repliesA {
			t.Fatalf("the isolated primary answered %d requests alone", got-repliesA)
		}
		p.HealMSL()
		p.HealLAN()
		p.LAN.Heal()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored after the heal: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		// B keeps the role; its epoch is 2, or more if the MSL failed
		// again while A rejoined (each failure costs it a claim).
		if a, b := p.A.Status(), p.B.Status(); a.Role != mirror.RoleSecondary || b.Role != mirror.RolePrimary || a.Epoch != b.Epoch || b.Epoch < 2 {
			t.Fatalf("after the heal: A %+v, B %+v", a, b)
		}
		for k, want := range map[string]string{"a": "1", "b": "2"} {
			if st, v := do(t, c, mirrortest.Get(k), time.Second); st != mirrortest.StatusOK || v != want {
				t.Fatalf("%s = %d %q, want %q", k, st, v, want)
			}
		}
	})
}

// While the arbiter is unreachable a primary that lost its secondary
// answers nothing; once the arbiter answers it goes on alone.
func TestArbiterUnreachableHoldsAloneAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Arbiter: true})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		p.ArbiterLink.Crash()
		p.CutMSL()
		// B finds A alive on the LAN and deactivates; A may not answer.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := c.Do(ctx, mirrortest.Put("b", "2"))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("put with the arbiter down: %v, want no answer", err)
		}
		if a := p.A.Status(); a.Role != mirror.RolePrimary || a.Epoch != 1 {
			t.Fatalf("A: %+v", a)
		}
		p.ArbiterLink.Restore()
		if st, _ := do(t, c, mirrortest.Put("b", "3"), 5*time.Second); st != mirrortest.StatusOK {
			t.Fatalf("put with the arbiter back: %d", st)
		}
		if a := p.A.Status(); a.Epoch != 2 || p.B.Status().Role == mirror.RolePrimary {
			t.Fatalf("A %+v, B %+v", a, p.B.Status())
		}
		p.HealMSL()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored after the heal: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
	})
}

// A switchover with an arbiter: the arbiter grants the secondary its
// epoch before the handover, and the role goes there and back.
func TestArbiterSwitchover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Arbiter: true})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		if err := p.A.Switchover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if g, _ := p.Arbiter.Grant(mirrortest.InternalNet); g != (ipxarbiter.Grant{Epoch: 2, Holder: serverID(p.B)}) {
			t.Fatalf("grant after the switchover: %+v", g)
		}
		do(t, c, mirrortest.Put("b", "2"), 5*time.Second)
		if err := p.B.Switchover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if a := p.A.Status(); a.Role != mirror.RolePrimary || a.Epoch != 3 {
			t.Fatalf("A after switching back: %+v", a)
		}
		// A crash now: B claims epoch 4 and takes over.
		p.Crash(p.A)
		if st, v := do(t, c, mirrortest.Get("b"), 5*time.Second); st != mirrortest.StatusOK || v != "2" {
			t.Fatalf("b = %d %q", st, v)
		}
		if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 4 {
			t.Fatalf("B: %+v", b)
		}
	})
}

// A primary whose health check fails hands over to a healthy mirrored
// secondary, and stays (saying why) when the secondary is unhealthy too
// or there is none.
func TestHealthDemotion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sickA, sickB atomic.Bool
		check := func(b *atomic.Bool) func(context.Context) error {
			return func(context.Context) error {
				if b.Load() {
					return errors.New("disk failing")
				}
				return nil
			}
		}
		n := 0
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Server: func(c *mirror.Config) {
			if n++; n == 1 {
				c.Health = check(&sickA)
			} else {
				c.Health = check(&sickB)
			}
		}})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		sickA.Store(true)
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.B.Status().Role == mirror.RolePrimary }) {
			t.Fatalf("no handover: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		if st, v := do(t, c, mirrortest.Get("a"), 5*time.Second); st != mirrortest.StatusOK || v != "1" {
			t.Fatalf("a = %d %q", st, v)
		}
		if !p.WaitMirrored(5 * time.Second) {
			t.Fatal("not mirrored after the handover")
		}
		// Now B fails its check while A still does: B stays primary.
		sickB.Store(true)
		time.Sleep(5 * time.Second)
		if b := p.B.Status(); b.Role != mirror.RolePrimary {
			t.Fatalf("B handed over to an unhealthy A: %+v", b)
		}
		if s := p.B.Stats(); s.Unhealthy < 3 {
			t.Fatalf("B counted %d failed checks", s.Unhealthy)
		}
		// A recovers: B hands over to it.
		sickA.Store(false)
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.A.Status().Role == mirror.RolePrimary }) {
			t.Fatalf("no handover back: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		do(t, c, mirrortest.Put("b", "2"), 5*time.Second)
		// Unhealthy with no mirrored secondary: stays primary.
		p.Crash(p.B)
		sickA.Store(true)
		time.Sleep(3 * time.Second)
		if a := p.A.Status(); a.Role != mirror.RolePrimary {
			t.Fatalf("A without a secondary: %+v", a)
		}
		if st, v := do(t, c, mirrortest.Get("b"), 5*time.Second); st != mirrortest.StatusOK || v != "2" {
			t.Fatalf("b = %d %q", st, v)
		}
	})
}
