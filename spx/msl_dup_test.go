package spx

import (
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// A connection used as the mirror's MSL (small frames both ways, a
// retransmission timeout capped at 100 ms) on a link that duplicates a
// fifth of its packets, with delay and jitter but no loss, must never
// fail: nothing is lost. The mirror's simulation (seeds 23 and 177 with
// -sim.faults=kill,isolate,msl,lan,loss,dup,delay) saw "packet N
// unacknowledged after 50 retransmissions" there within a second, after
// the change to RACK-style loss detection, and the pair split.
func TestDuplicatingLinkNeverFails(t *testing.T) {
	for _, im := range []memlan.Impairments{
		{Duplicate: 0.2, Delay: 14 * time.Millisecond, Jitter: 3 * time.Millisecond},
		{Duplicate: 0.2, Delay: 18 * time.Millisecond, Jitter: 10 * time.Millisecond},
		{Duplicate: 0.13, Loss: 0.16, Delay: 7 * time.Millisecond, Jitter: 11 * time.Millisecond},
	} {
		synctest.Test(t, func(t *testing.T) {
			n := newTestNet(t, memlan.Config{Seed: 7})
			cfg := Config{MaxRTO: 100 * time.Millisecond, Linger: -1}
			a, b, _ := n.connect(t, cfg, cfg)
			defer a.Close()
			defer b.Close()
			n.seg.SetImpairments(im)
			errc := make(chan error, 4)
			stop := make(chan struct{})
			frame := make([]byte, 300)
			writer := func(c *Conn) {
				for {
					select {
					case <-stop:
						errc <- nil
						return
					default:
					}
					if _, err := c.Write(frame); err != nil {
						errc <- err
						return
					}
					time.Sleep(time.Duration(len(frame)%3) * time.Millisecond)
				}
			}
			reader := func(c *Conn) {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						if errors.Is(err, io.EOF) {
							err = nil
						}
						select {
						case <-stop:
							err = nil
						default:
						}
						errc <- err
						return
					}
				}
			}
			go writer(a)
			go writer(b)
			go reader(a)
			go reader(b)
			time.Sleep(10 * time.Second)
			close(stop)
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatalf("impairments %+v: %v (stats %+v)", im, err, a.Stats())
				}
			}
			a.Abort()
			b.Abort()
			for range 2 {
				<-errc
			}
		})
	}
}
