package mirror

import (
	"io"
	"testing"

	"github.com/ipxkit/ipxkit/internal/subscribe"
)

// Requests of one client may arrive out of order (several in flight):
// each is applied once, however late within the window, and a retry of
// one whose reply left the cache is refused rather than applied again.
func TestReplyCacheOutOfOrder(t *testing.T) {
	st := newState(4, 8)
	var applied []uint64
	eng := engineFunc(func(ev Event) []byte { applied = append(applied, ev.ID); return nil })
	seq := uint64(0)
	send := func(id uint64) lookupResult {
		r, _ := st.lookup(1, id)
		if r == fresh {
			seq++
			st.apply(eng, &wireEvent{Seq: seq, Client: 1, ID: id})
		}
		return r
	}
	// ids 10..29 arrive, except 12, which arrives last: still fresh.
	for id := uint64(10); id < 30; id++ {
		if id != 12 {
			send(id)
		}
	}
	if r := send(12); r != fresh {
		t.Fatalf("late request 12: %v, want fresh", r)
	}
	if r := send(29); r != cachedReply {
		t.Fatalf("retry of 29: %v, want cached", r)
	}
	if r := send(11); r != stale {
		t.Fatalf("retry of 11, whose reply left the cache: %v, want stale", r)
	}
	if r := send(29 + idWindow); r != fresh {
		t.Fatal("far newer request not fresh")
	}
	if r := send(20); r != stale {
		t.Fatalf("request below the window: %v, want stale", r)
	}
	if len(applied) != 21 {
		t.Fatalf("applied %d requests, want 21", len(applied))
	}
	// The window survives an image.
	n, rest, err := st.unmarshal(st.appendBinary(nil))
	if err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	if r, _ := n.lookup(1, 11); r != stale {
		t.Fatalf("after image: request 11 %v, want stale", r)
	}
	if r, _ := n.lookup(1, 29+idWindow-1); r != fresh {
		t.Fatalf("after image: unseen request %v, want fresh", r)
	}
}

// The reply cache keeps a client's last depth replies, each with its
// own request, across wrapping and an image: a retry of any of them is
// answered with its reply, one older is not.
func TestReplyCacheKeepsLastReplies(t *testing.T) {
	const depth = 4
	st := newState(depth, 8)
	eng := engineFunc(func(ev Event) []byte { return []byte{byte(ev.ID)} })
	check := func(st *state, last uint64) {
		t.Helper()
		for id := uint64(1); id <= last; id++ {
			r, c := st.lookup(7, id)
			switch {
			case id+depth > last:
				if r != cachedReply || c.id != id || len(c.reply) != 1 || c.reply[0] != byte(id) {
					t.Fatalf("after %d: retry of %d: %v %+v, want its cached reply", last, id, r, c)
				}
			case r == cachedReply:
				t.Fatalf("after %d: request %d still cached", last, id)
			}
		}
	}
	for id := uint64(1); id <= 3*depth+1; id++ {
		st.apply(eng, &wireEvent{Seq: id, Client: 7, ID: id})
		check(st, id)
		// An image taken at any point of the ring decodes to the same
		// cache, and goes on evicting the oldest.
		n, rest, err := st.unmarshal(st.appendBinary(nil))
		if err != nil || len(rest) != 0 {
			t.Fatal(err)
		}
		check(n, id)
		n.apply(eng, &wireEvent{Seq: id + 1, Client: 7, ID: id + 1})
		check(n, id+1)
	}
}

type engineFunc func(Event) []byte

func (f engineFunc) Apply(ev Event) []byte    { return f(ev) }
func (engineFunc) Snapshot(w io.Writer) error { return nil }
func (engineFunc) Restore(r io.Reader) error  { return nil }

// A subscriber that falls behind learns how many changes it missed, on
// the next change delivered and from Missed, as rip's and sap's do.
func TestSubscriptionMissed(t *testing.T) {
	var h subscribe.Hub[Change]
	s := h.Subscribe(1)
	sub := &Subscription{C: s.C, sub: s}
	for i := range 4 {
		h.Publish(Change{Epoch: uint32(i)}, markChange)
	}
	if got := (<-sub.C).Epoch; got != 0 {
		t.Fatalf("first change epoch %d", got)
	}
	h.Publish(Change{Epoch: 9}, markChange)
	ch := <-sub.C
	if ch.Epoch != 9 || ch.Missed != 3 || sub.Missed() != 3 {
		t.Fatalf("after falling behind: %+v, Missed() %d; want epoch 9, 3 missed", ch, sub.Missed())
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C; ok {
		t.Fatal("C open after Close")
	}
}
