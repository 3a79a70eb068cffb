package udp

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// answerPings has every client in live answer the keepalive pings in
// sent, as a DOSBox client does.
func answerPings(t *testing.T, r *relay, now time.Time, sent []datagram, live ...netip.AddrPort) {
	t.Helper()
	p := ping(pingNode)
	for _, d := range sent {
		if !bytes.Equal(d.b, p[:]) {
			continue
		}
		for _, a := range live {
			if d.from == a {
				ans := pingAnswer(pingNode, mustNode(t, a))
				r.handle(now, a, ans[:])
			}
		}
	}
}

// TestRelayDropsUnresponsive: a client that stops answering keepalives
// is dropped after KeepaliveMisses rounds, long before ClientTimeout; one
// that answers stays.
func TestRelayDropsUnresponsive(t *testing.T) {
	tests := []struct {
		name string
		cfg  ServerConfig
		dead time.Duration // when the silent client must be gone
	}{
		{"defaults", ServerConfig{}, 20 * time.Second}, // pings at 5, 10, 15 s unanswered
		{"configured", ServerConfig{Keepalive: 2 * time.Second, KeepaliveMisses: 1}, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newTestRelay(t, tt.cfg)
			register(t, r, rec, t0, addrA)
			register(t, r, rec, t0, addrB)
			step := 100 * time.Millisecond
			for el := step; el <= 2*tt.dead; el += step {
				now := t0.Add(el)
				r.tick(now)
				_, there := r.table[addrB]
				if there == (el >= tt.dead) {
					t.Fatalf("at %v: silent client registered = %v (stats %+v)", el, there, r.st)
				}
				answerPings(t, r, now, rec.take(), addrA)
			}
			if _, ok := r.table[addrA]; !ok {
				t.Fatal("the client that answered was dropped")
			}
			if r.st.Unresponsive != 1 || r.st.Expired != 0 || r.hosts[addrB.Addr()] != 0 {
				t.Fatalf("stats %+v, hosts %v", r.st, r.hosts)
			}
		})
	}
}

// TestServerDropsDeadLink runs the whole Server on the fake clock: a Link
// that closes is dropped after the default keepalive rounds; a Link that
// keeps reading is kept.
func TestServerDropsDeadLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		defer s.Close()
		live, err := NewLink(t.Context(), mn.listen("10.0.0.2:4000"), netipOf(s), Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		go reader(live, nil)
		dead, err := NewLink(t.Context(), mn.listen("10.0.0.3:4000"), netipOf(s), Config{})
		if err != nil {
			t.Fatal(err)
		}
		dead.Close()
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if cs := s.Clients(); len(cs) != 1 || cs[0].Node != live.Node() {
			t.Fatalf("clients %+v, want only %v", cs, live.Node())
		}
		if st := s.Stats(); st.Unresponsive != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestRelayShortLivedClients runs 64 short clients from one host, each
// gone after a second, then more: none may be refused for MaxPerHost once
// the earlier ones have missed a keepalive.
func TestRelayShortLivedClients(t *testing.T) {
	r, rec := newTestRelay(t, ServerConfig{})
	host := addrA.Addr()
	now := t0
	for i := range 200 {
		from := netip.AddrPortFrom(host, uint16(30000+i))
		reg := registration()
		r.handle(now, from, reg[:])
		if got := rec.take(); len(got) != 1 || got[0].from != from {
			t.Fatalf("run %d at %v refused: stats %+v", i, now.Sub(t0), r.st)
		}
		// The run lasts a second and ends; the server ticks meanwhile.
		for range 10 {
			now = now.Add(100 * time.Millisecond)
			r.tick(now)
			rec.take()
		}
	}
	if r.st.RefusedHost != 0 || r.hosts[host] > r.cfg.MaxPerHost || len(r.table) != r.hosts[host] {
		t.Fatalf("stats %+v, host count %d, table %d", r.st, r.hosts[host], len(r.table))
	}
}

// TestRelayHostSlots: at MaxPerHost, a client re-registering from its
// address keeps its slot; a new one is refused while every slot is live,
// and takes the place of one that missed a keepalive round.
func TestRelayHostSlots(t *testing.T) {
	r, rec := newTestRelay(t, ServerConfig{MaxPerHost: 2})
	a1 := netip.AddrPortFrom(addrA.Addr(), 1)
	a2 := netip.AddrPortFrom(addrA.Addr(), 2)
	a3 := netip.AddrPortFrom(addrA.Addr(), 3)
	register(t, r, rec, t0, a1)
	register(t, r, rec, t0, a2)
	register(t, r, rec, t0.Add(time.Second), a1) // re-registration: same slot
	if r.st.Reregistrations != 1 || r.hosts[addrA.Addr()] != 2 || len(r.table) != 2 {
		t.Fatalf("after re-registration: stats %+v, hosts %v", r.st, r.hosts)
	}
	reg := registration()
	r.handle(t0.Add(time.Second), a3, reg[:])
	if got := rec.take(); len(got) != 0 || r.st.RefusedHost != 1 {
		t.Fatalf("third client with two live ones: sent %v, stats %+v", got, r.st)
	}
	// a1 answers its keepalives, a2 does not.
	for el := 100 * time.Millisecond; el <= 11*time.Second; el += 100 * time.Millisecond {
		now := t0.Add(el)
		r.tick(now)
		answerPings(t, r, now, rec.take(), a1)
	}
	register(t, r, rec, t0.Add(11*time.Second), a3)
	if _, ok := r.table[a2]; ok || r.st.Replaced != 1 || r.hosts[addrA.Addr()] != 2 {
		t.Fatalf("a2 not replaced: stats %+v, hosts %v", r.st, r.hosts)
	}
	if _, ok := r.table[a1]; !ok {
		t.Fatal("a1, which answered, was replaced")
	}
}

// logRecorder is a slog.Handler that keeps the records at or above
// level.
type logRecorder struct {
	level slog.Level
	recs  []slog.Record
}

func (h *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.recs = append(h.recs, r)
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) take() []slog.Record { r := h.recs; h.recs = nil; return r }

func attr(r slog.Record, key string) (slog.Value, bool) {
	var v slog.Value
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value, true
			return false
		}
		return true
	})
	return v, found
}

// TestRelayLogsDrops: refusals, drops and dead clients are logged at the
// default level (Info and up), at most one line per reason per
// logInterval, with the number held back; the held-back lines are
// counted.
func TestRelayLogsDrops(t *testing.T) {
	h := &logRecorder{level: slog.LevelInfo}
	r, rec := newTestRelay(t, ServerConfig{MaxPerHost: 1, Logger: slog.New(h)})
	register(t, r, rec, t0, addrA)
	h.take()
	for range 100 {
		r.handle(t0, addrB, make([]byte, 10))
	}
	got := h.take()
	if len(got) != 1 || got[0].Level < slog.LevelInfo || r.st.DropMalformed != 100 {
		t.Fatalf("100 malformed datagrams: %d lines (stats %+v)", len(got), r.st)
	}
	if r.st.LogSuppressed != 99 {
		t.Errorf("LogSuppressed = %d, want 99", r.st.LogSuppressed)
	}
	// Another reason has its own allowance.
	reg := registration()
	r.handle(t0, netip.AddrPortFrom(addrA.Addr(), 9), reg[:])
	if got := h.take(); len(got) != 1 || got[0].Level < slog.LevelInfo || r.st.RefusedHost != 1 {
		t.Fatalf("refusal for the host: %d lines (stats %+v)", len(got), r.st)
	}
	// After the interval the next one is logged with the count held back.
	r.handle(t0.Add(logInterval), addrB, make([]byte, 10))
	got = h.take()
	if len(got) != 1 {
		t.Fatalf("after the interval: %d lines", len(got))
	}
	if v, ok := attr(got[0], "suppressed"); !ok || v.Uint64() != 99 {
		t.Errorf("suppressed = %v (%v), want 99", v, ok)
	}
	for _, b := range [][]byte{
		pkt(t, ipx.Node{10, 9, 9, 9, 0, 1}, mustNode(t, addrA), 0x4000, "x"), // unregistered
	} {
		r.handle(t0.Add(logInterval), addrC, b)
	}
	if got := h.take(); len(got) != 1 {
		t.Fatalf("unregistered sender: %d lines", len(got))
	}
	// A dead client's drop is logged too.
	for el := logInterval; el <= time.Minute; el += time.Second {
		r.tick(t0.Add(el))
	}
	got = h.take()
	if len(got) != 1 || r.st.Unresponsive != 1 || got[0].Message != "udp: client dropped, keepalives unanswered" {
		t.Fatalf("dead client: lines %v, stats %+v", got, r.st)
	}
}

// TestServerShortLivedLinks is the user's case on the fake clock: 100
// Links from one host, one after another, each open for a second; every
// one registers.
func TestServerShortLivedLinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		defer s.Close()
		for i := range 100 {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			l, err := NewLink(ctx, mn.listen(netip.AddrPortFrom(addrA.Addr(), uint16(30000+i)).String()), netipOf(s), Config{})
			cancel()
			if err != nil {
				t.Fatalf("run %d: %v (server %+v)", i, err, s.Stats())
			}
			go reader(l, nil)
			time.Sleep(time.Second)
			l.Close()
		}
		if st := s.Stats(); st.RefusedHost != 0 || st.Registrations != 100 || st.Clients > 25 {
			t.Fatalf("stats %+v", st)
		}
	})
}
