package subscribe

import "testing"

type ev struct {
	n      int
	missed uint64
}

func mark(e *ev, m uint64) { e.missed = m }

func TestMissedAndClose(t *testing.T) {
	var h Hub[ev]
	slow, fast := h.Subscribe(1), h.Subscribe(8)
	dropped := 0
	for i := range 4 {
		dropped += h.Publish(ev{n: i}, mark)
	}
	if dropped != 3 {
		t.Fatalf("dropped %d, want 3 (the slow subscriber's)", dropped)
	}
	if got := <-slow.C; got.n != 0 || got.missed != 0 {
		t.Fatalf("first value %+v", got)
	}
	h.Publish(ev{n: 9}, mark)
	if got := <-slow.C; got.n != 9 || got.missed != 3 || slow.Missed() != 3 {
		t.Fatalf("after falling behind: %+v, Missed %d; want n 9, 3 missed", got, slow.Missed())
	}
	if len(fast.C) != 5 || fast.Missed() != 0 {
		t.Fatalf("fast subscriber holds %d, missed %d", len(fast.C), fast.Missed())
	}
	slow.Close()
	slow.Close()
	if _, ok := <-slow.C; ok {
		t.Fatal("C open after Close")
	}
	if h.Publish(ev{n: 10}, mark) != 0 {
		t.Fatal("a closed subscription still counted")
	}
	h.Close()
	for range fast.C {
	}
	late := h.Subscribe(1)
	if _, ok := <-late.C; ok {
		t.Fatal("a subscription after the hub closed is open")
	}
	late.Close()
}
