package mirror_test

import (
	"io"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// slowEngine takes d to snapshot and to restore, as an engine with a
// large state does (BENCHMARKS.md: 64 MB of KV, 340 to 750 ms each).
type slowEngine struct {
	mirror.Engine
	snap, restore time.Duration
}

func (e slowEngine) Snapshot(w io.Writer) error {
	time.Sleep(e.snap)
	return e.Engine.Snapshot(w)
}

func (e slowEngine) Restore(r io.Reader) error {
	time.Sleep(e.restore)
	return e.Engine.Restore(r)
}

// A join whose snapshot or restore takes longer than MSLTimeout still
// completes: the server busy with it must not look dead to its peer. In
// real time, with the timeouts scaled down: under synctest a server
// sleeping while it holds its lock stops the fake clock.
func TestSlowImageJoins(t *testing.T) {
	const msl = 100 * time.Millisecond
	for _, tt := range []struct {
		name          string
		snap, restore time.Duration
	}{
		{"snapshot", 3 * msl, 0},
		{"restore", 0, 3 * msl},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: 1, Logger: logger(t), Server: func(c *mirror.Config) {
				c.Heartbeat, c.MSLTimeout, c.ProbeTimeout, c.RedialInterval = msl/5, msl, msl/2, msl/2
				c.Engine = slowEngine{Engine: c.Engine, snap: tt.snap, restore: tt.restore}
			}})
			if !p.WaitMirrored(5 * time.Second) {
				t.Fatalf("not mirrored: A %+v %+v, B %+v %+v", p.A.Status(), p.A.Stats(), p.B.Status(), p.B.Stats())
			}
		})
	}
}
