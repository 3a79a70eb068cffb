package sap

import (
	"cmp"
	"fmt"
	"net"
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
	queriesDropped, triggeredDropped                                uint64
}

// query is a query waiting for its answer.
type query struct {
	in  ipx.LinkID // arrival link: the answer follows split horizon there
	via ipx.LinkID // link the answer goes out on; 0: routed
	dst ipx.Addr
	op  Operation // OpGeneralQuery or OpNearestQuery
	typ ServiceType
}

// pending is an entry waiting to go out in a triggered update.
type pending struct {
	ch Change
	// local marks this host's own service, announced as is (at 16 hops
	// when withdrawn) rather than one hop further.
	local bool
}

// linkWork is what waits to be sent on one wired link.
type linkWork struct {
	query    bool // the general query that fills the table
	changes  map[key]pending
	periodic bool
}

// core is the Advertiser's protocol logic, free of I/O and of the clock:
// its methods take the current time, note the work to do, and hand it
// out one job (a burst of messages on one link) at a time through Next,
// which the Advertiser calls only when that link may send again. So the
// reader only ever notes work, and the pending work is bounded: triggered
// entries coalesce per service and link, and queries wait in a queue of
// at most MaxPendingQueries. The Advertiser serialises calls. Its
// exported methods make it the pace.Source of the Advertiser's sender.
type core struct {
	cfg   Config
	table *Table
	// local are the services this host offers, ordered by type and name.
	local        []Entry
	links        []ipx.LinkInfo
	work         map[ipx.LinkID]*linkWork // by wired link
	queries      []query
	nextPeriodic time.Time
	closing      bool
	stats        coreStats
}

func newCore(cfg Config, now time.Time) (*core, error) {
	t, err := NewTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	return &core{cfg: cfg, table: t, nextPeriodic: now, work: make(map[ipx.LinkID]*linkWork)}, nil
}

// wired reports whether a link carries SAP packets: not an internal
// network, and not failed.
func wired(l ipx.LinkInfo) bool { return !l.Internal && !l.Failed }

// setLinks takes the Stack's current links. A new wired link is asked for
// its services and sent a full update at once; the services learned on a
// link that is gone (or failed) are dropped and withdrawn elsewhere.
func (c *core) setLinks(now time.Time, links []ipx.LinkInfo) {
	c.links = slices.Clone(links)
	for _, l := range links {
		if wired(l) && c.work[l.ID] == nil && !c.closing {
			c.work[l.ID] = &linkWork{query: true, periodic: true, changes: make(map[key]pending)}
		}
	}
	for id := range c.work {
		if l, ok := linkInfo(links, id); ok && wired(l) {
			continue
		}
		delete(c.work, id)
		c.queries = slices.DeleteFunc(c.queries, func(q query) bool { return q.in == id || q.via == id })
		for _, ch := range c.table.dropLink(now, id) {
			c.note(ch, false)
		}
	}
}

// Links appends the links that may have work: the wired links, and 0 for
// routed answers.
func (c *core) Links(dst []ipx.LinkID) []ipx.LinkID {
	for id := range c.work {
		dst = append(dst, id)
	}
	return append(dst, 0)
}

// note queues a change for the triggered update of every wired link.
func (c *core) note(ch Change, local bool) {
	k := key{ch.Service.Type, ch.Service.Name}
	for _, w := range c.work {
		if _, ok := w.changes[k]; !ok && len(w.changes) >= c.maxChanges() {
			c.stats.triggeredDropped++ // the periodic update carries it
			continue
		}
		w.changes[k] = pending{ch: ch, local: local}
	}
}

// maxChanges bounds the entries waiting for a link's triggered update:
// room for a change to every service of the table and of this host.
func (c *core) maxChanges() int { return 2 * c.cfg.Table.MaxServices }

// Deadline is when Tick next has work to do.
func (c *core) Deadline() time.Time {
	if at, ok := c.table.NextExpiry(); ok && at.Before(c.nextPeriodic) {
		return at
	}
	return c.nextPeriodic
}

// Tick schedules the periodic broadcast when due and withdraws the
// services that aged out.
func (c *core) Tick(now time.Time) {
	if !now.Before(c.nextPeriodic) {
		c.nextPeriodic = now.Add(c.cfg.Interval)
		for _, w := range c.work {
			w.periodic = true
		}
	}
	for _, s := range c.table.Expire(now, nil) {
		c.note(Change{Kind: Removed, Service: s}, false)
	}
}

// Kinds of job: a link sends one of each kind in turn, so that neither
// a long periodic update, nor a long answer, nor a stream of triggered
// updates holds up the others.
const (
	jobTriggered = iota // the start-up query, then triggered entries
	jobAnswer
	jobPeriodic
	jobKinds
)

// Next returns the next job of a kind for link id (0: routed answers),
// or nil. Each job is built when it is about to go out, so that it says
// what is true then.
func (c *core) Next(id ipx.LinkID, kind int) []out {
	w := c.work[id]
	l, _ := linkInfo(c.links, id)
	switch kind {
	case jobTriggered:
		if w == nil {
			return nil
		}
		if w.query {
			w.query = false
			return []out{{link: id, dst: broadcast, msg: Message{Op: OpGeneralQuery, ServiceType: TypeWildcard}}}
		}
		if len(w.changes) > 0 {
			msgs := c.triggered(l, w.changes)
			clear(w.changes)
			return msgs
		}
	case jobAnswer:
		for i := 0; i < len(c.queries); {
			q := c.queries[i]
			if q.via != id {
				i++
				continue
			}
			c.queries = slices.Delete(c.queries, i, i+1)
			if msgs := c.answer(q); len(msgs) > 0 {
				return msgs
			}
		}
	case jobPeriodic:
		if w != nil && w.periodic {
			w.periodic = false
			return appendSplit(nil, id, broadcast, OpGeneralResponse, c.advertised(l, TypeWildcard, nil))
		}
	}
	return nil
}

var broadcast = ipx.Addr{Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP}

// advertised appends to dst what this host advertises on link l for
// services of type typ: its own services, then those learned on other
// links (split horizon), one hop further; services that would be 16 hops
// away are left out.
func (c *core) advertised(l ipx.LinkInfo, typ ServiceType, dst []Entry) []Entry {
	for _, e := range c.local {
		if typ.Matches(e.Type) {
			dst = append(dst, c.fillAddr(e, l))
		}
	}
	for _, s := range c.table.Services(typ, nil) {
		if c.advertisable(s, l.ID) {
			e := s.Entry
			e.Hops++
			dst = append(dst, e)
		}
	}
	return dst
}

func (c *core) advertisable(s Service, link ipx.LinkID) bool {
	return s.Link != link && s.Hops+1 < MaxHops && !c.isLocal(s.Type, s.Name)
}

// advertises reports whether this host has anything of type typ to
// advertise on link l, without building the list.
func (c *core) advertises(l ipx.LinkInfo, typ ServiceType) bool {
	for _, e := range c.local {
		if typ.Matches(e.Type) {
			return true
		}
	}
	return c.table.any(typ, func(s *Service) bool { return c.advertisable(*s, l.ID) })
}

// fillAddr gives a local service registered without a network and node
// the host's address: its internal network's if it has one, else that of
// the link it is advertised on.
func (c *core) fillAddr(e Entry, l ipx.LinkInfo) Entry {
	if e.Addr.Net != 0 || e.Addr.Node != (ipx.Node{}) {
		return e
	}
	for _, il := range c.links {
		if il.Internal && !il.Shared {
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

// triggered builds the immediate update on link l for the pending
// entries: learned services one hop further, except those learned on l
// (split horizon); local ones as they are.
func (c *core) triggered(l ipx.LinkInfo, ps map[key]pending) []out {
	es := make([]Entry, 0, len(ps))
	for _, p := range ps {
		e := p.ch.Service.Entry
		switch {
		case p.local:
			e = c.fillAddr(e, l)
			if p.ch.Kind == Removed {
				e.Hops = MaxHops
			}
		case p.ch.Service.Link == l.ID || c.isLocal(e.Type, e.Name):
			continue
		default:
			e.Hops = min(e.Hops+1, MaxHops)
			if p.ch.Kind != Removed && e.Hops >= MaxHops {
				continue // out of reach from here; nobody to tell
			}
		}
		es = append(es, e)
	}
	slices.SortFunc(es, compareEntries)
	return appendSplit(nil, l.ID, broadcast, OpGeneralResponse, es)
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

// input handles one received message: it learns what it announces, or
// queues the answer to a query. It reports whether it left work to send.
func (c *core) input(now time.Time, m *Message, info ipx.RecvInfo) bool {
	in, ok := linkInfo(c.links, info.Link)
	if c.closing || !ok || info.From == in.Node && info.Header.Src.Socket == ipx.SocketSAP {
		// Closing, a link not (or no longer) known, or our own SAP
		// socket's packet. Queries from other sockets of this host
		// are answered (the Stack loops them back).
		c.stats.ignored++
		return false
	}
	switch m.Op {
	case OpGeneralResponse:
		work := false
		var evicted []Change
		for _, e := range m.Entries {
			if c.isLocal(e.Type, e.Name) {
				continue
			}
			ch, changed, err := c.table.update(now, e, info.Link, info.From, &evicted)
			if err != nil {
				c.stats.badEntries++
				continue
			}
			if changed {
				c.stats.learned++
				c.note(ch, false)
				work = true
			}
		}
		for _, ch := range evicted {
			c.note(ch, false)
		}
		return work
	case OpGeneralQuery, OpNearestQuery:
		if m.Op == OpGeneralQuery {
			c.stats.queries++
		} else {
			c.stats.nearestQueries++
		}
		if !c.advertises(in, m.ServiceType) {
			return false
		}
		return c.queue(query{in: in.ID, via: replyLink(info, in), dst: info.Header.Src, op: m.Op, typ: m.ServiceType})
	}
	c.stats.ignored++ // nearest responses are for clients; unknown operations
	return false
}

// queue adds a query to the answers waiting, unless the same one already
// waits or MaxPendingQueries do.
func (c *core) queue(q query) bool {
	if slices.Contains(c.queries, q) {
		return false
	}
	if len(c.queries) >= c.cfg.MaxPendingQueries {
		c.stats.queriesDropped++
		return false
	}
	c.queries = append(c.queries, q)
	return true
}

// answer builds the answer to a query.
func (c *core) answer(q query) []out {
	in, ok := linkInfo(c.links, q.in)
	if !ok {
		return nil
	}
	if q.op == OpNearestQuery {
		e, ok := c.nearest(in, q.typ)
		if !ok {
			return nil
		}
		c.stats.answered++
		return appendSplit(nil, q.via, q.dst, OpNearestResponse, []Entry{e})
	}
	es := c.advertised(in, q.typ, nil)
	if len(es) == 0 {
		return nil
	}
	c.stats.answered++
	return appendSplit(nil, q.via, q.dst, OpGeneralResponse, es)
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
func (c *core) nearest(in ipx.LinkInfo, typ ServiceType) (Entry, bool) {
	for _, e := range c.local {
		if typ.Matches(e.Type) {
			return c.fillAddr(e, in), true
		}
	}
	var best Entry
	var bestD distance
	found := false
	for _, e := range c.advertised(in, typ, nil) {
		d, ok := c.metric(e.Addr.Net)
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

func (c *core) metric(n ipx.Network) (distance, bool) {
	if c.cfg.Routes == nil {
		return distance{}, true
	}
	if r, ok := c.cfg.Routes.LookupRoute(n); ok && r.Hops < ipx.MaxHops {
		return distance{ticks: r.Ticks, routeHops: r.Hops}, true
	}
	for _, l := range c.links {
		if l.Network == n {
			return distance{}, true
		}
	}
	return distance{}, false
}

// addLocal registers or replaces a service of this host and queues its
// announcement.
func (c *core) addLocal(e Entry) error {
	if c.closing {
		return fmt.Errorf("sap: add %s: %w", e.Name, net.ErrClosed)
	}
	if e.Name.IsZero() {
		return fmt.Errorf("sap: local service without a name: %w", ErrBadName)
	}
	if e.Hops >= MaxHops {
		return fmt.Errorf("sap: local service %s with %d hops: %w", e.Name, e.Hops, ErrBadHops)
	}
	i, ok := c.findLocal(e.Type, e.Name)
	switch {
	case ok:
		c.local[i] = e
	case len(c.local) >= c.cfg.Table.MaxServices:
		return fmt.Errorf("sap: local service %s: %d held: %w", e.Name, len(c.local), ErrTableFull)
	default:
		c.local = slices.Insert(c.local, i, e)
	}
	c.note(Change{Kind: Added, Service: Service{Entry: e}}, true)
	return nil
}

// removeLocal withdraws a service of this host with 16 hops.
func (c *core) removeLocal(typ ServiceType, name Name) bool {
	i, ok := c.findLocal(typ, name)
	if !ok {
		return false
	}
	e := c.local[i]
	c.local = slices.Delete(c.local, i, i+1)
	c.note(Change{Kind: Removed, Service: Service{Entry: e}}, true)
	return true
}

// shutdown stops the core and returns the withdrawal of everything this
// host advertises, on every link.
func (c *core) shutdown() []out {
	var msgs []out
	for _, l := range c.links {
		if !wired(l) {
			continue
		}
		es := c.advertised(l, TypeWildcard, nil)
		for i := range es {
			es[i].Hops = MaxHops
		}
		msgs = appendSplit(msgs, l.ID, broadcast, OpGeneralResponse, es)
	}
	c.closing = true
	c.local = nil
	clear(c.work)
	c.queries = nil
	return msgs
}
