package rip

import (
	"errors"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nodeA = ipx.Node{0, 0, 0, 0, 0, 0xa}
	nodeB = ipx.Node{0, 0, 0, 0, 0, 0xb}
)

func newTable(t *testing.T, cfg TableConfig) *Table {
	t.Helper()
	tb, err := NewTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestTableApply(t *testing.T) {
	type step struct {
		link    ipx.LinkID
		from    ipx.Node
		entries []Entry
		reasons []Reason // events expected from this step
	}
	tests := []struct {
		name  string
		steps []step
		want  Route // final route to network 5 (Updated ignored)
		found bool
	}{
		{
			name:  "new route",
			steps: []step{{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}}},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 2, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name: "refresh is silent",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{1, nodeA, []Entry{{5, 2, 3}}, nil},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 2, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name: "better ticks from another router",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{2, nodeB, []Entry{{5, 3, 2}}, []Reason{ReasonBetter}},
			},
			want:  Route{Network: 5, Link: 2, NextHop: nodeB, Hops: 3, Ticks: 2, Origin: OriginRIP},
			found: true,
		},
		{
			name: "same ticks fewer hops is better",
			steps: []step{
				{1, nodeA, []Entry{{5, 3, 3}}, []Reason{ReasonNew}},
				{1, nodeB, []Entry{{5, 2, 3}}, []Reason{ReasonBetter}},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeB, Hops: 2, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name: "equal or worse from another router ignored",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{2, nodeB, []Entry{{5, 2, 3}, {5, 1, 4}, {5, 16, 1}}, nil},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 2, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name: "current next hop worsens",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{1, nodeA, []Entry{{5, 4, 6}}, []Reason{ReasonMetric}},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 4, Ticks: 6, Origin: OriginRIP},
			found: true,
		},
		{
			name: "poison by current next hop, then an alternative",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{1, nodeA, []Entry{{5, 16, 3}}, []Reason{ReasonPoisoned}},
				{1, nodeA, []Entry{{5, 16, 3}}, nil},
				{2, nodeB, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
			},
			want:  Route{Network: 5, Link: 2, NextHop: nodeB, Hops: 2, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name: "worse alternative held down",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{1, nodeA, []Entry{{5, 16, 3}}, []Reason{ReasonPoisoned}},
				{2, nodeB, []Entry{{5, 3, 4}, {5, 2, 4}, {5, 3, 3}}, nil},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 16, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name: "lost route comes back from its next hop",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{1, nodeA, []Entry{{5, 16, 3}}, []Reason{ReasonPoisoned}},
				{1, nodeA, []Entry{{5, 5, 6}}, []Reason{ReasonNew}},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 5, Ticks: 6, Origin: OriginRIP},
			found: true,
		},
		{
			name: "same router on another link is another next hop",
			steps: []step{
				{1, nodeA, []Entry{{5, 2, 3}}, []Reason{ReasonNew}},
				{2, nodeA, []Entry{{5, 16, 3}}, nil},
			},
			want:  Route{Network: 5, Link: 1, NextHop: nodeA, Hops: 2, Ticks: 3, Origin: OriginRIP},
			found: true,
		},
		{
			name:  "unreachable unknown network not added",
			steps: []step{{1, nodeA, []Entry{{5, 16, 3}}, nil}},
		},
		{
			name:  "bad entries ignored",
			steps: []step{{1, nodeA, []Entry{{0, 1, 1}, {0xFFFFFFFF, 1, 1}, {5, 17, 1}, {5, 0xFFFF, 0xFFFF}}, nil}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(t, TableConfig{})
			now := t0
			for i, s := range tt.steps {
				now = now.Add(time.Second)
				evs := tb.Apply(now, s.link, s.from, s.entries, nil)
				if len(evs) != len(s.reasons) {
					t.Fatalf("step %d: events %+v, want reasons %v", i, evs, s.reasons)
				}
				for j, ev := range evs {
					if ev.Reason != s.reasons[j] {
						t.Errorf("step %d: reason %v, want %v", i, ev.Reason, s.reasons[j])
					}
				}
			}
			got, ok := tb.Lookup(5)
			if ok != tt.found {
				t.Fatalf("Lookup found=%v, want %v (%+v)", ok, tt.found, got)
			}
			got.Updated = time.Time{}
			if got != tt.want {
				t.Errorf("route %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTableBadEntriesCounted(t *testing.T) {
	tb := newTable(t, TableConfig{})
	tb.Apply(t0, 1, nodeA, []Entry{{0, 1, 1}, {0xFFFFFFFF, 1, 1}, {5, 17, 1}, {6, 1, 1}}, nil)
	if st := tb.Stats(); st.BadEntries != 3 || st.Learned != 1 {
		t.Errorf("stats %+v, want 3 bad, 1 learned", st)
	}
}

func TestTableConnected(t *testing.T) {
	tb := newTable(t, TableConfig{MaxRoutes: 2, MaxPerNeighbour: 2})
	tb.Apply(t0, 1, nodeA, []Entry{{7, 1, 1}}, nil)
	evs := tb.SetConnected(t0, 2, 7, nil)
	if len(evs) != 1 || evs[0].Reason != ReasonConnected || evs[0].Old.NextHop != nodeA {
		t.Fatalf("events %+v", evs)
	}
	// Offers and poison for a connected network change nothing.
	if evs := tb.Apply(t0, 1, nodeA, []Entry{{7, 16, 1}, {7, 1, 0}}, nil); len(evs) != 0 {
		t.Errorf("connected network changed: %+v", evs)
	}
	if _, ok := tb.LookupRoute(7); ok {
		t.Error("LookupRoute answers for a connected network; the Stack reaches it directly")
	}
	// A flood fills the learned bound but never touches the connected one,
	// and it never ages out.
	flood := make([]Entry, 50)
	for i := range flood {
		flood[i] = Entry{Network: ipx.Network(100 + i), Hops: 1, Ticks: 1}
	}
	tb.Apply(t0, 1, nodeA, flood, nil)
	tb.Expire(t0.Add(time.Hour), nil)
	tb.Expire(t0.Add(2*time.Hour), nil)
	r, ok := tb.Lookup(7)
	if !ok || r.Origin != OriginConnected || r.Link != 2 {
		t.Fatalf("connected route %+v %v", r, ok)
	}
	st := tb.Stats()
	if st.Refused != 48 || st.Routes != 1 {
		t.Errorf("stats %+v, want 48 refused and only the connected route left", st)
	}
	// Reserved networks are not connected networks.
	if evs := tb.SetConnected(t0, 3, 0, nil); len(evs) != 0 {
		t.Errorf("network 0 recorded: %+v", evs)
	}
}

func TestTableBound(t *testing.T) {
	tb := newTable(t, TableConfig{MaxRoutes: 10, MaxPerNeighbour: 10})
	for i := range 30 {
		tb.Apply(t0, 1, nodeA, []Entry{{ipx.Network(i + 1), 1, 1}}, nil)
	}
	st := tb.Stats()
	if st.Learned != 10 || st.Refused != 20 {
		t.Errorf("stats %+v, want 10 learned 20 refused", st)
	}
	// Updates to held routes still apply when full.
	if evs := tb.Apply(t0, 1, nodeA, []Entry{{1, 2, 2}}, nil); len(evs) != 1 {
		t.Errorf("update of held route when full: %+v", evs)
	}
}

// TestTableQuota: one neighbour announcing more than MaxPerNeighbour
// networks is refused beyond it, counted by neighbour, and the others
// still get in; its routes leaving frees its quota.
func TestTableQuota(t *testing.T) {
	tb := newTable(t, TableConfig{MaxRoutes: 100, MaxAge: time.Minute, Garbage: time.Minute})
	flood := make([]Entry, 1000)
	for i := range flood {
		flood[i] = Entry{ipx.Network(0x10000 + i), 1, 1}
	}
	tb.Apply(t0, 1, nodeA, flood, nil)
	st := tb.Stats()
	if st.Learned != 25 || st.Refused != 975 || st.OverQuota != 975 {
		t.Errorf("stats %+v, want 25 learned (MaxRoutes/4), 975 refused", st)
	}
	if got := st.RefusedFrom[Neighbour{1, nodeA}]; got != 975 {
		t.Errorf("RefusedFrom %v", st.RefusedFrom)
	}
	if evs := tb.Apply(t0, 2, nodeB, []Entry{{5, 1, 1}}, nil); len(evs) != 1 || evs[0].Reason != ReasonNew {
		t.Fatalf("legitimate route: %+v", evs)
	}
	// A better offer for a flooder's network moves it to B: A's count
	// drops, and A may take another network.
	if evs := tb.Apply(t0, 2, nodeB, []Entry{{0x10000, 0, 0}}, nil); len(evs) != 1 {
		t.Fatalf("better offer: %+v", evs)
	}
	if evs := tb.Apply(t0, 1, nodeA, []Entry{{0x20000, 1, 1}}, nil); len(evs) != 1 {
		t.Errorf("A under quota again: %+v", evs)
	}
	// The same neighbour's word on its own routes still applies.
	if evs := tb.Apply(t0, 1, nodeA, []Entry{{0x10001, 2, 2}}, nil); len(evs) != 1 {
		t.Errorf("update from A at quota: %+v", evs)
	}
	// Its routes age out and are removed: the quota is free again.
	tb.Expire(t0.Add(time.Minute), nil)
	tb.Expire(t0.Add(2*time.Minute), nil)
	if evs := tb.Apply(t0.Add(2*time.Minute), 1, nodeA, flood[:30], nil); len(evs) != 25 {
		t.Errorf("after expiry: %d new routes, want 25", len(evs))
	}
	// Refusals are kept for MaxRefusingNeighbours neighbours only.
	for i := range 2 * MaxRefusingNeighbours {
		tb.Apply(t0.Add(2*time.Minute), 3, ipx.Node{1, byte(i)}, flood, nil)
	}
	if n := len(tb.Stats().RefusedFrom); n != MaxRefusingNeighbours {
		t.Errorf("RefusedFrom holds %d neighbours", n)
	}
}

// TestSubscriptionMissed: a subscriber that falls behind learns how many
// events it missed from the next one it gets, and from Missed.
func TestSubscriptionMissed(t *testing.T) {
	tb := newTable(t, TableConfig{})
	sub := tb.Subscribe(2)
	tb.Apply(t0, 1, nodeA, []Entry{{1, 1, 1}, {2, 1, 1}, {3, 1, 1}, {4, 1, 1}, {5, 1, 1}}, nil)
	if got := sub.Missed(); got != 3 {
		t.Errorf("Missed %d, want 3", got)
	}
	for _, want := range []ipx.Network{1, 2} {
		if ev := <-sub.C; ev.Network != want || ev.Missed != 0 {
			t.Errorf("event %+v", ev)
		}
	}
	tb.Apply(t0, 1, nodeA, []Entry{{6, 1, 1}}, nil)
	ev := <-sub.C
	if ev.Network != 6 || ev.Missed != 3 {
		t.Fatalf("event %+v, want network 6 reporting 3 missed", ev)
	}
	// Resynchronise: the table has everything the missed events said.
	if rs := tb.Routes(); len(rs) != 6 {
		t.Errorf("%d routes", len(rs))
	}
	tb.Apply(t0, 1, nodeA, []Entry{{7, 1, 1}}, nil)
	if ev := <-sub.C; ev.Missed != 0 {
		t.Errorf("event %+v, want nothing missed", ev)
	}
}

func TestTableExpire(t *testing.T) {
	tb := newTable(t, TableConfig{MaxAge: 3 * time.Minute, Garbage: time.Minute})
	tb.Apply(t0, 1, nodeA, []Entry{{5, 1, 1}, {6, 1, 1}}, nil)
	tb.Apply(t0.Add(time.Minute), 1, nodeA, []Entry{{6, 1, 1}}, nil)
	if d := tb.NextDeadline(); !d.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("NextDeadline %v", d)
	}
	if evs := tb.Expire(t0.Add(3*time.Minute-1), nil); len(evs) != 0 {
		t.Fatalf("expired early: %+v", evs)
	}
	evs := tb.Expire(t0.Add(3*time.Minute), nil)
	if len(evs) != 1 || evs[0].Network != 5 || evs[0].Reason != ReasonExpired || evs[0].New.Hops != 16 {
		t.Fatalf("events %+v", evs)
	}
	if _, ok := tb.LookupRoute(5); ok {
		t.Error("expired route still used")
	}
	// Dying routes are advertised at 16 until removed.
	adv := tb.AppendAdvert(nil, 2)
	if len(adv) != 2 || adv[0] != (Entry{5, 16, 2}) || adv[1] != (Entry{6, 2, 2}) {
		t.Errorf("advert %+v", adv)
	}
	if d := tb.NextDeadline(); !d.Equal(t0.Add(4 * time.Minute)) {
		t.Errorf("NextDeadline %v, want removal of 5 at 4 min", d)
	}
	tb.Expire(t0.Add(4*time.Minute), nil)
	if _, ok := tb.Lookup(5); ok {
		t.Error("dying route not removed")
	}
	// Network 6, last heard at 1 min, expired at 4 min and is dying now.
	if r, ok := tb.Lookup(6); !ok || r.Reachable() {
		t.Errorf("route 6 = %+v %v, want unreachable", r, ok)
	}
	if st := tb.Stats(); st.Learned != 1 || st.Routes != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTableAdvert(t *testing.T) {
	tb := newTable(t, TableConfig{})
	tb.SetConnected(t0, 1, 0x10, nil)
	tb.SetConnected(t0, 2, 0x20, nil)
	tb.Apply(t0, 1, nodeA, []Entry{{0x30, 1, 1}, {0x40, 15, 20}, {0x50, 3, 0xFFFF}}, nil)
	tests := []struct {
		link ipx.LinkID
		want []Entry
	}{
		{1, []Entry{{0x10, 1, 1}, {0x20, 1, 1}}},
		{2, []Entry{{0x10, 1, 1}, {0x20, 1, 1}, {0x30, 2, 2}, {0x40, 16, 21}, {0x50, 4, 0xFFFF}}},
	}
	for _, tt := range tests {
		got := tb.AppendAdvert(nil, tt.link)
		if len(got) != len(tt.want) {
			t.Fatalf("link %d: %+v, want %+v", tt.link, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("link %d entry %d: %+v, want %+v", tt.link, i, got[i], tt.want[i])
			}
		}
	}
	if _, ok := tb.AdvertEntry(0x30, 1, false); ok {
		t.Error("AdvertEntry ignores split horizon")
	}
	if e, ok := tb.AdvertEntry(0x30, 2, false); !ok || e != (Entry{0x30, 2, 2}) {
		t.Errorf("AdvertEntry = %+v %v", e, ok)
	}
}

func TestLookupRoute(t *testing.T) {
	tb := newTable(t, TableConfig{})
	tb.Apply(t0, 3, nodeB, []Entry{{5, 2, 3}}, nil)
	r, ok := tb.LookupRoute(5)
	if !ok || r != (ipx.Route{Link: 3, NextHop: nodeB, Hops: 2, Ticks: 3}) {
		t.Errorf("LookupRoute(5) = %+v %v", r, ok)
	}
	if _, ok := tb.LookupRoute(6); ok {
		t.Error("route to unknown network")
	}
	tb.Apply(t0, 1, nodeA, []Entry{{ipx.NetworkDefault, 1, 1}}, nil)
	if r, ok := tb.LookupRoute(6); !ok || r.NextHop != nodeA {
		t.Errorf("default route not used: %+v %v", r, ok)
	}
	allocs := testing.AllocsPerRun(1000, func() { tb.LookupRoute(5) })
	if allocs != 0 {
		t.Errorf("LookupRoute allocates %v", allocs)
	}
}

func TestSubscription(t *testing.T) {
	tb := newTable(t, TableConfig{})
	sub := tb.Subscribe(1)
	tb.Apply(t0, 1, nodeA, []Entry{{5, 2, 3}, {6, 2, 3}}, nil)
	ev := <-sub.C
	if ev.Network != 5 || ev.Reason != ReasonNew || ev.Old.Origin != OriginNone || ev.New.NextHop != nodeA {
		t.Errorf("event %+v", ev)
	}
	if st := tb.Stats(); st.EventsDropped != 1 {
		t.Errorf("EventsDropped %d, want 1", st.EventsDropped)
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C; ok {
		t.Error("channel open after Close")
	}
	tb.Apply(t0, 1, nodeA, []Entry{{7, 2, 3}}, nil) // no panic on closed subscription
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"negative age", Config{Table: TableConfig{MaxAge: -1}}, false},
		{"negative bound", Config{Table: TableConfig{MaxRoutes: -1}}, false},
		{"negative quota", Config{Table: TableConfig{MaxPerNeighbour: -1}}, false},
		{"negative close timeout", Config{CloseTimeout: -1}, false},
		{"bad shared state", Config{Shared: map[ipx.Network]SharedState{5: 3}}, false},
		{"age below interval", Config{UpdateInterval: 5 * time.Minute}, false},
		{"gap too long", Config{UpdateInterval: time.Second, Table: TableConfig{MaxAge: time.Minute}, PacketGap: time.Second}, false},
		{"fast", Config{UpdateInterval: time.Second, Table: TableConfig{MaxAge: 3 * time.Second}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Errorf("error %v does not match ErrBadConfig", err)
			}
		})
	}
}

func TestTableHoldDown(t *testing.T) {
	tb := newTable(t, TableConfig{MaxAge: 3 * time.Minute, Garbage: 3 * time.Minute})
	tb.Apply(t0, 1, nodeA, []Entry{{5, 2, 3}}, nil)
	// Expired at 3 min: held down until 6 min.
	if evs := tb.Expire(t0.Add(3*time.Minute), nil); len(evs) != 1 || evs[0].New.Ticks != 3 {
		t.Fatalf("expire: %+v", evs)
	}
	at := t0.Add(5 * time.Minute)
	if evs := tb.Apply(at, 2, nodeB, []Entry{{5, 4, 5}}, nil); len(evs) != 0 {
		t.Errorf("worse offer taken during hold-down: %+v", evs)
	}
	if st := tb.Stats(); st.HeldDown != 1 {
		t.Errorf("HeldDown %d, want 1", st.HeldDown)
	}
	// Removed at 6 min; then any offer is new.
	tb.Expire(t0.Add(6*time.Minute), nil)
	if _, ok := tb.Lookup(5); ok {
		t.Fatal("dying route not removed after the hold-down")
	}
	if evs := tb.Apply(t0.Add(6*time.Minute), 2, nodeB, []Entry{{5, 4, 5}}, nil); len(evs) != 1 || evs[0].Reason != ReasonNew {
		t.Errorf("offer after the hold-down: %+v", evs)
	}
}

// SubscribeRoutes gives the routes known and the changes after them,
// together: with routes learned while others subscribe, every
// subscriber's snapshot plus events accounts for each route exactly
// once (a subscription taken after the snapshot, as ipxroute's was,
// missed a route learned in between).
func TestSubscribeRoutes(t *testing.T) {
	tb := newTable(t, TableConfig{})
	tb.Apply(t0, 1, nodeA, []Entry{{5, 1, 1}}, nil)
	sub, routes := tb.SubscribeRoutes(4)
	defer sub.Close()
	if len(routes) != 1 || routes[0].Network != 5 {
		t.Fatalf("routes %+v, want network 5", routes)
	}
	tb.Apply(t0, 1, nodeA, []Entry{{6, 1, 1}}, nil)
	if ev := <-sub.C; ev.Network != 6 || ev.Reason != ReasonNew {
		t.Fatalf("event %+v, want network 6 new", ev)
	}

	const networks = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range ipx.Network(networks) {
			tb.Apply(t0, 1, nodeA, []Entry{{100 + n, 1, 1}}, nil)
		}
	}()
	var subs []*Subscription
	var seen []map[ipx.Network]int
	for range 20 {
		s, rs := tb.SubscribeRoutes(2 * networks)
		m := map[ipx.Network]int{}
		for _, r := range rs {
			m[r.Network]++
		}
		subs, seen = append(subs, s), append(seen, m)
	}
	<-done
	for i, s := range subs {
		for len(s.C) > 0 {
			seen[i][(<-s.C).Network]++
		}
		s.Close()
		for n := range ipx.Network(networks) {
			if c := seen[i][100+n]; c != 1 {
				t.Fatalf("subscriber %d saw network %v %d times, want once", i, 100+n, c)
			}
		}
	}
}
