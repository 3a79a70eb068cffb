package sap

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// TableConfig sizes a Table. The zero value takes the defaults.
type TableConfig struct {
	// MaxServices bounds the table; further services are refused and
	// counted. Default 4096.
	MaxServices int
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
	if c.MaxAge < 0 {
		return fmt.Errorf("sap: MaxAge %v is negative: %w", c.MaxAge, ErrBadConfig)
	}
	return nil
}

func (c *TableConfig) setDefaults() {
	if c.MaxServices == 0 {
		c.MaxServices = DefaultMaxServices
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
}

// TableStats counts what a Table did.
type TableStats struct {
	// Services is the number of services held.
	Services int
	// Added, Changed, Removed and Expired count table changes (Expired
	// ones are not included in Removed).
	Added, Changed, Removed, Expired uint64
	// Refused counts new services turned away because the table was full.
	Refused uint64
	// BadEntries counts entries ignored for hops above 16 or an unset
	// name.
	BadEntries uint64
}

type key struct {
	typ  ServiceType
	name Name
}

// Table holds the services learned from advertisements, keyed by type and
// name. Its methods take the current time instead of reading a clock, so
// the caller decides what time is. It is safe for concurrent use.
//
// A service is replaced by an advertisement from the same origin (link and
// sender) whatever it says, and by one from another origin only with fewer
// hops. An advertisement at 16 hops from the service's origin removes it;
// from elsewhere it is ignored.
type Table struct {
	cfg TableConfig

	mu    sync.RWMutex
	m     map[key]*Service
	stats TableStats
}

// NewTable returns an empty table.
func NewTable(cfg TableConfig) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Table{cfg: cfg, m: make(map[key]*Service)}, nil
}

// Update applies one advertised entry heard on link from node from. It
// reports the resulting change, if any; a refresh that changes nothing but
// the time is not a change. A new service when the table is full is
// refused with an error wrapping ErrTableFull.
func (t *Table) Update(now time.Time, e Entry, link ipx.LinkID, from ipx.Node) (Change, bool, error) {
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
		delete(t.m, k)
		t.stats.Removed++
		gone := *old
		gone.Hops, gone.Updated = MaxHops, now
		return Change{Kind: Removed, Service: gone}, true, nil
	case !ok:
		if len(t.m) >= t.cfg.MaxServices {
			t.stats.Refused++
			return Change{}, false, fmt.Errorf("sap: service %v: %d services held: %w", e, len(t.m), ErrTableFull)
		}
		s := &Service{Entry: e, Link: link, From: from, Updated: now}
		t.m[k] = s
		t.stats.Added++
		return Change{Kind: Added, Service: *s}, true, nil
	case sameOrigin:
		changed := old.Entry != e
		old.Entry, old.Updated = e, now
		if !changed {
			return Change{}, false, nil
		}
		t.stats.Changed++
		return Change{Kind: Changed, Service: *old}, true, nil
	case e.Hops < old.Hops:
		*old = Service{Entry: e, Link: link, From: from, Updated: now}
		t.stats.Changed++
		return Change{Kind: Changed, Service: *old}, true, nil
	}
	return Change{}, false, nil
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
	for k, s := range t.m {
		if now.Sub(s.Updated) >= t.cfg.MaxAge {
			delete(t.m, k)
			t.stats.Expired++
			gone := *s
			gone.Hops = MaxHops
			removed = append(removed, gone)
		}
	}
	slices.SortFunc(removed, compareServices)
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
	return *s, true
}

// Services appends the services of type typ (every type for
// TypeWildcard) to dst, ordered by type then name.
func (t *Table) Services(typ ServiceType, dst []Service) []Service {
	t.mu.RLock()
	start := len(dst)
	for _, s := range t.m {
		if typ.Matches(s.Type) {
			dst = append(dst, *s)
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
		if typ.Matches(s.Type) && f(s) {
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
		delete(t.m, k)
		t.stats.Removed++
		gone := *s
		gone.Hops, gone.Updated = MaxHops, now
		changes = append(changes, Change{Kind: Removed, Service: gone})
	}
	slices.SortFunc(changes, func(a, b Change) int { return compareServices(a.Service, b.Service) })
	return changes
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
