package mirror_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// A change log longer than the MSL's send queue holds in batches (here
// MaxBatch 1 and 20,000 events; with the default MaxBatch, a million
// small events, some 45 MB) cannot be resumed from in one go: the rejoin
// gets the image instead, rather than failing on a full queue and trying
// the same resume again for ever.
func TestResumeLongerThanSendQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{Clients: 1, Server: func(c *mirror.Config) { c.MaxBatch = 1 }})
		c := p.Clients[0]
		p.CutMSL()
		if !mirrortest.WaitFor(5*time.Second, func() bool { return p.B.Status().Role == mirror.RoleDeactivated }) {
			t.Fatalf("B %+v, want deactivated", p.B.Status())
		}
		for i := range 20000 {
			do(t, c, mirrortest.Put(fmt.Sprint("k", i%100), fmt.Sprint(i)), time.Second)
		}
		p.HealMSL()
		if !p.WaitMirrored(10 * time.Second) {
			t.Fatalf("not mirrored: A %+v %+v, B %+v %+v", p.A.Status(), p.A.Stats(), p.B.Status(), p.B.Stats())
		}
		if a, b := p.A.Stats(), p.B.Stats(); a.Images != 2 || b.MSLFailures != 1 {
			t.Fatalf("want one image on the first rejoin: A %+v, B %+v", a, b)
		}
		if !mirrortest.WaitFor(time.Second, func() bool { return p.A.Status().Applied == p.B.Status().Applied }) {
			t.Fatalf("applied: A %d, B %d", p.A.Status().Applied, p.B.Status().Applied)
		}
	})
}
