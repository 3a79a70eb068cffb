package mirror_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

func do(t *testing.T, c *mirrortest.Client, req []byte, timeout time.Duration) (byte, string) {
	t.Helper()
	return c.Call(t, req, timeout)
}

func TestMirroredOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: 2})
		if !p.WaitMirrored(5 * time.Second) {
			t.Fatalf("not mirrored: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		for i := range 20 {
			c := p.Clients[i%2]
			if st, _ := do(t, c, mirrortest.Put(fmt.Sprint("k", i), fmt.Sprint(i)), 5*time.Second); st != mirrortest.StatusOK {
				t.Fatalf("put %d: status %d", i, st)
			}
		}
		st, v := do(t, p.Clients[0], mirrortest.Get("k7"), time.Second)
		if st != mirrortest.StatusOK || v != "7" {
			t.Fatalf("get k7 = %d %q", st, v)
		}
		synctest.Wait()
		a, b := p.A.Status(), p.B.Status()
		if a.Role != mirror.RolePrimary || b.Role != mirror.RoleSecondary {
			t.Fatalf("roles %v %v", a.Role, b.Role)
		}
		// The primary answers only once the secondary holds the event, so
		// by now the secondary has applied all 21.
		if b.Applied != 21 || a.Applied != 21 {
			t.Fatalf("applied: A %d, B %d, want 21", a.Applied, b.Applied)
		}
		if s := p.B.Stats(); s.Replies != 0 {
			t.Fatalf("secondary sent %d replies", s.Replies)
		}
	})
}

// Status.LastHeard is the time the peer was last heard on the MSL: for a
// mirrored pair, within a heartbeat of now, and never in the future.
func TestStatusLastHeard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: 1})
		if !p.WaitMirrored(5 * time.Second) {
			t.Fatalf("not mirrored: A %+v, B %+v", p.A.Status(), p.B.Status())
		}
		for range 10 {
			time.Sleep(37 * time.Millisecond)
			for _, s := range []*mirror.Server{p.A.Server, p.B.Server} {
				st := s.Status()
				if ago := time.Since(st.LastHeard); ago < 0 || ago > mirror.DefaultHeartbeat+10*time.Millisecond {
					t.Fatalf("%v: last heard %v ago (at %v, now %v)", st.Role, ago, st.LastHeard, time.Now())
				}
			}
		}
	})
}
