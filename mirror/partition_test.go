package mirror_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// Issue 13, item 8: a full partition between the servers (MSL and LAN
// cut) that heals with two primaries. This is the window the package
// comment documents for a pair without an arbiter:
//
//   - the secondary B, hearing nothing on either path, takes over under
//     epoch 2 and answers the clients on its side;
//   - the primary A, running alone under epoch 1, goes on answering the
//     clients on its side;
//   - when the partition heals they meet (A's LAN probe or MSL dial), the
//     newer epoch wins: B stays primary, A steps down, takes B's image and
//     mirrors it.
//
// So every write B acknowledged survives, and so does every write
// acknowledged before the partition (mirrored, B held it first); every
// write A acknowledged alone after the partition began is lost, including
// one that was waiting for B's ack when the MSL went silent and that A
// answered once it concluded it ran alone. The test asserts exactly that.
func TestPartitionHealsWithTwoPrimaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 2})
		ca, cb := p.Clients[0], p.Clients[1] // on A's side and on B's
		for i, c := range p.Clients {
			if st, _ := do(t, c, mirrortest.Put(fmt.Sprint("before", i), "mirrored"), time.Second); st != mirrortest.StatusOK {
				t.Fatalf("before%d: status %d", i, st)
			}
		}
		node := func(c *mirrortest.Client) ipx.Node { return c.Stack.Links()[0].Node }

		// The full partition: the MSL and the LAN between the servers,
		// each server keeping one client.
		p.CutMSL()
		p.LAN.Partition([]ipx.Node{p.A.Node, node(ca)}, []ipx.Node{p.B.Node, node(cb)})

		// Each side's client writes its own keys and the shared one,
		// one request at a time, for 3 s.
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			acked = map[string]map[string]string{"A": {}, "B": {}}
		)
		write := func(side string, c *mirrortest.Client) {
			stop := time.Now().Add(3 * time.Second)
			for i := 0; time.Now().Before(stop); i++ {
				k, v := fmt.Sprintf("%s.%d", side, i), fmt.Sprint(i)
				if i%4 == 3 {
					k = "shared"
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				r, err := c.Do(ctx, mirrortest.Put(k, side+v))
				cancel()
				if err != nil {
					continue // no reply: not acknowledged
				}
				if st, _, _ := mirrortest.ParseReply(r); st == mirrortest.StatusOK {
					mu.Lock()
					acked[side][k] = side + v
					mu.Unlock()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		wg.Go(func() { write("A", ca) })
		wg.Go(func() { write("B", cb) })
		wg.Wait()

		// Two primaries now, each having answered on its side.
		a, b := p.A.Status(), p.B.Status()
		if a.Role != mirror.RolePrimary || a.Epoch != 1 || b.Role != mirror.RolePrimary || b.Epoch != 2 {
			t.Fatalf("during the partition: A %+v, B %+v; want two primaries, epochs 1 and 2", a, b)
		}
		if len(acked["A"]) == 0 || len(acked["B"]) == 0 {
			t.Fatalf("acknowledged during the partition: by A %d, by B %d; want both", len(acked["A"]), len(acked["B"]))
		}
		aReplies := p.A.Stats().Replies

		// Heal: they meet, and the newer epoch wins.
		asub := p.A.Subscribe(16)
		p.LAN.Heal()
		p.HealMSL()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored after the heal: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		a, b = p.A.Status(), p.B.Status()
		if b.Role != mirror.RolePrimary || a.Role != mirror.RoleSecondary || a.Epoch != 2 || b.Epoch != 2 {
			t.Fatalf("after the heal: A %+v, B %+v; want B primary, A its secondary, epoch 2", a, b)
		}
		var stepped bool
		for len(asub.C) > 0 {
			c := <-asub.C
			stepped = stepped || c.Role == mirror.RoleSecondary
		}
		if !stepped {
			t.Fatal("A reported no step down")
		}
		if n := p.A.Stats().Replies - aReplies; n != 0 {
			t.Fatalf("A sent %d replies after the heal", n)
		}

		// What survives: the writes before the partition and every write
		// B acknowledged. What is lost: every write A acknowledged alone.
		want := map[string]string{"before0": "mirrored", "before1": "mirrored"}
		maps.Copy(want, acked["B"])
		for k, v := range want {
			if st, got := do(t, cb, mirrortest.Get(k), time.Second); st != mirrortest.StatusOK || got != v {
				t.Errorf("%s = %d %q, want %q (acknowledged by the winner)", k, st, got, v)
			}
		}
		for k := range acked["A"] {
			if k == "shared" {
				continue
			}
			if st, got := do(t, cb, mirrortest.Get(k), time.Second); st != mirrortest.StatusNotFound {
				t.Errorf("%s = %d %q: a write the loser acknowledged alone survived", k, st, got)
			}
		}
		// The client on A's side reaches B now, and sees the same.
		if st, got := do(t, ca, mirrortest.Get("shared"), 2*time.Minute); st != mirrortest.StatusOK || got != acked["B"]["shared"] {
			t.Errorf("shared = %d %q from A's side, want the winner's %q", st, got, acked["B"]["shared"])
		}

		// The engines agree, and A, mirroring B, can take over with B's
		// writes.
		if !mirrortest.WaitFor(time.Second, func() bool { return p.A.Status().Applied == p.B.Status().Applied }) {
			t.Fatalf("applied: A %d, B %d", p.A.Status().Applied, p.B.Status().Applied)
		}
		if da, db := p.A.KV.Data(), p.B.KV.Data(); !maps.Equal(da, db) {
			t.Fatalf("engines differ after the rejoin:\nA %v\nB %v", da, db)
		}
		p.Crash(p.B)
		for k, v := range want {
			if st, got := do(t, cb, mirrortest.Get(k), 5*time.Second); st != mirrortest.StatusOK || got != v {
				t.Errorf("after A took over: %s = %d %q, want %q", k, st, got, v)
			}
		}
		if a := p.A.Status(); a.Role != mirror.RolePrimary || a.Epoch != 3 {
			t.Fatalf("A after taking over: %+v", a)
		}
		t.Logf("acknowledged during the partition: by A (lost) %d, by B (kept) %d", len(acked["A"]), len(acked["B"]))
	})
}
