package rip

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestFloodCannotLockOut: one node announces 100,000 networks, more
// than the table holds; a legitimate router
// that appears next is learned within its first update, and the
// refusals are counted against the flooder.
func TestFloodCannotLockOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		r := l.addRouter(1, Config{}, 1, 2)
		l.feedRoutes(66, 1, 0x100000, 100_000)
		time.Sleep(time.Second)
		synctest.Wait()
		st := r.router.Table().Stats()
		if st.Learned != DefaultMaxRoutes/4 {
			t.Errorf("flooder got %d routes, want its quota %d", st.Learned, DefaultMaxRoutes/4)
		}
		if got := st.RefusedFrom[Neighbour{Link: 1, Node: labNode(66)}]; got != 100_000-DefaultMaxRoutes/4 {
			t.Errorf("refused from the flooder: %d (%v)", got, st.RefusedFrom)
		}
		l.addRouter(2, Config{}, 1, 0x99)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := r.hops(0x99); got != 1 {
			t.Errorf("legitimate network 0x99: hops %d, want 1 at its first update", got)
		}
		if rt, ok := r.router.Table().LookupRoute(0x99); !ok || rt.NextHop != labNode(2) {
			t.Errorf("route to 0x99 %+v %v", rt, ok)
		}
	})
}
