package rip

import (
	"testing"
	"time"
)

// An offer of a directly connected network (1 hop: its sender is on it)
// cannot be a stale copy echoed around a loop, so the hold-down does not
// keep it out. This is how a client takes a mirrored pair's new primary at
// once after the old next hop withdrew the shared network, though the new
// primary offers the "active" metric, one tick worse than the route lost.
func TestHoldDownTakesDirectlyConnectedOffer(t *testing.T) {
	tb := newTable(t, TableConfig{MaxAge: 3 * time.Minute, Garbage: 3 * time.Minute})
	tb.Apply(t0, 1, nodeA, []Entry{{5, 1, 1}}, nil)
	at := t0.Add(time.Second)
	if evs := tb.Apply(at, 1, nodeA, []Entry{{5, Unreachable, 1}}, nil); len(evs) != 1 || evs[0].Reason != ReasonPoisoned {
		t.Fatalf("poison: %+v", evs)
	}
	// A router two hops away offering worse is still held down.
	if evs := tb.Apply(at, 1, nodeB, []Entry{{5, 2, 2}}, nil); len(evs) != 0 {
		t.Fatalf("a worse routed offer taken during the hold-down: %+v", evs)
	}
	// The network's other attached server is taken at once.
	evs := tb.Apply(at, 1, nodeB, []Entry{{5, 1, 2}}, nil)
	if len(evs) != 1 || evs[0].Reason != ReasonNew || evs[0].New.NextHop != nodeB {
		t.Fatalf("directly connected offer during the hold-down: %+v", evs)
	}
}
