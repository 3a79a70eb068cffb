package mirror_test

import (
	"context"
	"runtime"
	"testing"
	"time"

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
