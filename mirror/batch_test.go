package mirror_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// Under load each MSL message carries many events, however fast the
// secondary acknowledges: with one processor a fast MSL had every event
// acknowledged before the next request was read, one event per message
// (1.01 with 32 clients, and a third of the throughput), until the
// primary yielded once before sending a lone request.
func TestBatchesUnderLoad(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const clients, each = 16, 200
	p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: clients})
	if !p.WaitMirrored(10*time.Second) || !p.WaitRoutes(10*time.Second) {
		t.Fatal("pair not ready")
	}
	before := p.A.Stats()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := mirrortest.Puts(ctx, p.Clients, clients*each); err != nil {
		t.Fatal(err)
	}
	st := p.A.Stats()
	events, frames := st.Events-before.Events, st.Batches-before.Batches
	if events < clients*each || frames == 0 {
		t.Fatalf("%d events in %d MSL messages, want %d events", events, frames, clients*each)
	}
	per := float64(events) / float64(frames)
	t.Logf("%.2f events per MSL message", per)
	if per < 4 {
		t.Errorf("%.2f events per MSL message with %d clients, want at least 4", per, clients)
	}
}

// A mirrored primary keeps up to four event messages in flight to its
// secondary: a request that finds fewer waiting for an ack goes at
// once, and only the next waits for the oldest ack. With one message in
// flight, as before, the second request of this test waited a whole
// round trip more than the first.
func TestEventMessagesPipelined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const oneWay = 10 * time.Millisecond
		p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: 5})
		if !p.WaitMirrored(5*time.Second) || !p.WaitRoutes(5*time.Second) {
			t.Fatal("pair not ready")
		}
		p.MSLSeg.SetImpairments(memlan.Impairments{Delay: oneWay})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		took := make([]time.Duration, len(p.Clients))
		var wg sync.WaitGroup
		for i, c := range p.Clients {
			// One request each, a millisecond apart: each finds the
			// messages of those before it still in flight.
			time.Sleep(time.Millisecond)
			wg.Go(func() {
				start := time.Now()
				if _, err := c.Do(ctx, mirrortest.Put(fmt.Sprint("k", i), "v")); err != nil {
					t.Error(err)
				}
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		rtt := 2 * oneWay
		for i, d := range took[:4] {
			if d < rtt || d >= rtt+rtt/2 {
				t.Errorf("request %d took %v, want one MSL round trip, %v", i, d, rtt)
			}
		}
		// The fifth waits for the first's ack, then a round trip of its own.
		if d := took[4]; d < 2*rtt-5*time.Millisecond {
			t.Errorf("request 4 took %v with four messages in flight, want it to wait for an ack, about %v", d, 2*rtt-4*time.Millisecond)
		}
	})
}
