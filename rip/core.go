package rip

import (
	"log/slog"
	"slices"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// out is one packet the core wants sent: on link (0: routed by dst).
type out struct {
	link ipx.LinkID
	dst  ipx.Addr
	pkt  Packet
}

// answer is a queued reply to a request for all routes: the entries
// follow split horizon on link; the packets go to dst through via.
type answer struct {
	link, via ipx.LinkID
	dst       ipx.Addr
}

// linkWork is what waits to be sent on one wired link.
type linkWork struct {
	request   bool                     // the start-up request for all routes
	triggered map[ipx.Network]struct{} // changed networks to advertise
	wanted    map[ipx.Network]struct{} // lost networks to ask about
	periodic  bool
}

// Kinds of job: a link sends one packet of each kind in turn, so that
// neither a long periodic update, nor a long answer, nor a stream of
// triggered updates holds up the others.
const (
	jobTriggered = iota // the start-up request, triggered updates, requests for lost routes
	jobAnswer
	jobPeriodic
	jobKinds
)

// core is the Router's protocol logic, free of I/O and of the clock, as
// sap's: its methods take the current time and note the work to do,
// and Next hands it out one job (the packets of one update or answer on
// one link) at a time, built when it is about to go out, so that it says
// what is true then. The reader only notes work; the pending work is
// bounded: triggered networks coalesce per link, and answers wait in a
// queue of at most MaxPendingRequests. The Router serialises calls. Its
// exported methods make it the pace.Source of the Router's sender.
type core struct {
	cfg   Config
	log   *slog.Logger
	table *Table
	// shared holds the states of the shared networks.
	shared       map[ipx.Network]SharedState
	links        []ipx.LinkInfo
	work         map[ipx.LinkID]*linkWork // by wired link
	answers      []answer
	nextPeriodic time.Time
	closing      bool

	requestsDropped, triggersDropped uint64
}

// newCore returns a core whose first periodic update is due at now. cfg
// has its defaults set.
func newCore(cfg Config, table *Table, now time.Time) *core {
	c := &core{
		cfg: cfg, log: cfg.Logger, table: table, shared: make(map[ipx.Network]SharedState),
		work: make(map[ipx.LinkID]*linkWork), nextPeriodic: now,
	}
	for n, s := range cfg.Shared {
		c.shared[n] = s
	}
	return c
}

// wiredLink reports whether a link carries RIP packets: not an internal
// network, and not failed.
func wiredLink(l ipx.LinkInfo) bool { return !l.Internal && !l.Failed }

// setLinks takes the Stack's current links: their networks become
// connected (a shared one at its state's metric), those of links gone
// or failed are lost; a new wired link is asked for all routes and, from
// a router, told the whole table at once.
func (c *core) setLinks(now time.Time, links []ipx.LinkInfo) {
	c.links = slices.Clone(links)
	var events []Event
	live := make(map[ipx.Network]ipx.LinkID, len(links))
	for _, l := range links {
		if l.Failed || l.Network == 0 {
			continue
		}
		live[l.Network] = l.ID
		var hops, ticks uint16
		if s, ok := c.shared[l.Network]; ok {
			hops, ticks = s.metric()
		}
		events = c.table.setConnected(now, l.ID, l.Network, hops, ticks, events)
	}
	events = c.table.disconnect(now, live, events)
	for _, l := range links {
		if wiredLink(l) && c.work[l.ID] == nil && !c.closing {
			c.work[l.ID] = &linkWork{
				request: true, periodic: !c.cfg.ListenOnly,
				triggered: make(map[ipx.Network]struct{}), wanted: make(map[ipx.Network]struct{}),
			}
		}
	}
	for id := range c.work {
		if l, ok := linkInfo(links, id); ok && wiredLink(l) {
			continue
		}
		delete(c.work, id)
		c.answers = slices.DeleteFunc(c.answers, func(a answer) bool { return a.link == id || a.via == id })
	}
	c.note(events)
}

// note queues, for the events, triggered updates on every wired link
// (unless ListenOnly) and, for lost routes, requests for an alternative.
func (c *core) note(events []Event) {
	for _, ev := range events {
		c.log.Debug("rip: route changed", "network", ev.Network, "reason", ev.Reason,
			"link", ev.New.Link, "next_hop", ev.New.NextHop, "hops", ev.New.Hops, "ticks", ev.New.Ticks)
		lost := ev.Reason == ReasonPoisoned || ev.Reason == ReasonExpired || ev.Reason == ReasonDisconnected
		for _, w := range c.work {
			if !c.cfg.ListenOnly {
				c.add(w.triggered, ev.Network)
			}
			if lost {
				c.add(w.wanted, ev.Network)
			}
		}
	}
}

// add puts n in the set m, unless m is full: the periodic update then
// carries the change.
func (c *core) add(m map[ipx.Network]struct{}, n ipx.Network) {
	if _, ok := m[n]; !ok && len(m) >= c.cfg.Table.MaxRoutes+len(c.links) {
		c.triggersDropped++
		return
	}
	m[n] = struct{}{}
}

// Deadline is when Tick next has work to do.
func (c *core) Deadline() time.Time {
	if at := c.table.NextDeadline(); !at.IsZero() && at.Before(c.nextPeriodic) {
		return at
	}
	return c.nextPeriodic
}

// Tick schedules the periodic update when due and ages the table.
func (c *core) Tick(now time.Time) {
	if !now.Before(c.nextPeriodic) {
		c.nextPeriodic = now.Add(c.cfg.UpdateInterval)
		if !c.cfg.ListenOnly {
			for _, w := range c.work {
				w.periodic = true
			}
		}
	}
	c.note(c.table.Expire(now, nil))
}

// Links appends the links that may have work: the wired links, and 0 for
// routed answers.
func (c *core) Links(dst []ipx.LinkID) []ipx.LinkID {
	for id := range c.work {
		dst = append(dst, id)
	}
	return append(dst, 0)
}

// Next returns the next job of a kind for link id (0: routed answers),
// or nil.
func (c *core) Next(id ipx.LinkID, kind int) []out {
	w := c.work[id]
	l, _ := linkInfo(c.links, id)
	switch kind {
	case jobTriggered:
		if w == nil {
			return nil
		}
		if w.request {
			w.request = false
			return split(nil, id, broadcastOn(l), OpRequest, []Entry{RequestEntry(ipx.NetworkAll)})
		}
		if len(w.triggered) > 0 {
			nets := sortedNets(w.triggered)
			clear(w.triggered)
			if es := c.triggeredEntries(nil, nets, id); len(es) > 0 {
				return split(nil, id, broadcastOn(l), OpResponse, es)
			}
		}
		if len(w.wanted) > 0 {
			var es []Entry
			for _, n := range sortedNets(w.wanted) {
				if rt, ok := c.table.Lookup(n); !ok || !rt.Reachable() {
					es = append(es, RequestEntry(n))
				}
			}
			clear(w.wanted)
			if len(es) > 0 {
				return split(nil, id, broadcastOn(l), OpRequest, es)
			}
		}
	case jobAnswer:
		for len(c.answers) > 0 {
			i := slices.IndexFunc(c.answers, func(a answer) bool { return a.via == id })
			if i < 0 {
				return nil
			}
			a := c.answers[i]
			c.answers = slices.Delete(c.answers, i, i+1)
			if es := c.table.AppendAdvert(nil, a.link); len(es) > 0 {
				return split(nil, a.via, a.dst, OpResponse, es)
			}
		}
	case jobPeriodic:
		if w != nil && w.periodic {
			w.periodic = false
			// The update carries every change but the poison reverse of
			// routes now learned on this link, which it leaves out.
			for n := range w.triggered {
				if rt, ok := c.table.Lookup(n); !ok || rt.Origin != OriginRIP || rt.Link != id {
					delete(w.triggered, n)
				}
			}
			return split(nil, id, broadcastOn(l), OpResponse, c.table.AppendAdvert(nil, id))
		}
	}
	return nil
}

func sortedNets(m map[ipx.Network]struct{}) []ipx.Network {
	nets := make([]ipx.Network, 0, len(m))
	for n := range m {
		nets = append(nets, n)
	}
	slices.Sort(nets)
	return nets
}

// split appends the entries as packets of at most MaxEntries.
func split(dst []out, link ipx.LinkID, to ipx.Addr, op Operation, es []Entry) []out {
	for p := range Split(op, es) {
		dst = append(dst, out{link: link, dst: to, pkt: p})
	}
	return dst
}

// triggeredEntries appends the entries of a triggered update on link for
// the changed networks nets. It uses poison reverse: a route now learned
// on link goes out there at 16 hops, so a neighbour there that routed
// through us drops the route at once instead of letting it age out.
func (c *core) triggeredEntries(dst []Entry, nets []ipx.Network, link ipx.LinkID) []Entry {
	for _, n := range nets {
		rt, ok := c.table.Lookup(n)
		if !ok {
			continue
		}
		e := advertised(rt.Network, rt.Hops, rt.Ticks)
		if rt.Origin == OriginRIP && rt.Link == link {
			e.Hops = Unreachable
		}
		dst = append(dst, e)
	}
	return dst
}

// input handles one received packet from info. Responses update the
// table; a request for all routes queues an answer; a request for some
// networks is answered at once, with reply. It reports whether it left
// work to send.
func (c *core) input(now time.Time, p *Packet, info ipx.RecvInfo) (reply *out, work bool) {
	in, ok := linkInfo(c.links, info.Link)
	if c.closing || !ok {
		return nil, false
	}
	switch p.Operation {
	case OpResponse:
		if info.From == in.Node {
			return nil, false // our own broadcast
		}
		events := c.table.Apply(now, info.Link, info.From, p.Entries, nil)
		c.note(events)
		return nil, len(events) > 0
	case OpRequest:
		if c.cfg.ListenOnly {
			return nil, false
		}
		dst, via := c.replyAddr(info, in)
		var es []Entry
		for _, e := range p.Entries {
			if e.Network == ipx.NetworkAll {
				return nil, c.queue(answer{link: info.Link, via: via, dst: dst})
			}
			if a, ok := c.table.AdvertEntry(e.Network, info.Link, false); ok {
				es = append(es, a)
			}
		}
		if len(es) == 0 {
			return nil, false
		}
		return &out{link: via, dst: dst, pkt: Packet{Operation: OpResponse, Entries: es[:min(len(es), MaxEntries)]}}, false
	}
	return nil, false
}

// queue adds an answer to those waiting, unless the same one already
// waits or MaxPendingRequests do.
func (c *core) queue(a answer) bool {
	if slices.Contains(c.answers, a) {
		return false
	}
	if len(c.answers) >= c.cfg.MaxPendingRequests {
		c.requestsDropped++
		return false
	}
	c.answers = append(c.answers, a)
	return true
}

// replyAddr is where the answer to a request goes, and the link to send
// it on (0: route by destination). That is the request's source, on the
// arrival link if the source is there, else routed (a request from
// another network); but if there is no route to the source's network (a
// host known by an internal network it does not advertise), the same
// socket at the link-level sender on the arrival link, which for such a
// local request is the requester.
func (c *core) replyAddr(info ipx.RecvInfo, arrival ipx.LinkInfo) (ipx.Addr, ipx.LinkID) {
	src := info.Header.Src
	if src.Net == 0 || src.Net == arrival.Network {
		return src, info.Link
	}
	if rt, ok := c.table.Lookup(src.Net); ok && rt.Reachable() {
		return src, 0
	}
	return ipx.Addr{Net: arrival.Network, Node: info.From, Socket: src.Socket}, info.Link
}

// shutdown stops the core and returns the withdrawal, at 16 hops, of
// every route the router offers, on every wired link (none if
// ListenOnly).
func (c *core) shutdown() []out {
	var msgs []out
	if !c.cfg.ListenOnly {
		for _, l := range c.links {
			if !wiredLink(l) {
				continue
			}
			es := c.table.AppendAdvert(nil, l.ID)
			for i := range es {
				es[i].Hops = Unreachable
			}
			msgs = split(msgs, l.ID, broadcastOn(l), OpResponse, es)
		}
	}
	c.closing = true
	clear(c.work)
	c.answers = nil
	return msgs
}

func linkInfo(links []ipx.LinkInfo, id ipx.LinkID) (ipx.LinkInfo, bool) {
	for _, l := range links {
		if l.ID == id {
			return l, true
		}
	}
	return ipx.LinkInfo{}, false
}

func broadcastOn(l ipx.LinkInfo) ipx.Addr {
	return ipx.Addr{Net: l.Network, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP}
}
