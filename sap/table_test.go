package sap

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nodeA = ipx.Node{2, 0, 0, 0, 0, 0xa}
	nodeB = ipx.Node{2, 0, 0, 0, 0, 0xb}
)

func fs(name string, net ipx.Network, hops uint16) Entry {
	return Entry{Type: TypeFileServer, Name: MustName(name), Addr: ipx.Addr{Net: net, Node: nodeA, Socket: ipx.SocketNCP}, Hops: hops}
}

func TestTableUpdate(t *testing.T) {
	type step struct {
		e        Entry
		link     ipx.LinkID
		from     ipx.Node
		wantKind ChangeKind // 0: no change
		wantHops uint16     // hops held afterwards, 0: absent
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"add then refresh", []step{
			{fs("FS1", 1, 1), 1, nodeA, Added, 1},
			{fs("FS1", 1, 1), 1, nodeA, 0, 1},
		}},
		{"same origin may worsen", []step{
			{fs("FS1", 1, 1), 1, nodeA, Added, 1},
			{fs("FS1", 1, 4), 1, nodeA, Changed, 4},
		}},
		{"other origin must be better", []step{
			{fs("FS1", 1, 3), 1, nodeA, Added, 3},
			{fs("FS1", 1, 5), 2, nodeB, 0, 3},
			{fs("FS1", 1, 3), 2, nodeB, 0, 3},
			{fs("FS1", 1, 2), 2, nodeB, Changed, 2},
		}},
		{"16 hops from origin removes", []step{
			{fs("FS1", 1, 1), 1, nodeA, Added, 1},
			{fs("FS1", 1, 16), 1, nodeA, Removed, 0},
		}},
		{"16 hops from elsewhere ignored", []step{
			{fs("FS1", 1, 1), 1, nodeA, Added, 1},
			{fs("FS1", 1, 16), 1, nodeB, 0, 1},
			{fs("FS1", 1, 16), 2, nodeA, 0, 1},
		}},
		{"16 hops for unknown ignored", []step{
			{fs("FS1", 1, 16), 1, nodeA, 0, 0},
		}},
		{"address change from origin", []step{
			{fs("FS1", 1, 1), 1, nodeA, Added, 1},
			{fs("FS1", 2, 1), 1, nodeA, Changed, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := NewTable(TableConfig{})
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				ch, ok, err := tab.Update(t0, st.e, st.link, st.from)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ok != (st.wantKind != 0) || ch.Kind != st.wantKind {
					t.Fatalf("step %d: change %v %v, want %v", i, ok, ch.Kind, st.wantKind)
				}
				s, found := tab.Lookup(st.e.Type, st.e.Name)
				if found != (st.wantHops != 0) || s.Hops != st.wantHops {
					t.Fatalf("step %d: held %v hops %d, want hops %d", i, found, s.Hops, st.wantHops)
				}
				if ok && ch.Kind != Removed && (s.Link != st.link || s.From != st.from || s.Addr != st.e.Addr) {
					t.Fatalf("step %d: origin %d %v addr %v", i, s.Link, s.From, s.Addr)
				}
				if ok && ch.Kind == Removed && ch.Service.Hops != MaxHops {
					t.Fatalf("step %d: removal carries %d hops", i, ch.Service.Hops)
				}
			}
		})
	}
}

func TestTableBadAndFull(t *testing.T) {
	tab, _ := NewTable(TableConfig{MaxServices: 3})
	if _, _, err := tab.Update(t0, fs("X", 1, 17), 1, nodeA); !errors.Is(err, ErrBadHops) {
		t.Fatalf("hops 17: %v", err)
	}
	if _, _, err := tab.Update(t0, Entry{Type: 4, Hops: 1}, 1, nodeA); !errors.Is(err, ErrBadName) {
		t.Fatalf("no name: %v", err)
	}
	for i := range 100 {
		_, _, err := tab.Update(t0, fs(fmt.Sprintf("S%d", i), 1, 1), 1, nodeA)
		if i >= 3 && !errors.Is(err, ErrTableFull) {
			t.Fatalf("service %d: %v, want ErrTableFull", i, err)
		}
	}
	// A known service still updates when full.
	if ch, ok, err := tab.Update(t0, fs("S1", 1, 2), 1, nodeA); err != nil || !ok || ch.Kind != Changed {
		t.Fatalf("update when full: %v %v %v", ch, ok, err)
	}
	st := tab.Stats()
	want := TableStats{Services: 3, Added: 3, Changed: 1, Refused: 97, BadEntries: 2}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestTableExpire(t *testing.T) {
	tab, _ := NewTable(TableConfig{MaxAge: time.Minute})
	tab.Update(t0, fs("OLD", 1, 1), 1, nodeA)
	tab.Update(t0.Add(30*time.Second), fs("NEW", 1, 1), 1, nodeA)
	if at, ok := tab.NextExpiry(); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextExpiry %v %v", at, ok)
	}
	if got := tab.Expire(t0.Add(59*time.Second), nil); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	// A refresh restarts the clock.
	tab.Update(t0.Add(50*time.Second), fs("OLD", 1, 1), 1, nodeA)
	got := tab.Expire(t0.Add(90*time.Second), nil)
	if len(got) != 1 || got[0].Name.String() != "NEW" || got[0].Hops != MaxHops {
		t.Fatalf("expired %v, want NEW at 16 hops", got)
	}
	if tab.Len() != 1 || tab.Stats().Expired != 1 {
		t.Fatalf("len %d stats %+v", tab.Len(), tab.Stats())
	}
	if _, ok := tab.Lookup(TypeFileServer, MustName("OLD")); !ok {
		t.Fatal("OLD gone")
	}
}

func TestTableServices(t *testing.T) {
	tab, _ := NewTable(TableConfig{})
	tab.Update(t0, fs("B", 1, 1), 1, nodeA)
	tab.Update(t0, fs("A", 1, 1), 1, nodeA)
	tab.Update(t0, Entry{Type: TypePrintServer, Name: MustName("P"), Hops: 1}, 1, nodeA)
	got := tab.Services(TypeFileServer, nil)
	if len(got) != 2 || got[0].Name.String() != "A" || got[1].Name.String() != "B" {
		t.Fatalf("file servers %v", got)
	}
	if got := tab.Services(TypeWildcard, nil); len(got) != 3 || got[2].Type != TypePrintServer {
		t.Fatalf("all %v", got)
	}
	if err := (&TableConfig{MaxAge: -1}).Validate(); err == nil {
		t.Fatal("negative MaxAge accepted")
	}
}

// TestTableFlood: one neighbour offering far more services than the
// table holds cannot lock out another: a newcomer takes the place of one
// of the flooder's services, and the refusals are counted against the
// flooder.
func TestTableFlood(t *testing.T) {
	tab, _ := NewTable(TableConfig{MaxServices: 100})
	for i := range 100_000 {
		tab.Update(t0, fs(fmt.Sprintf("F%d", i), 1, 1), 1, nodeA)
	}
	if ch, ok, err := tab.Update(t0, fs("LEGIT", 2, 1), 2, nodeB); err != nil || !ok || ch.Kind != Added {
		t.Fatalf("legitimate service: %v %v %v", ch, ok, err)
	}
	if _, ok := tab.Lookup(TypeFileServer, MustName("LEGIT")); !ok || tab.Len() != 100 {
		t.Fatalf("legitimate service not held, %d held", tab.Len())
	}
	// The newcomer may grow to a fair share, not beyond.
	for i := range 100 {
		tab.Update(t0, fs(fmt.Sprintf("B%d", i), 2, 1), 2, nodeB)
	}
	nbs := tab.Neighbours()
	want := []Neighbour{
		{Link: 1, Node: nodeA, Services: 50, Refused: 100_000 - 100},
		{Link: 2, Node: nodeB, Services: 50, Refused: 51},
	}
	if fmt.Sprint(nbs) != fmt.Sprint(want) {
		t.Fatalf("neighbours %+v, want %+v", nbs, want)
	}
	if st := tab.Stats(); st.Evicted != 50 || st.Refused != 100_000-100+51 || st.Services != 100 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTablePerNeighbour: MaxPerNeighbour caps what one neighbour holds,
// full table or not.
func TestTablePerNeighbour(t *testing.T) {
	tab, err := NewTable(TableConfig{MaxServices: 100, MaxPerNeighbour: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, _, err := tab.Update(t0, fs(fmt.Sprintf("F%d", i), 1, 1), 1, nodeA)
		if i >= 10 && !errors.Is(err, ErrTableFull) {
			t.Fatalf("service %d: %v", i, err)
		}
	}
	// A better offer from the capped neighbour does not move a service
	// to it either.
	tab.Update(t0, fs("OTHER", 2, 5), 2, nodeB)
	if ch, ok, _ := tab.Update(t0, fs("OTHER", 2, 1), 1, nodeA); ok {
		t.Fatalf("moved to a neighbour at its cap: %v", ch)
	}
	if n := tab.Neighbours(); len(n) != 2 || n[0].Services != 10 || n[0].Refused != 11 {
		t.Fatalf("neighbours %+v", n)
	}
	if err := (&TableConfig{MaxPerNeighbour: -1}).Validate(); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("negative MaxPerNeighbour: %v", err)
	}
}

// TestTableSubscribe: a subscriber sees every change, adds, changes,
// removals, expiries and evictions alike; one that falls behind learns
// how many it missed with the next change, and resynchronises from
// Services.
func TestTableSubscribe(t *testing.T) {
	tab, _ := NewTable(TableConfig{MaxServices: 4, MaxAge: time.Minute})
	sub := tab.Subscribe(2)
	tab.Update(t0, fs("A", 1, 1), 1, nodeA)
	tab.Update(t0, fs("A", 1, 1), 1, nodeA) // a refresh: no change
	tab.Update(t0, fs("A", 1, 2), 1, nodeA)
	for _, want := range []string{"added A/1", "changed A/2"} {
		if ch := <-sub.C; fmt.Sprintf("%v %s/%d", ch.Kind, ch.Service.Name, ch.Service.Hops) != want || ch.Missed != 0 {
			t.Fatalf("got %+v, want %s", ch, want)
		}
	}
	// Falling behind: B and C fill the buffer; D, B's removal and E
	// find it full.
	for _, n := range []string{"B", "C", "D"} {
		tab.Update(t0, fs(n, 1, 1), 1, nodeA)
	}
	tab.Update(t0, fs("B", 1, 16), 1, nodeA)
	tab.Update(t0, fs("E", 1, 1), 1, nodeA)
	<-sub.C
	<-sub.C
	if sub.Missed() != 3 || tab.Stats().ChangesDropped != 3 {
		t.Fatalf("missed %d, stats %+v", sub.Missed(), tab.Stats())
	}
	// The table is full: a newcomer evicts one of A's. The next change
	// says three were missed.
	tab.Update(t0.Add(30*time.Second), fs("F", 2, 1), 2, nodeB)
	ch := <-sub.C
	if ch.Kind != Removed || ch.Missed != 3 {
		t.Fatalf("after falling behind: %+v", ch)
	}
	if ch := <-sub.C; ch.Kind != Added || ch.Service.Name.String() != "F" || ch.Missed != 0 {
		t.Fatalf("then %+v", ch)
	}
	if got := tab.Services(TypeWildcard, nil); len(got) != 4 {
		t.Fatalf("resync from %v", got)
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C; ok {
		t.Fatal("C open after Close")
	}

	// Expiry and a link's removal are changes too.
	sub = tab.Subscribe(10)
	defer sub.Close()
	tab.Expire(t0.Add(time.Minute), nil)
	for range 3 {
		if ch := <-sub.C; ch.Kind != Removed || ch.Service.Hops != MaxHops || ch.Service.Link != 1 {
			t.Fatalf("expiry as %+v", ch)
		}
	}
	tab.dropLink(t0, 2)
	if ch := <-sub.C; ch.Kind != Removed || ch.Service.Name.String() != "F" {
		t.Fatalf("link removal as %+v", ch)
	}
	if tab.Len() != 0 || len(sub.C) != 0 || sub.Missed() != 0 {
		t.Fatalf("%d left, %d changes more, %d missed", tab.Len(), len(sub.C), sub.Missed())
	}
}
