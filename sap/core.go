package sap

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// out is one message the core wants sent.
type out struct {
	link ipx.LinkID
	dst  ipx.Addr
	msg  Message
}

// coreStats are the counters the core keeps; the Advertiser reports them.
type coreStats struct {
	queries, nearestQueries, answered, learned, badEntries, ignored uint64
}

// core is the Advertiser's protocol logic, free of I/O and of the clock:
// each method takes the current time and the Stack's links and returns
// the messages to send. The Advertiser serialises calls.
type core struct {
	cfg   Config
	table *Table
	// local are the services this host offers, ordered by type and name.
	local        []Entry
	nextPeriodic time.Time
	stats        coreStats
}

func newCore(cfg Config, now time.Time) (*core, error) {
	t, err := NewTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	return &core{cfg: cfg, table: t, nextPeriodic: now}, nil
}

// deadline is when tick next has work to do.
func (c *core) deadline() time.Time {
	if at, ok := c.table.NextExpiry(); ok && at.Before(c.nextPeriodic) {
		return at
	}
	return c.nextPeriodic
}

// tick sends the periodic broadcast when due and withdraws the services
// that aged out.
func (c *core) tick(now time.Time, links []ipx.LinkInfo) []out {
	var msgs []out
	if !now.Before(c.nextPeriodic) {
		c.nextPeriodic = now.Add(c.cfg.Interval)
		for _, l := range links {
			if l.Internal {
				continue
			}
			msgs = appendSplit(msgs, l.ID, broadcast, OpGeneralResponse, c.advertised(l, links, TypeWildcard, nil))
		}
	}
	if expired := c.table.Expire(now, nil); len(expired) > 0 {
		changes := make([]Change, len(expired))
		for i, s := range expired {
			changes[i] = Change{Kind: Removed, Service: s}
		}
		msgs = append(msgs, c.triggered(changes, links)...)
	}
	return msgs
}

var broadcast = ipx.Addr{Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP}

// advertised appends to dst what this host advertises on link l for
// services of type typ: its own services, then those learned on other
// links (split horizon), one hop further; services that would be 16 hops
// away are left out.
func (c *core) advertised(l ipx.LinkInfo, links []ipx.LinkInfo, typ ServiceType, dst []Entry) []Entry {
	for _, e := range c.local {
		if typ.Matches(e.Type) {
			dst = append(dst, fillAddr(e, l, links))
		}
	}
	for _, s := range c.table.Services(typ, nil) {
		if s.Link == l.ID || s.Hops+1 >= MaxHops || c.isLocal(s.Type, s.Name) {
			continue
		}
		e := s.Entry
		e.Hops++
		dst = append(dst, e)
	}
	return dst
}

// fillAddr gives a local service registered without a network and node
// the host's address: its internal network's if it has one, else that of
// the link it is advertised on.
func fillAddr(e Entry, l ipx.LinkInfo, links []ipx.LinkInfo) Entry {
	if e.Addr.Net != 0 || e.Addr.Node != (ipx.Node{}) {
		return e
	}
	for _, il := range links {
		if il.Internal {
			l = il
			break
		}
	}
	e.Addr.Net, e.Addr.Node = l.Network, l.Node
	return e
}

func (c *core) isLocal(typ ServiceType, name Name) bool {
	_, ok := c.findLocal(typ, name)
	return ok
}

func (c *core) findLocal(typ ServiceType, name Name) (int, bool) {
	return slices.BinarySearchFunc(c.local, Entry{Type: typ, Name: name}, compareEntries)
}

// triggered turns table changes into immediate updates on every link but
// the one each change came from.
func (c *core) triggered(changes []Change, links []ipx.LinkInfo) []out {
	var msgs []out
	for _, l := range links {
		if l.Internal {
			continue
		}
		var es []Entry
		for _, ch := range changes {
			if ch.Service.Link == l.ID || c.isLocal(ch.Service.Type, ch.Service.Name) {
				continue
			}
			e := ch.Service.Entry
			e.Hops = min(e.Hops+1, MaxHops)
			if ch.Kind == Added && e.Hops >= MaxHops {
				continue // out of reach from here; nobody to tell
			}
			es = append(es, e)
		}
		msgs = appendSplit(msgs, l.ID, broadcast, OpGeneralResponse, es)
	}
	return msgs
}

// appendSplit appends the entries as messages of at most MaxEntries.
func appendSplit(msgs []out, link ipx.LinkID, dst ipx.Addr, op Operation, es []Entry) []out {
	for len(es) > 0 {
		n := min(len(es), MaxEntries)
		msgs = append(msgs, out{link: link, dst: dst, msg: Message{Op: op, Entries: es[:n:n]}})
		es = es[n:]
	}
	return msgs
}

// input handles one received message.
func (c *core) input(now time.Time, m *Message, info ipx.RecvInfo, links []ipx.LinkInfo) []out {
	in, ok := linkInfo(links, info.Link)
	if !ok || info.From == in.Node && info.Header.Src.Socket == ipx.SocketSAP {
		// A link gone since, or our own SAP socket's packet. Queries
		// from other sockets of this host are answered (the Stack
		// loops them back).
		c.stats.ignored++
		return nil
	}
	switch m.Op {
	case OpGeneralResponse:
		var changes []Change
		for _, e := range m.Entries {
			if c.isLocal(e.Type, e.Name) {
				continue
			}
			ch, changed, err := c.table.Update(now, e, info.Link, info.From)
			if err != nil {
				c.stats.badEntries++
				continue
			}
			if changed {
				c.stats.learned++
				changes = append(changes, ch)
			}
		}
		return c.triggered(changes, links)
	case OpGeneralQuery:
		c.stats.queries++
		es := c.advertised(in, links, m.ServiceType, nil)
		if len(es) == 0 {
			return nil
		}
		c.stats.answered++
		return appendSplit(nil, replyLink(info, in), info.Header.Src, OpGeneralResponse, es)
	case OpNearestQuery:
		c.stats.nearestQueries++
		e, ok := c.nearest(in, links, m.ServiceType)
		if !ok {
			return nil
		}
		c.stats.answered++
		return appendSplit(nil, replyLink(info, in), info.Header.Src, OpNearestResponse, []Entry{e})
	}
	c.stats.ignored++ // nearest responses are for clients; unknown operations
	return nil
}

// replyLink sends a reply back on the link the query came in on when the
// querier is on that network, and lets the Stack route it otherwise.
func replyLink(info ipx.RecvInfo, in ipx.LinkInfo) ipx.LinkID {
	if n := info.Header.Src.Net; n == 0 || n == in.Network {
		return in.ID
	}
	return 0
}

func linkInfo(links []ipx.LinkInfo, id ipx.LinkID) (ipx.LinkInfo, bool) {
	for _, l := range links {
		if l.ID == id {
			return l, true
		}
	}
	return ipx.LinkInfo{}, false
}

// distance orders candidate services for a nearest query.
type distance struct{ ticks, routeHops, hops uint16 }

func (d distance) compare(e distance) int {
	if c := cmp.Compare(d.ticks, e.ticks); c != 0 {
		return c
	}
	if c := cmp.Compare(d.routeHops, e.routeHops); c != 0 {
		return c
	}
	return cmp.Compare(d.hops, e.hops)
}

// nearest picks the answer to a nearest query arriving on link in: a
// service of our own if we have one, else the learned service (split
// horizon applied) whose network has the fewest route ticks, then route
// hops, then service hops. Without a route source, only service hops
// count; with one, services on networks it cannot reach are skipped.
func (c *core) nearest(in ipx.LinkInfo, links []ipx.LinkInfo, typ ServiceType) (Entry, bool) {
	for _, e := range c.local {
		if typ.Matches(e.Type) {
			return fillAddr(e, in, links), true
		}
	}
	var best Entry
	var bestD distance
	found := false
	for _, e := range c.advertised(in, links, typ, nil) {
		d, ok := c.metric(e.Addr.Net, links)
		if !ok {
			continue
		}
		d.hops = e.Hops
		if !found || d.compare(bestD) < 0 {
			best, bestD, found = e, d, true
		}
	}
	return best, found
}

func (c *core) metric(n ipx.Network, links []ipx.LinkInfo) (distance, bool) {
	if c.cfg.Routes == nil {
		return distance{}, true
	}
	if r, ok := c.cfg.Routes.LookupRoute(n); ok && r.Hops < ipx.MaxHops {
		return distance{ticks: r.Ticks, routeHops: r.Hops}, true
	}
	for _, l := range links {
		if l.Network == n {
			return distance{}, true
		}
	}
	return distance{}, false
}

// addLocal registers or replaces a service of this host and returns its
// immediate advertisement.
func (c *core) addLocal(e Entry, links []ipx.LinkInfo) ([]out, error) {
	if e.Name.IsZero() {
		return nil, fmt.Errorf("sap: local service without a name: %w", ErrBadName)
	}
	if e.Hops >= MaxHops {
		return nil, fmt.Errorf("sap: local service %s with %d hops: %w", e.Name, e.Hops, ErrBadHops)
	}
	i, ok := c.findLocal(e.Type, e.Name)
	switch {
	case ok:
		c.local[i] = e
	case len(c.local) >= c.cfg.Table.MaxServices:
		return nil, fmt.Errorf("sap: local service %s: %d held: %w", e.Name, len(c.local), ErrTableFull)
	default:
		c.local = slices.Insert(c.local, i, e)
	}
	return c.announce([]Entry{e}, links, false), nil
}

// removeLocal withdraws a service of this host with 16 hops.
func (c *core) removeLocal(typ ServiceType, name Name, links []ipx.LinkInfo) ([]out, bool) {
	i, ok := c.findLocal(typ, name)
	if !ok {
		return nil, false
	}
	e := c.local[i]
	c.local = slices.Delete(c.local, i, i+1)
	return c.announce([]Entry{e}, links, true), true
}

// announce broadcasts local entries on every wired link, at 16 hops if
// down.
func (c *core) announce(es []Entry, links []ipx.LinkInfo, down bool) []out {
	var msgs []out
	for _, l := range links {
		if l.Internal {
			continue
		}
		filled := make([]Entry, len(es))
		for i, e := range es {
			filled[i] = fillAddr(e, l, links)
			if down {
				filled[i].Hops = MaxHops
			}
		}
		msgs = appendSplit(msgs, l.ID, broadcast, OpGeneralResponse, filled)
	}
	return msgs
}

// shutdown withdraws everything this host advertises, on every link.
func (c *core) shutdown(links []ipx.LinkInfo) []out {
	var msgs []out
	for _, l := range links {
		if l.Internal {
			continue
		}
		es := c.advertised(l, links, TypeWildcard, nil)
		for i := range es {
			es[i].Hops = MaxHops
		}
		msgs = appendSplit(msgs, l.ID, broadcast, OpGeneralResponse, es)
	}
	c.local = nil
	return msgs
}

// query is the general query sent at start-up to fill the table at once.
func (c *core) query(links []ipx.LinkInfo) []out {
	var msgs []out
	for _, l := range links {
		if !l.Internal {
			msgs = append(msgs, out{link: l.ID, dst: broadcast, msg: Message{Op: OpGeneralQuery, ServiceType: TypeWildcard}})
		}
	}
	return msgs
}
