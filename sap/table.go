package sap

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipxkit/ipxkit/internal/subscribe"
	"github.com/ipxkit/ipxkit/ipx"
)

// TableConfig sizes a Table. The zero value takes the defaults.
type TableConfig struct {
	// MaxServices bounds the table. Default 4096. When it is full, a
	// new service from a neighbour (a sender on a link) takes the place
	// of one from the neighbour holding the most, if that one holds at
	// least two more; otherwise it is refused and counted. So one
	// neighbour announcing more services than the table holds cannot
	// lock out the others: they share the table fairly.
	MaxServices int
	// MaxPerNeighbour bounds the services one neighbour may hold even
	// when the table has room. Default MaxServices.
	MaxPerNeighbour int
	// MaxAge is how long a service lives without being heard again.
	// Default 3 minutes, three missed broadcasts.
	MaxAge time.Duration
}

// Defaults for TableConfig.
const (
	DefaultMaxServices = 4096
	DefaultMaxAge      = 3 * time.Minute
)

// Validate reports a negative size or age.
func (c *TableConfig) Validate() error {
	if c.MaxServices < 0 {
		return fmt.Errorf("sap: MaxServices %d is negative: %w", c.MaxServices, ErrBadConfig)
	}
	if c.MaxPerNeighbour < 0 {
		return fmt.Errorf("sap: MaxPerNeighbour %d is negative: %w", c.MaxPerNeighbour, ErrBadConfig)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("sap: MaxAge %v is negative: %w", c.MaxAge, ErrBadConfig)
	}
	return nil
}

func (c *TableConfig) setDefaults() {
	if c.MaxServices == 0 {
		c.MaxServices = DefaultMaxServices
	}
	if c.MaxPerNeighbour == 0 {
		c.MaxPerNeighbour = c.MaxServices
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
}

// Service is a table entry: the entry as last advertised, where it was
// heard from and when.
type Service struct {
	Entry
	// Link is the Stack link the advertisement arrived on.
	Link ipx.LinkID
	// From is the link-level sender: the server itself or the router
	// that propagated the service.
	From ipx.Node
	// Updated is when the service was last heard.
	Updated time.Time
}

// Age is how long ago the service was last heard.
func (s *Service) Age(now time.Time) time.Duration { return now.Sub(s.Updated) }

// ChangeKind says what an update did to the table.
type ChangeKind uint8

// Kinds of table change.
const (
	// Added is a service not known before.
	Added ChangeKind = iota + 1
	// Changed is a known service with a new address, hop count or origin.
	Changed
	// Removed is a service that went down (16 hops) or aged out.
	Removed
)

// String names the change.
func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("change(%d)", uint8(k))
}

// Change is one effect of an update.
type Change struct {
	Kind    ChangeKind
	Service Service
	// Missed counts the changes this subscription dropped, its buffer
	// full, since the one before this: when it is not zero, the
	// subscriber's picture is stale, and Table.Services gives the whole
	// table again. Zero in the changes Update returns.
	Missed uint64
}

// TableStats counts what a Table did.
type TableStats struct {
	// Services is the number of services held.
	Services int
	// Added, Changed, Removed and Expired count table changes (Expired
	// ones are not included in Removed).
	Added, Changed, Removed, Expired uint64
	// Refused counts new services turned away because the table was
	// full or their neighbour at MaxPerNeighbour; Evicted those dropped
	// to make room for another neighbour's (not included in Removed).
	Refused, Evicted uint64
	// BadEntries counts entries ignored for hops above 16 or an unset
	// name.
	BadEntries uint64
	// ChangesDropped counts changes not delivered to a full
	// subscription.
	ChangesDropped uint64
}

type key struct {
	typ  ServiceType
	name Name
}

// neighbour is where services are learned from: a sender on a link.
type neighbour struct {
	link ipx.LinkID
	node ipx.Node
}

// slot holds one service and its place in its neighbour's list.
type slot struct {
	Service
	nb  *nbRecord
	idx int
}

// nbRecord is what the table holds from one neighbour.
type nbRecord struct {
	id      neighbour
	keys    []key
	refused uint64
}

// maxIdleNeighbours bounds the records kept only for their refusals
// (neighbours holding no service), so that senders with ever new
// addresses cannot grow the table.
const maxIdleNeighbours = 64

// Neighbour is what a Table holds from one neighbour, a sender on a link:
// the services whose origin it is, and the new services it offered that
// were refused (table full, or MaxPerNeighbour). Neighbours whose
// refusals are kept while they hold no service are bounded; refusals
// beyond that are counted only in TableStats.Refused.
type Neighbour struct {
	Link     ipx.LinkID
	Node     ipx.Node
	Services int
	Refused  uint64
}

// Table holds the services learned from advertisements, keyed by type and
// name. Its methods take the current time instead of reading a clock, so
// the caller decides what time is. It is safe for concurrent use.
//
// A service is replaced by an advertisement from the same origin (link and
// sender) whatever it says, and by one from another origin only with fewer
// hops. An advertisement at 16 hops from the service's origin removes it;
// from elsewhere it is ignored. When the table is full, neighbours share
// it fairly (see TableConfig.MaxServices).
type Table struct {
	cfg TableConfig

	mu    sync.RWMutex
	m     map[key]*slot
	nbs   map[neighbour]*nbRecord
	max   *nbRecord // the neighbour holding the most, if maxOK
	maxOK bool
	subs  subscribe.Hub[Change]
	stats TableStats
}

// NewTable returns an empty table.
func NewTable(cfg TableConfig) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Table{cfg: cfg, m: make(map[key]*slot), nbs: make(map[neighbour]*nbRecord)}, nil
}

// Update applies one advertised entry heard on link from node from. It
// reports the resulting change, if any; a refresh that changes nothing but
// the time is not a change. A new service that finds the table full and
// no neighbour to make room (see TableConfig.MaxServices), or its
// neighbour at MaxPerNeighbour, is refused with an error wrapping
// ErrTableFull.
func (t *Table) Update(now time.Time, e Entry, link ipx.LinkID, from ipx.Node) (Change, bool, error) {
	return t.update(now, e, link, from, nil)
}

// update is Update that also appends to evicted the services dropped to
// make room, at 16 hops.
func (t *Table) update(now time.Time, e Entry, link ipx.LinkID, from ipx.Node, evicted *[]Change) (Change, bool, error) {
	if e.Hops > MaxHops || e.Name.IsZero() {
		t.mu.Lock()
		t.stats.BadEntries++
		t.mu.Unlock()
		return Change{}, false, fmt.Errorf("sap: entry %v: %w", e, errBadEntry(e))
	}
	k := key{e.Type, e.Name}
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.m[k]
	sameOrigin := ok && old.Link == link && old.From == from
	switch {
	case e.Hops >= MaxHops:
		if !sameOrigin {
			return Change{}, false, nil
		}
		t.remove(k, old)
		t.stats.Removed++
		gone := old.Service
		gone.Hops, gone.Updated = MaxHops, now
		return t.publish(Change{Kind: Removed, Service: gone}), true, nil
	case !ok:
		id := neighbour{link, from}
		nb := t.nbs[id]
		if !t.admit(nb, evicted, now) {
			t.refuse(id, nb)
			return Change{}, false, fmt.Errorf("sap: service %v from %v: %d services held: %w", e, from, len(t.m), ErrTableFull)
		}
		s := &slot{Service: Service{Entry: e, Link: link, From: from, Updated: now}}
		t.m[k] = s
		t.attach(k, s, id)
		t.stats.Added++
		return t.publish(Change{Kind: Added, Service: s.Service}), true, nil
	case sameOrigin:
		changed := old.Entry != e
		old.Entry, old.Updated = e, now
		if !changed {
			return Change{}, false, nil
		}
		t.stats.Changed++
		return t.publish(Change{Kind: Changed, Service: old.Service}), true, nil
	case e.Hops < old.Hops:
		id := neighbour{link, from}
		nb := t.nbs[id]
		if nb != nil && len(nb.keys) >= t.cfg.MaxPerNeighbour {
			t.refuse(id, nb)
			return Change{}, false, nil
		}
		t.detach(old)
		old.Service = Service{Entry: e, Link: link, From: from, Updated: now}
		t.attach(k, old, id)
		t.stats.Changed++
		return t.publish(Change{Kind: Changed, Service: old.Service}), true, nil
	}
	return Change{}, false, nil
}

// admit makes room for a new service from neighbour nb (nil: none held
// yet), evicting one of the largest neighbour's services if the table is
// full and that one holds at least two more. It reports whether the
// service may be added.
func (t *Table) admit(nb *nbRecord, evicted *[]Change, now time.Time) bool {
	held := 0
	if nb != nil {
		held = len(nb.keys)
	}
	if held >= t.cfg.MaxPerNeighbour {
		return false
	}
	if len(t.m) < t.cfg.MaxServices {
		return true
	}
	big := t.largest()
	if big == nil || big == nb || len(big.keys) <= held+1 {
		return false
	}
	k := big.keys[len(big.keys)-1]
	s := t.m[k]
	t.remove(k, s)
	t.stats.Evicted++
	gone := s.Service
	gone.Hops, gone.Updated = MaxHops, now
	ch := t.publish(Change{Kind: Removed, Service: gone})
	if evicted != nil {
		*evicted = append(*evicted, ch)
	}
	return true
}

// largest returns the neighbour holding the most services.
func (t *Table) largest() *nbRecord {
	if !t.maxOK {
		t.max = nil
		for _, nb := range t.nbs {
			if t.max == nil || len(nb.keys) > len(t.max.keys) {
				t.max = nb
			}
		}
		t.maxOK = true
	}
	return t.max
}

// refuse counts a refused service against its neighbour, keeping a
// record for a neighbour that holds none only within maxIdleNeighbours.
func (t *Table) refuse(id neighbour, nb *nbRecord) {
	t.stats.Refused++
	if nb == nil {
		if len(t.nbs) >= t.cfg.MaxServices+maxIdleNeighbours {
			return
		}
		nb = &nbRecord{id: id}
		t.nbs[id] = nb
	}
	nb.refused++
}

// attach files the service s, of key k, under neighbour id.
func (t *Table) attach(k key, s *slot, id neighbour) {
	nb := t.nbs[id]
	if nb == nil {
		nb = &nbRecord{id: id}
		t.nbs[id] = nb
	}
	s.nb, s.idx = nb, len(nb.keys)
	nb.keys = append(nb.keys, k)
	if t.maxOK && len(nb.keys) > len(t.max.keys) {
		t.max = nb
	}
}

// detach takes the service s off its neighbour's list.
func (t *Table) detach(s *slot) {
	nb := s.nb
	last := len(nb.keys) - 1
	if s.idx != last {
		moved := nb.keys[last]
		nb.keys[s.idx] = moved
		t.m[moved].idx = s.idx
	}
	nb.keys = nb.keys[:last]
	if last == 0 && nb.refused == 0 {
		delete(t.nbs, nb.id)
	}
	if nb == t.max {
		t.maxOK = false
	}
	s.nb = nil
}

// remove deletes the service s of key k.
func (t *Table) remove(k key, s *slot) {
	t.detach(s)
	delete(t.m, k)
}

// Neighbours returns what the table holds from each neighbour, ordered
// by link and node.
func (t *Table) Neighbours() []Neighbour {
	t.mu.RLock()
	out := make([]Neighbour, 0, len(t.nbs))
	for _, nb := range t.nbs {
		out = append(out, Neighbour{Link: nb.id.link, Node: nb.id.node, Services: len(nb.keys), Refused: nb.refused})
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Neighbour) int {
		if c := cmp.Compare(a.Link, b.Link); c != 0 {
			return c
		}
		return slices.Compare(a.Node[:], b.Node[:])
	})
	return out
}

func errBadEntry(e Entry) error {
	if e.Name.IsZero() {
		return ErrBadName
	}
	return ErrBadHops
}

// Expire removes the services not heard for MaxAge and appends them,
// with hops set to 16, to removed.
func (t *Table) Expire(now time.Time, removed []Service) []Service {
	t.mu.Lock()
	defer t.mu.Unlock()
	start := len(removed)
	for k, s := range t.m {
		if now.Sub(s.Updated) >= t.cfg.MaxAge {
			t.remove(k, s)
			t.stats.Expired++
			gone := s.Service
			gone.Hops = MaxHops
			removed = append(removed, gone)
		}
	}
	slices.SortFunc(removed[start:], compareServices)
	for _, s := range removed[start:] {
		t.publish(Change{Kind: Removed, Service: s})
	}
	return removed
}

// NextExpiry is when the oldest service will age out; ok is false for an
// empty table.
func (t *Table) NextExpiry() (at time.Time, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.m {
		if exp := s.Updated.Add(t.cfg.MaxAge); !ok || exp.Before(at) {
			at, ok = exp, true
		}
	}
	return at, ok
}

// Lookup returns the service of the given type and name.
func (t *Table) Lookup(typ ServiceType, name Name) (Service, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.m[key{typ, name}]
	if !ok {
		return Service{}, false
	}
	return s.Service, true
}

// Services appends the services of type typ (every type for
// TypeWildcard) to dst, ordered by type then name.
func (t *Table) Services(typ ServiceType, dst []Service) []Service {
	t.mu.RLock()
	start := len(dst)
	for _, s := range t.m {
		if typ.Matches(s.Type) {
			dst = append(dst, s.Service)
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(dst[start:], compareServices)
	return dst
}

// any reports whether f holds for a service of type typ.
func (t *Table) any(typ ServiceType, f func(*Service) bool) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.m {
		if typ.Matches(s.Type) && f(&s.Service) {
			return true
		}
	}
	return false
}

// dropLink removes the services learned on link, gone from the Stack,
// and returns their removals.
func (t *Table) dropLink(now time.Time, link ipx.LinkID) []Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changes []Change
	for k, s := range t.m {
		if s.Link != link {
			continue
		}
		t.remove(k, s)
		t.stats.Removed++
		gone := s.Service
		gone.Hops, gone.Updated = MaxHops, now
		changes = append(changes, Change{Kind: Removed, Service: gone})
	}
	for id := range t.nbs {
		if id.link == link {
			delete(t.nbs, id) // only refusals are left
		}
	}
	t.maxOK = false
	slices.SortFunc(changes, func(a, b Change) int { return compareServices(a.Service, b.Service) })
	for _, ch := range changes {
		t.publish(ch)
	}
	return changes
}

// Subscription delivers a Table's Changes until closed.
type Subscription struct {
	// C receives the changes. It is closed by Close.
	C   <-chan Change
	sub *subscribe.Sub[Change]
}

// Missed returns how many changes the subscription has dropped so far
// because its buffer was full.
func (s *Subscription) Missed() uint64 { return s.sub.Missed() }

// Close ends the subscription and closes C. It is safe to call twice.
func (s *Subscription) Close() { s.sub.Close() }

// Subscribe returns a subscription whose channel holds up to buffer
// changes (at least 1). Changes that find it full are dropped and counted
// in TableStats.ChangesDropped and Subscription.Missed: a slow subscriber
// never stalls the table. The next change delivered says how many it
// missed (Change.Missed); the subscriber then reads Table.Services,
// which reflects at least every change reported until then, to
// resynchronise.
func (t *Table) Subscribe(buffer int) *Subscription {
	sub := t.subs.Subscribe(buffer)
	return &Subscription{C: sub.C, sub: sub}
}

func markChange(ch *Change, missed uint64) { ch.Missed = missed }

// publish offers ch to every subscriber and returns it. The caller holds
// t.mu.
func (t *Table) publish(ch Change) Change {
	t.stats.ChangesDropped += uint64(t.subs.Publish(ch, markChange))
	return ch
}

// Len is the number of services held.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	st := t.stats
	st.Services = len(t.m)
	return st
}

func compareServices(a, b Service) int { return compareEntries(a.Entry, b.Entry) }

func compareEntries(a, b Entry) int {
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return a.Name.Compare(b.Name)
}
