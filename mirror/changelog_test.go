package mirror

import (
	"bytes"
	"fmt"
	"testing"
)

func logEvent(seq uint64) wireEvent {
	return wireEvent{Seq: seq, Client: seq % 7, ID: seq * 3, Data: fmt.Appendf(nil, "event %d", seq)}
}

// The change log stays within its bound, holds a contiguous run of
// events up to the newest, gives back exactly those after a position,
// and refuses positions it no longer reaches.
func TestChangeLogBound(t *testing.T) {
	for _, max := range []int{1, 100, 10 * (eventFixed + 10), 64 << 10, 1 << 20} {
		c := changeLog{max: max}
		for seq := uint64(1); seq <= 3000; seq++ {
			ev := logEvent(seq)
			c.add(&ev)
			if c.bytes > c.max {
				t.Fatalf("max %d: log of %d bytes over its bound", max, c.bytes)
			}
			if eventFixed+len(ev.Data) > max {
				if c.first != 0 || c.last != 0 || len(c.chunks) != 0 {
					t.Fatalf("max %d: an event over the bound is kept: %d..%d", max, c.first, c.last)
				}
				continue
			}
			if c.last != seq || c.first == 0 || c.first > seq {
				t.Fatalf("max %d: log holds %d..%d after adding %d", max, c.first, c.last, seq)
			}
			// Within the bound, the log keeps more than three quarters
			// of what fits, less a chunk.
			if held := int(c.last-c.first+1) * (eventFixed + len(ev.Data)); held < max*3/4-c.chunkSize()-eventFixed-len(ev.Data) && c.first > 1 {
				t.Fatalf("max %d: only %d bytes kept", max, held)
			}
		}
		if c.first == 0 {
			continue
		}
		for _, from := range []uint64{c.first - 1, c.first, (c.first + c.last) / 2, c.last - 1, c.last} {
			evs, ok := c.since(from)
			if !ok || uint64(len(evs)) != c.last-from {
				t.Fatalf("max %d: since(%d) in %d..%d = %d events, %v", max, from, c.first, c.last, len(evs), ok)
			}
			for i, ev := range evs {
				want := logEvent(from + 1 + uint64(i))
				if ev.Seq != want.Seq || ev.Client != want.Client || ev.ID != want.ID || !bytes.Equal(ev.Data, want.Data) {
					t.Fatalf("max %d: since(%d)[%d] = %+v, want %+v", max, from, i, ev, want)
				}
			}
		}
		if c.first > 1 {
			if _, ok := c.since(c.first - 2); ok {
				t.Fatalf("max %d: since(%d) with the log starting at %d: ok", max, c.first-2, c.first)
			}
		}
		if _, ok := c.since(c.last + 1); ok {
			t.Fatalf("max %d: since a position ahead of the log: ok", max)
		}
	}
}

// An event that does not follow the newest starts the log again, and a
// reset empties it: a log with a gap never answers.
func TestChangeLogGap(t *testing.T) {
	c := changeLog{max: 1 << 20}
	for seq := uint64(1); seq <= 10; seq++ {
		ev := logEvent(seq)
		c.add(&ev)
	}
	ev := logEvent(12)
	c.add(&ev)
	if c.first != 12 || c.last != 12 {
		t.Fatalf("after a gap the log holds %d..%d, want 12..12", c.first, c.last)
	}
	if _, ok := c.since(5); ok {
		t.Fatal("since(5) across a gap: ok")
	}
	c.reset()
	if _, ok := c.since(11); ok || c.bytes != 0 {
		t.Fatalf("after reset: since ok %v, %d bytes", ok, c.bytes)
	}
	ev = logEvent(20)
	c.add(&ev)
	if evs, ok := c.since(19); !ok || len(evs) != 1 || evs[0].Seq != 20 {
		t.Fatalf("since(19) after reset and add = %v, %v", evs, ok)
	}
}

// Adding to a full log neither allocates nor copies what it holds.
func TestChangeLogNoAlloc(t *testing.T) {
	c := changeLog{max: 1 << 20}
	seq := uint64(0)
	add := func() {
		seq++
		ev := logEvent(seq)
		c.add(&ev)
	}
	for range 100000 {
		add()
	}
	ev := logEvent(0)
	allocs := testing.AllocsPerRun(10000, func() {
		seq++
		ev.Seq = seq
		c.add(&ev)
	})
	if allocs != 0 {
		t.Fatalf("add allocates %v times per event", allocs)
	}
}
