package rip

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/subscribe"
	"github.com/ipxkit/ipxkit/ipx"
)

// Origin says where a route came from.
type Origin uint8

// Route origins.
const (
	// OriginNone marks the absence of a route (an Event's Old or New).
	OriginNone Origin = iota
	// OriginConnected is a network of one of the Stack's own links.
	OriginConnected
	// OriginRIP is a route learned from a RIP response.
	OriginRIP
)

// String names the origin.
func (o Origin) String() string {
	switch o {
	case OriginNone:
		return "none"
	case OriginConnected:
		return "connected"
	case OriginRIP:
		return "rip"
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// Route is the table's best route to a network.
type Route struct {
	Network ipx.Network
	// Link is the link to send on; NextHop the router's node there
	// (zero for a connected network).
	Link    ipx.LinkID
	NextHop ipx.Node
	// Hops and Ticks are the metric as heard: routers to cross and delay
	// in 1/18 s. Zero for a connected network; Hops of Unreachable means
	// the route is dying and is kept only to be advertised as such.
	Hops, Ticks uint16
	Origin      Origin
	// Updated is when the route was last heard (or set, if connected).
	Updated time.Time
}

// Reachable reports whether r is a route that packets can take.
func (r Route) Reachable() bool { return r.Origin != OriginNone && r.Hops < Unreachable }

// Age is how long ago the route was last heard.
func (r Route) Age(now time.Time) time.Duration { return now.Sub(r.Updated) }

// Reason says why the best route to a network changed.
type Reason uint8

// Reasons for an Event.
const (
	// ReasonNew: a route appeared where there was none, or replaced an
	// unreachable one.
	ReasonNew Reason = iota + 1
	// ReasonBetter: another next hop offered a better metric.
	ReasonBetter
	// ReasonMetric: the current next hop changed its metric.
	ReasonMetric
	// ReasonPoisoned: the current next hop announced 16 hops.
	ReasonPoisoned
	// ReasonExpired: the route was not heard for MaxAge.
	ReasonExpired
	// ReasonConnected: the network became directly connected.
	ReasonConnected
	// ReasonDisconnected: the link of a directly connected network was
	// removed or failed. The network is then advertised at 16 hops and
	// held down as an expired route is.
	ReasonDisconnected
)

var reasonNames = [...]string{"", "new", "better", "metric", "poisoned", "expired", "connected", "disconnected"}

// String names the reason.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && r != 0 {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Event reports a change of the best route to a network. Old has
// OriginNone if there was no route. New is unreachable (Hops 16) for
// ReasonPoisoned and ReasonExpired. Refreshes that change nothing are not
// reported, nor is the removal of a route already reported unreachable.
type Event struct {
	Network  ipx.Network
	Old, New Route
	Reason   Reason
	// Missed counts the events this subscription dropped, its buffer
	// full, since the one before this: when it is not zero, the
	// subscriber's picture is stale, and Table.Routes gives the whole
	// table again. Zero in the events Apply and its kin return.
	Missed uint64
}

// TableConfig configures a Table. The zero value gives the defaults.
type TableConfig struct {
	// MaxAge is how long a learned route lives without being heard.
	// Default 3 minutes.
	MaxAge time.Duration
	// Garbage is how long an unreachable route is kept, advertised at
	// 16 hops, before it is removed. It is also a hold-down: meanwhile
	// another router's offer replaces the route only if it is no worse
	// than the route lost, so that stale copies echoed back around a
	// loop cannot take its place and count to infinity. Default 3
	// minutes (MaxAge), by which time every stale copy has aged out;
	// offers as good as the lost route are taken at once.
	Garbage time.Duration
	// MaxRoutes bounds the learned routes; directly connected networks
	// do not count and are never evicted. Routes offered beyond it are
	// refused and counted. Default 16384.
	MaxRoutes int
	// MaxPerNeighbour bounds the learned routes that go through one next
	// hop (a node on a link), so that a neighbour that announces too
	// many networks, by mistake or on purpose, cannot fill the table
	// and lock the others out. Routes it offers beyond it are refused
	// and counted, by neighbour. Default MaxRoutes/4.
	MaxPerNeighbour int
}

// Default TableConfig values.
const (
	DefaultMaxAge    = 3 * time.Minute
	DefaultGarbage   = DefaultMaxAge
	DefaultMaxRoutes = 16384
)

func (c *TableConfig) setDefaults() {
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Garbage == 0 {
		c.Garbage = DefaultGarbage
	}
	if c.MaxRoutes == 0 {
		c.MaxRoutes = DefaultMaxRoutes
	}
	if c.MaxPerNeighbour == 0 {
		c.MaxPerNeighbour = max(c.MaxRoutes/4, 1)
	}
}

// Validate reports a negative duration or bound, after filling in the
// defaults for zero fields.
func (c *TableConfig) Validate() error {
	d := *c
	c = &d
	c.setDefaults()
	switch {
	case c.MaxAge < 0:
		return fmt.Errorf("rip: MaxAge %v: %w", c.MaxAge, ErrBadConfig)
	case c.Garbage < 0:
		return fmt.Errorf("rip: Garbage %v: %w", c.Garbage, ErrBadConfig)
	case c.MaxRoutes < 0:
		return fmt.Errorf("rip: MaxRoutes %d: %w", c.MaxRoutes, ErrBadConfig)
	case c.MaxPerNeighbour < 0:
		return fmt.Errorf("rip: MaxPerNeighbour %d: %w", c.MaxPerNeighbour, ErrBadConfig)
	}
	return nil
}

// TableStats counts what a Table did.
type TableStats struct {
	// Routes is the number of routes held, connected and unreachable
	// ones included; Learned the routes learned by RIP.
	Routes, Learned int
	// Refused counts routes not added because the table was full or
	// their next hop had MaxPerNeighbour routes already; OverQuota the
	// latter alone.
	Refused, OverQuota uint64
	// RefusedFrom counts the refused routes by the neighbour that
	// offered them, for the first MaxRefusingNeighbours neighbours
	// refused (the others count in Refused alone).
	RefusedFrom map[Neighbour]uint64
	// BadEntries counts response entries ignored as invalid: network 0
	// or 0xFFFFFFFF, hops over 16.
	BadEntries uint64
	// EventsDropped counts events not delivered to a full subscription.
	EventsDropped uint64
	// HeldDown counts offers refused for an unreachable route because
	// they were worse than the route lost (see TableConfig.Garbage).
	HeldDown uint64
}

// Neighbour is a router heard on a link: the next hop of the routes it
// offers.
type Neighbour struct {
	Link ipx.LinkID
	Node ipx.Node
}

// MaxRefusingNeighbours bounds TableStats.RefusedFrom.
const MaxRefusingNeighbours = 64

// slot is a route as the table stores it: compact (40 bytes), with times
// as offsets from the table's epoch, which keeps the monotonic clock.
type slot struct {
	network ipx.Network
	link    int32
	nextHop ipx.Node
	hops    uint16
	ticks   uint16
	origin  Origin
	// lostHops is, for an unreachable route, the hops it had while
	// reachable (ticks keeps its value): the hold-down threshold.
	lostHops uint16
	// updated is when the route was last heard; deleteAt when an
	// unreachable route is removed (unused while reachable).
	updated, deleteAt time.Duration
}

func (s *slot) reachable() bool { return s.hops < Unreachable }

// worseThan reports whether the metric (ticks, hops) beats s's.
func (s *slot) worseThan(ticks, hops uint16) bool {
	return ticks < s.ticks || ticks == s.ticks && hops < s.hops
}

// Table holds the best route to each known network. It implements
// ipx.RouteSource, so a Stack sends through it. All methods are safe for
// concurrent use. Methods that change the table take the current time:
// the table reads no clock, so tests drive it directly.
type Table struct {
	cfg TableConfig

	mu      sync.RWMutex
	slots   []slot                // dense; order is arbitrary
	index   map[ipx.Network]int32 // network -> position in slots
	learned int
	// perNbr counts the learned slots (dying ones included) by next
	// hop; refusedFrom the refused offers, bounded.
	perNbr      map[Neighbour]*int
	refusedFrom map[Neighbour]uint64
	epoch       time.Time // the first now seen; slot times count from it
	subs        subscribe.Hub[Event]

	refused, overQuotaN, bad, dropped, heldDown atomic.Uint64
}

var _ ipx.RouteSource = (*Table)(nil)

// NewTable returns an empty table.
func NewTable(cfg TableConfig) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Table{
		cfg: cfg, index: make(map[ipx.Network]int32),
		perNbr: make(map[Neighbour]*int), refusedFrom: make(map[Neighbour]uint64),
	}, nil
}

// since converts now to a slot time. The caller holds t.mu for writing.
func (t *Table) since(now time.Time) time.Duration {
	if t.epoch.IsZero() {
		t.epoch = now
	}
	return now.Sub(t.epoch)
}

// route converts a slot. The caller holds t.mu.
func (t *Table) route(s *slot) Route {
	return Route{
		Network: s.network, Link: ipx.LinkID(s.link), NextHop: s.nextHop,
		Hops: s.hops, Ticks: s.ticks, Origin: s.origin, Updated: t.epoch.Add(s.updated),
	}
}

func (t *Table) get(n ipx.Network) *slot {
	i, ok := t.index[n]
	if !ok {
		return nil
	}
	return &t.slots[i]
}

// add appends s; the caller counts it (count) if it is learned.
func (t *Table) add(s slot) {
	t.index[s.network] = int32(len(t.slots))
	t.slots = append(t.slots, s)
}

func (s *slot) neighbour() Neighbour { return Neighbour{Link: ipx.LinkID(s.link), Node: s.nextHop} }

// counter returns the count of the routes through k, created at zero if
// need be. The caller holds t.mu for writing.
func (t *Table) counter(k Neighbour) *int {
	c := t.perNbr[k]
	if c == nil {
		c = new(int)
		t.perNbr[k] = c
	}
	return c
}

// uncount takes s, if learned, off its next hop's count. The caller holds
// t.mu for writing.
func (t *Table) uncount(s *slot) {
	if s.origin != OriginRIP {
		return
	}
	k := s.neighbour()
	if c := t.perNbr[k]; c != nil {
		if *c--; *c <= 0 {
			delete(t.perNbr, k)
		}
	}
}

// overQuota reports whether the neighbour k, holding n routes, may hold
// no more, and counts the refusal if so. The caller holds t.mu for
// writing.
func (t *Table) overQuota(k Neighbour, n int) bool {
	if n < t.cfg.MaxPerNeighbour {
		return false
	}
	t.overQuotaN.Add(1)
	t.refuse(k)
	return true
}

// refuse counts a route refused from k. The caller holds t.mu for
// writing.
func (t *Table) refuse(k Neighbour) {
	t.refused.Add(1)
	if _, ok := t.refusedFrom[k]; ok || len(t.refusedFrom) < MaxRefusingNeighbours {
		t.refusedFrom[k]++
	}
}

// remove deletes slots[i], moving the last slot into its place.
func (t *Table) remove(i int) {
	t.uncount(&t.slots[i])
	delete(t.index, t.slots[i].network)
	last := len(t.slots) - 1
	if i != last {
		t.slots[i] = t.slots[last]
		t.index[t.slots[i].network] = int32(i)
	}
	t.slots = t.slots[:last]
}

// LookupRoute implements ipx.RouteSource: the next hop to network n, or
// the default route (ipx.NetworkDefault) if n has none. Connected and
// unreachable networks give false: the Stack reaches connected ones
// directly. It does not allocate.
func (t *Table) LookupRoute(n ipx.Network) (ipx.Route, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.get(n)
	if s == nil {
		s = t.get(ipx.NetworkDefault)
	}
	if s == nil || s.origin != OriginRIP || !s.reachable() {
		return ipx.Route{}, false
	}
	return ipx.Route{Link: ipx.LinkID(s.link), NextHop: s.nextHop, Hops: s.hops, Ticks: s.ticks}, true
}

// lookupExact is the learned, reachable route to n itself.
func (t *Table) lookupExact(n ipx.Network) (ipx.Route, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.get(n)
	if s == nil || s.origin != OriginRIP || !s.reachable() {
		return ipx.Route{}, false
	}
	return ipx.Route{Link: ipx.LinkID(s.link), NextHop: s.nextHop, Hops: s.hops, Ticks: s.ticks}, true
}

// routeChain is the route source a Router installs with Config.Routes: the
// table's own route to a network, else the embedder's routes, else the
// table's default route.
type routeChain struct {
	table *Table
	next  ipx.RouteSource
}

// LookupRoute implements ipx.RouteSource without allocating.
func (c *routeChain) LookupRoute(n ipx.Network) (ipx.Route, bool) {
	if r, ok := c.table.lookupExact(n); ok {
		return r, true
	}
	if r, ok := c.next.LookupRoute(n); ok {
		return r, true
	}
	return c.table.lookupExact(ipx.NetworkDefault)
}

// Lookup returns the table's route to n, reachable or not, connected or
// learned.
func (t *Table) Lookup(n ipx.Network) (Route, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.get(n)
	if s == nil {
		return Route{}, false
	}
	return t.route(s), true
}

// Routes returns every route, sorted by network.
func (t *Table) Routes() []Route {
	t.mu.RLock()
	out := t.routesLocked()
	t.mu.RUnlock()
	return sortRoutes(out)
}

// SubscribeRoutes subscribes as Subscribe does and returns the routes
// known at that instant, taken together: a program that shows the table
// and then its changes misses no route learned in between and sees none
// twice.
func (t *Table) SubscribeRoutes(buffer int) (*Subscription, []Route) {
	// Every event is published under t.mu held for writing.
	t.mu.RLock()
	sub := t.Subscribe(buffer)
	out := t.routesLocked()
	t.mu.RUnlock()
	return sub, sortRoutes(out)
}

// routesLocked returns the table's routes, unsorted; t.mu held.
func (t *Table) routesLocked() []Route {
	out := make([]Route, 0, len(t.slots))
	for i := range t.slots {
		out = append(out, t.route(&t.slots[i]))
	}
	return out
}

func sortRoutes(rs []Route) []Route {
	slices.SortFunc(rs, func(a, b Route) int { return cmp.Compare(a.Network, b.Network) })
	return rs
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	t.mu.RLock()
	routes, learned := len(t.slots), t.learned
	var from map[Neighbour]uint64
	if len(t.refusedFrom) > 0 {
		from = maps.Clone(t.refusedFrom)
	}
	t.mu.RUnlock()
	return TableStats{
		Routes: routes, Learned: learned,
		Refused: t.refused.Load(), OverQuota: t.overQuotaN.Load(), RefusedFrom: from,
		BadEntries: t.bad.Load(), EventsDropped: t.dropped.Load(),
		HeldDown: t.heldDown.Load(),
	}
}

// SetConnected records network n as directly connected on link. It
// replaces any learned route to n and is never aged out or evicted.
// Network 0 and the reserved networks are ignored. The event, if any, is
// appended to events and published.
func (t *Table) SetConnected(now time.Time, link ipx.LinkID, n ipx.Network, events []Event) []Event {
	return t.setConnected(now, link, n, 0, 0, events)
}

// setConnected is SetConnected with the metric a newly connected network
// gets (see SetMetric), set in the same step so that no advertisement
// can see the network at another metric first.
func (t *Table) setConnected(now time.Time, link ipx.LinkID, n ipx.Network, hops, ticks uint16, events []Event) []Event {
	if n == ipx.NetworkLocal || n == ipx.NetworkAll || n == ipx.NetworkDefault {
		return events
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.since(now)
	next := slot{network: n, link: int32(link), origin: OriginConnected, hops: min(hops, Unreachable), ticks: ticks, updated: at}
	var old Route
	if s := t.get(n); s != nil {
		if s.origin == OriginConnected && s.link == int32(link) {
			return events
		}
		if s.origin == OriginRIP {
			t.learned--
		}
		old = t.route(s)
		t.uncount(s)
		*s = next
	} else {
		t.add(next)
	}
	return t.publish(events, Event{Network: n, Old: old, New: t.route(&next), Reason: ReasonConnected})
}

// disconnect turns the connected networks that are not in live (network
// -> link) into lost routes: advertised at 16 hops and held down for
// Garbage, then removed, as if they had expired.
func (t *Table) disconnect(now time.Time, live map[ipx.Network]ipx.LinkID, events []Event) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.since(now)
	for i := range t.slots {
		s := &t.slots[i]
		if s.origin != OriginConnected {
			continue
		}
		if _, ok := live[s.network]; ok {
			continue
		}
		old := t.route(s)
		lost := min(s.hops, Unreachable-1)
		*s = slot{
			network: s.network, link: s.link, origin: OriginRIP, hops: Unreachable, ticks: s.ticks,
			lostHops: lost, updated: at, deleteAt: at + t.cfg.Garbage,
		}
		*t.counter(s.neighbour())++
		t.learned++
		events = t.publish(events, Event{Network: s.network, Old: old, New: t.route(s), Reason: ReasonDisconnected})
	}
	return events
}

// SetMetric sets the metric advertised for the directly connected
// network n: routers advertise hops+1 and ticks+1 (so the default 0, 0
// goes out as 1 hop, 1 tick), and hops of Unreachable withdraws the
// network (advertised at 16 hops) without forgetting that it is
// connected. Router.SetShared uses it for the states of a network two
// servers share (see SharedState). The event, if the metric changed, is
// appended to events and published.
func (t *Table) SetMetric(now time.Time, n ipx.Network, hops, ticks uint16, events []Event) ([]Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.get(n)
	if s == nil || s.origin != OriginConnected {
		return events, fmt.Errorf("rip: metric of network %v: %w", n, ErrNotConnected)
	}
	hops = min(hops, Unreachable)
	if s.hops == hops && s.ticks == ticks {
		return events, nil
	}
	old := t.route(s)
	s.hops, s.ticks, s.updated = hops, ticks, t.since(now)
	return t.publish(events, Event{Network: n, Old: old, New: t.route(s), Reason: ReasonMetric}), nil
}

// Apply merges the entries of a RIP response heard on link from node
// from, at time now. The rules, after Novell's router specification:
// invalid entries are ignored and counted; a new network is added
// unless the table is full; the current next hop's word is taken as it
// is, 16 hops included (poison); another next hop replaces the route
// only if its metric is better (fewer ticks, then fewer hops), or if the
// route is unreachable and the offer no worse than the route lost (after
// the hold-down, or from a router directly on the network, any offer). Connected networks are never replaced. Changes
// of best route are appended to events and published to subscribers.
// With enough capacity in events it does not allocate.
func (t *Table) Apply(now time.Time, link ipx.LinkID, from ipx.Node, entries []Entry, events []Event) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.since(now)
	// Every route added or moved here goes through k: its count is
	// looked up once, and no route of k's is uncounted meanwhile.
	k := Neighbour{Link: link, Node: from}
	count := t.counter(k)
	defer func() {
		if *count == 0 {
			delete(t.perNbr, k)
		}
	}()
	for _, in := range entries {
		if in.Network == ipx.NetworkLocal || in.Network == ipx.NetworkAll || in.Hops > Unreachable {
			t.bad.Add(1)
			continue
		}
		dead := in.Hops == Unreachable
		next := slot{
			network: in.Network, link: int32(link), nextHop: from,
			hops: in.Hops, ticks: in.Ticks, origin: OriginRIP, updated: at,
		}
		cur := t.get(in.Network)
		var reason Reason
		switch {
		case cur == nil:
			if dead {
				continue
			}
			if t.overQuota(k, *count) {
				continue
			}
			if t.learned >= t.cfg.MaxRoutes {
				t.refuse(k)
				continue
			}
			t.learned++
			t.add(next)
			*count++
			events = t.publish(events, Event{Network: in.Network, New: t.route(&next), Reason: ReasonNew})
			continue
		case cur.origin == OriginConnected:
			continue
		case cur.link == int32(link) && cur.nextHop == from:
			switch {
			case dead && !cur.reachable():
				continue // keep the removal time
			case dead:
				next.ticks, next.lostHops = cur.ticks, cur.hops
				next.deleteAt = at + t.cfg.Garbage
				reason = ReasonPoisoned
			case !cur.reachable():
				reason = ReasonNew
			case cur.hops != next.hops || cur.ticks != next.ticks:
				reason = ReasonMetric
			default:
				cur.updated = at // a refresh: no event
				continue
			}
		case dead:
			continue
		case !cur.reachable():
			// A 1-hop offer comes from a router on the network itself,
			// never an echo of the lost route: no hold-down for it.
			if at < cur.deleteAt && next.hops > 1 && next.worseThan(cur.ticks, cur.lostHops) {
				t.heldDown.Add(1)
				continue
			}
			reason = ReasonNew
		case cur.worseThan(next.ticks, next.hops):
			reason = ReasonBetter
		default:
			continue
		}
		old := t.route(cur)
		if cur.link != next.link || cur.nextHop != from {
			if t.overQuota(k, *count) {
				continue
			}
			t.uncount(cur)
			*count++
		}
		*cur = next
		events = t.publish(events, Event{Network: in.Network, Old: old, New: t.route(&next), Reason: reason})
	}
	return events
}

// Expire ages the table at time now: learned routes not heard for
// MaxAge become unreachable (an event, and advertised at 16 hops for
// Garbage, the hold-down), and unreachable routes past that are removed.
func (t *Table) Expire(now time.Time, events []Event) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.since(now)
	// Backwards, so that remove's swap only moves slots already seen.
	for i := len(t.slots) - 1; i >= 0; i-- {
		s := &t.slots[i]
		if s.origin != OriginRIP {
			continue
		}
		if !s.reachable() {
			if at >= s.deleteAt {
				t.remove(i)
				t.learned--
			}
			continue
		}
		if at-s.updated >= t.cfg.MaxAge {
			old := t.route(s)
			s.lostHops, s.hops = s.hops, Unreachable
			s.deleteAt = at + t.cfg.Garbage
			events = t.publish(events, Event{Network: s.network, Old: old, New: t.route(s), Reason: ReasonExpired})
		}
	}
	return events
}

// NextDeadline returns when Expire next has work, or the zero time if
// no learned route is held.
func (t *Table) NextDeadline() time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var next time.Duration
	found := false
	for i := range t.slots {
		s := &t.slots[i]
		if s.origin != OriginRIP {
			continue
		}
		d := s.deleteAt
		if s.reachable() {
			d = s.updated + t.cfg.MaxAge
		}
		if !found || d < next {
			next, found = d, true
		}
	}
	if !found {
		return time.Time{}
	}
	return t.epoch.Add(next)
}

// advertised is the entry a router sends for a route: one hop and one
// tick more than the route, 16 hops at most.
func advertised(n ipx.Network, hops, ticks uint16) Entry {
	if hops >= Unreachable-1 {
		hops = Unreachable
	} else {
		hops++
	}
	if ticks < 0xFFFF {
		ticks++
	}
	return Entry{Network: n, Hops: hops, Ticks: ticks}
}

// AppendAdvert appends to dst the entries a router broadcasts on link:
// every route, with split horizon (none learned on link), metrics as a
// listener there sees them, dying routes at 16 hops, sorted by network.
func (t *Table) AppendAdvert(dst []Entry, link ipx.LinkID) []Entry {
	start := len(dst)
	t.mu.RLock()
	for i := range t.slots {
		s := &t.slots[i]
		if s.origin == OriginRIP && s.link == int32(link) {
			continue
		}
		dst = append(dst, advertised(s.network, s.hops, s.ticks))
	}
	t.mu.RUnlock()
	slices.SortFunc(dst[start:], func(a, b Entry) int { return cmp.Compare(a.Network, b.Network) })
	return dst
}

// AdvertEntry returns the entry advertising network n on link, with split
// horizon, and whether there is one to send. Unreachable routes give false
// unless dying is set.
func (t *Table) AdvertEntry(n ipx.Network, link ipx.LinkID, dying bool) (Entry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.get(n)
	if s == nil || s.origin == OriginRIP && s.link == int32(link) || !dying && !s.reachable() {
		return Entry{}, false
	}
	return advertised(s.network, s.hops, s.ticks), true
}

// Subscription delivers Events from a Table until closed.
type Subscription struct {
	// C receives the events. It is closed by Close.
	C   <-chan Event
	sub *subscribe.Sub[Event]
}

// Missed returns how many events the subscription has dropped so far
// because its buffer was full.
func (s *Subscription) Missed() uint64 { return s.sub.Missed() }

// Close ends the subscription and closes C. It is safe to call twice.
func (s *Subscription) Close() { s.sub.Close() }

// Subscribe returns a subscription whose channel holds up to buffer
// events (at least 1). Events that find it full are dropped and counted
// in TableStats.EventsDropped and Subscription.Missed: a slow subscriber
// never stalls routing. The next event delivered says how many it
// missed (Event.Missed); the subscriber then reads Table.Routes, which
// reflects at least every change reported until then, to resynchronise.
func (t *Table) Subscribe(buffer int) *Subscription {
	sub := t.subs.Subscribe(buffer)
	return &Subscription{C: sub.C, sub: sub}
}

func markEvent(ev *Event, missed uint64) { ev.Missed = missed }

// publish appends ev to events and offers it to every subscriber. The
// caller holds t.mu.
func (t *Table) publish(events []Event, ev Event) []Event {
	t.dropped.Add(uint64(t.subs.Publish(ev, markEvent)))
	return append(events, ev)
}
