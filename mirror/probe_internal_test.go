package mirror

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/rip"
)

// loneServer starts a server with no reachable peer, on memlan.
func loneServer(t *testing.T, start Role) *Server {
	t.Helper()
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := memlan.NewSegment(memlan.Config{}).Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddLink(l, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddLinkConfig(ipx.NewInternalLink(ipx.Node{0, 0, 0, 0, 0, 1}), ipx.LinkConfig{Network: 0xC0FFEE, Shared: true}); err != nil {
		t.Fatal(err)
	}
	r, err := rip.NewRouter(st, rip.Config{Shared: map[ipx.Network]rip.SharedState{0xC0FFEE: rip.SharedStandby}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s, err := NewServer(Config{Stack: st, Router: r, Engine: nopEngine{}, Network: 0xC0FFEE, Node: ipx.Node{0, 0, 0, 0, 0, 1},
		Start: start, Key: testKey, Peer: ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 2}},
		Dial: func(ctx context.Context) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A probe's answer is stale once the role or the MSL session it was
// asked under changed. The simulation (seed 116 with isolate faults)
// found a primary back from isolation that asked its peer on the LAN,
// stepped down and joined before the answer, lost that session, and
// then took over on the answer (none: the LAN between the servers was
// cut), unsynced, beside the live primary.
func TestStaleProbeAnswerIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := loneServer(t, RoleSecondary)
		synctest.Wait()
		s.mu.Lock()
		l := s.loop
		// Asked as a primary; a secondary now, with no session and no
		// image: the answer "nobody answered" must not make it take over.
		l.probing, l.probeRole, l.probeGen = true, RolePrimary, l.sessions
		l.probed(&probeResult{answered: false})
		role := l.role
		s.mu.Unlock()
		if role != RoleSecondary || s.Stats().Takeovers != 0 {
			t.Fatalf("took over on a stale probe answer: role %v, stats %+v", role, s.Stats())
		}
		// Asked under another session: stale too, even as a secondary.
		s.mu.Lock()
		l.synced = true
		l.probing, l.probeRole, l.probeGen = true, RoleSecondary, l.sessions-1
		l.probed(&probeResult{answered: false})
		role = l.role
		// And a current probe of an unsynced secondary never takes over.
		l.synced = false
		l.probing, l.probeRole, l.probeGen = true, RoleSecondary, l.sessions
		l.probed(&probeResult{answered: false})
		role2 := l.role
		s.mu.Unlock()
		if role != RoleSecondary || role2 != RoleSecondary || s.Stats().Takeovers != 0 {
			t.Fatalf("took over: roles %v %v, stats %+v", role, role2, s.Stats())
		}
		time.Sleep(time.Second)
	})
}
