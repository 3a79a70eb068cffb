package mirror_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// logger shows the servers' logs with -v.
func logger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func mirrored(t *testing.T, cfg mirrortest.PairConfig) *mirrortest.Pair {
	t.Helper()
	cfg.Logger = logger(t)
	p := mirrortest.NewPair(t, cfg)
	if !p.WaitMirrored(5*time.Second) || !p.WaitRoutes(5*time.Second) {
		t.Fatalf("not mirrored: A %+v, B %+v", p.A.Status(), p.B.Status())
	}
	return p
}

func TestTakeoverAfterCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		sub := p.B.Subscribe(16)
		for i := range 10 {
			do(t, c, mirrortest.Put(fmt.Sprint("k", i), fmt.Sprint(i)), time.Second)
		}
		crashed := time.Now()
		p.Crash(p.A)
		// The client's next request succeeds once B has taken over.
		st, _ := do(t, c, mirrortest.Put("after", "crash"), 5*time.Second)
		pause := time.Since(crashed)
		if st != mirrortest.StatusOK {
			t.Fatalf("put after crash: status %d", st)
		}
		if pause > time.Second {
			t.Errorf("failover took %v, want under 1 s", pause)
		}
		t.Logf("failover: %v", pause)
		b := p.B.Status()
		if b.Role != mirror.RolePrimary || b.Epoch != 2 {
			t.Fatalf("B after takeover: %+v", b)
		}
		if s := p.B.Stats(); s.Takeovers != 1 || s.Notified == 0 {
			t.Fatalf("B stats %+v", s)
		}
		// Every acknowledged write survived.
		for i := range 10 {
			if st, v := do(t, c, mirrortest.Get(fmt.Sprint("k", i)), time.Second); st != mirrortest.StatusOK || v != fmt.Sprint(i) {
				t.Fatalf("k%d = %d %q after takeover", i, st, v)
			}
		}
		// The subscriber saw the takeover.
		var took bool
		for len(sub.C) > 0 {
			ch := <-sub.C
			took = took || ch.Role == mirror.RolePrimary && ch.Epoch == 2
		}
		if !took {
			t.Fatal("no role change to primary reported")
		}
	})
}

func TestNoTakeoverWhenOnlyMSLFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		p.CutMSL()
		time.Sleep(3 * time.Second)
		a, b := p.A.Status(), p.B.Status()
		if a.Role != mirror.RolePrimary || a.Peer != mirror.PeerNone {
			t.Fatalf("A: %+v, want primary alone", a)
		}
		if b.Role != mirror.RoleDeactivated {
			t.Fatalf("B: %+v, want deactivated", b)
		}
		if s := p.B.Stats(); s.Takeovers != 0 || s.Replies != 0 {
			t.Fatalf("B stats %+v", s)
		}
		// A serves alone.
		if st, _ := do(t, c, mirrortest.Put("b", "2"), time.Second); st != mirrortest.StatusOK {
			t.Fatal(st)
		}
		// When the MSL comes back, B rejoins and mirroring resumes.
		p.HealMSL()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored again: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		if st, v := do(t, c, mirrortest.Get("b"), time.Second); st != mirrortest.StatusOK || v != "2" {
			t.Fatalf("b = %d %q", st, v)
		}
	})
}

func TestNoTakeoverOnShortStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		sub := p.B.Subscribe(16)
		p.CutMSL()
		time.Sleep(mirror.DefaultMSLTimeout / 2)
		p.HealMSL()
		time.Sleep(3 * time.Second)
		if b := p.B.Status(); b.Role != mirror.RoleSecondary || b.Peer != mirror.PeerMirrored {
			t.Fatalf("B after a short stall: %+v", b)
		}
		if s := p.B.Stats(); s.Takeovers != 0 || s.MSLFailures != 0 {
			t.Fatalf("B stats %+v", s)
		}
		if len(sub.C) != 0 {
			t.Fatalf("role changed: %+v", <-sub.C)
		}
	})
}

// A request whose reply was lost, retried across a takeover, is applied
// once: the new primary answers it from the mirrored reply cache.
func TestRetryAcrossTakeoverAppliedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		// A's replies to the client are lost; its requests still arrive.
		p.LAN.SetReachable(p.A.Node, c.Stack.Links()[0].Node, false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		type result struct {
			r   []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			r, err := c.Do(ctx, mirrortest.CAS("x", "", "1"))
			done <- result{r, err}
		}()
		// Let the request be applied on both and retried a few times.
		if !mirrortest.WaitFor(time.Second, func() bool { return p.B.Status().Applied == 1 }) {
			t.Fatalf("request never reached the secondary: A %+v %+v, B %+v, client %+v", p.A.Status(), p.A.Stats(), p.B.Status(), c.Stats())
		}
		time.Sleep(200 * time.Millisecond)
		p.Crash(p.A)
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if st, _, _ := mirrortest.ParseReply(res.r); st != mirrortest.StatusOK {
			t.Fatalf("CAS retried across the takeover: status %d, want OK (applied once)", st)
		}
		if s := p.B.Stats(); s.Retries == 0 {
			t.Fatalf("B answered no retry from its cache: %+v", s)
		}
		if got := p.B.Status().Applied; got != 1 {
			t.Fatalf("B applied %d events, want 1", got)
		}
	})
}

// A client that missed the takeover's notifications still switches, at
// the next periodic RIP update at the latest.
func TestLostNotificationSwitchesByNextUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		cn := c.Stack.Links()[0].Node
		p.LAN.SetReachable(p.B.Node, cn, false)
		p.Crash(p.A)
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.B.Status().Role == mirror.RolePrimary }) {
			t.Fatal("no takeover")
		}
		time.Sleep(time.Second) // the notifications are gone by now
		p.LAN.SetReachable(p.B.Node, cn, true)
		start := time.Now()
		st, v := do(t, c, mirrortest.Get("a"), 2*time.Minute)
		if st != mirrortest.StatusOK || v != "1" {
			t.Fatalf("a = %d %q", st, v)
		}
		if d := time.Since(start); d > 61*time.Second {
			t.Fatalf("switched after %v, want by the next update (60 s)", d)
		}
		if r, ok := c.Router.Table().Lookup(mirrortest.InternalNet); !ok || r.NextHop != p.B.Node {
			t.Fatalf("client's route %+v, want via B %v", r, p.B.Node)
		}
	})
}

// Requests that are malformed, oversized or not for the engine are
// counted and dropped, and never answered.
func TestBadRequestsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		raw, err := c.Stack.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		good, _ := (&mirror.Message{Kind: mirror.KindRequest, Client: 9, ID: 1, Data: mirrortest.Put("z", "1")}).MarshalBinary()
		bad := [][]byte{
			{1, 2, 3},
			append([]byte{9}, good[1:]...), // version
			append(append([]byte(nil), good[:1]...), append([]byte{byte(mirror.KindReply)}, good[2:]...)...),
			append(append([]byte(nil), good...), make([]byte, mirror.MaxData)...), // oversized
		}
		for _, b := range bad {
			if _, err := raw.WriteMsg(b, p.Addr, ipx.WriteOptions{Type: mirror.PacketType}); err != nil && len(b) < 546 {
				t.Fatal(err)
			}
		}
		// Right socket, wrong network: the server's own LAN address.
		raw.WriteMsg(good, ipx.Addr{Net: mirrortest.LANNet, Node: p.A.Node, Socket: mirror.DefaultSocket}, ipx.WriteOptions{})
		synctest.Wait()
		if s := p.A.Stats(); s.Dropped < 4 || s.Requests != 0 || s.Replies != 0 {
			t.Fatalf("A stats %+v", s)
		}
		raw.SetReadDeadline(time.Now().Add(time.Second))
		if n, _, err := raw.ReadMsg(make([]byte, 600)); err == nil {
			t.Fatalf("bad request answered with %d bytes", n)
		}
	})
}

// A primary that was only isolated (not restarted) comes back believing
// it is primary under its old epoch. It meets the new primary over the
// MSL, steps down, and rejoins as secondary; the data written during its
// absence is all there, and it never answers under the stale epoch.
func TestIsolatedPrimaryReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		p.Crash(p.A)
		do(t, c, mirrortest.Put("b", "2"), 5*time.Second)
		if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 2 {
			t.Fatalf("B: %+v", b)
		}
		repliesBefore := p.A.Stats().Replies
		p.A.LAN.Restore()
		p.A.MSL.Restore()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored again: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		a, b := p.A.Status(), p.B.Status()
		if a.Role != mirror.RoleSecondary || b.Role != mirror.RolePrimary || a.Epoch != 2 {
			t.Fatalf("after return: A %+v, B %+v", a, b)
		}
		if got := p.A.Stats().Replies; got != repliesBefore {
			t.Fatalf("the stale primary sent %d replies after it came back", got-repliesBefore)
		}
		for k, want := range map[string]string{"a": "1", "b": "2"} {
			if st, v := do(t, c, mirrortest.Get(k), time.Second); st != mirrortest.StatusOK || v != want {
				t.Fatalf("%s = %d %q, want %q", k, st, v, want)
			}
		}
		// And A, now mirrored, can take over in turn.
		p.Crash(p.B)
		if st, v := do(t, c, mirrortest.Get("b"), 5*time.Second); st != mirrortest.StatusOK || v != "2" {
			t.Fatalf("b = %d %q after the second failover", st, v)
		}
		if a := p.A.Status(); a.Role != mirror.RolePrimary || a.Epoch != 3 {
			t.Fatalf("A after taking over: %+v", a)
		}
	})
}

// A primary that crashes and restarts at once answers on the LAN again
// before the secondary's probe, but as a fresh secondary: the secondary
// must still take over, and the restarted server joins it.
func TestFastRestartedPrimaryIsNoPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1})
		c := p.Clients[0]
		do(t, c, mirrortest.Put("a", "1"), time.Second)
		p.Crash(p.A)
		p.A.Server.Close()
		p.A.Router.Close()
		p.A.Stack.Close()
		a2 := p.StartServer("A2", p.A.Node, p.B.Node, mirror.RoleSecondary)
		if st, _ := do(t, c, mirrortest.Put("b", "2"), 5*time.Second); st != mirrortest.StatusOK {
			t.Fatalf("put after the restart: %d", st)
		}
		if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 2 {
			t.Fatalf("B: %+v", b)
		}
		if !mirrortest.WaitFor(5*time.Second, func() bool { return a2.Status().Peer == mirror.PeerMirrored }) {
			t.Fatalf("A2 never mirrored: %+v", a2.Status())
		}
		if st, v := do(t, c, mirrortest.Get("a"), time.Second); st != mirrortest.StatusOK || v != "1" {
			t.Fatalf("a = %d %q", st, v)
		}
	})
}
