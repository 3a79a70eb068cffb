package udp

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// relay is the server's protocol core: the client table and the relay
// rules, free of goroutines and of the clock. The Server wrapper feeds it
// datagrams and the time and calls tick at the deadline it returns. Not
// safe for concurrent use.
type relay struct {
	cfg   ServerConfig
	self  ipx.Node // the server's node, source of registration replies
	out   batchConn
	log   *slog.Logger
	table map[netip.AddrPort]*client
	hosts map[netip.Addr]int // clients per IP address

	tokens     float64 // registration bucket
	lastRefill time.Time

	// The outbox: datagrams to send, written by flush in batches. A
	// relayed datagram aliases the input, which must stay unchanged
	// until flush; control packets are copied into ctl.
	outq []msg
	outc []*client // destination of each outq entry, for the counters
	ctl  [][ipx.HeaderLen]byte

	// port, if set, takes the packets no client can: see Port.
	port func(b []byte)

	gates [numReasons]logGate

	st ServerStats
}

// reason names a rate-limited log line: a registration refused, a
// datagram dropped, a client dropped.
type reason uint8

const (
	reasonFull reason = iota
	reasonHost
	reasonRate
	reasonNotIPv4
	reasonMalformed
	reasonOversize
	reasonUnregistered
	reasonSpoofed
	reasonNoDest
	reasonWriteError
	reasonExpired
	reasonUnresponsive
	reasonReplaced
	numReasons
)

// logInterval is the least time between two log lines for one reason.
const logInterval = 5 * time.Second

// logGate rate-limits the log lines of one reason.
type logGate struct {
	next time.Time // no line before
	held uint64    // lines held back since the last one
}

// gate reports whether a line for why may be logged at now, and how many
// were held back before it; a line held back is counted.
func (r *relay) gate(now time.Time, why reason) (bool, uint64) {
	g := &r.gates[why]
	if now.Before(g.next) {
		g.held++
		r.st.LogSuppressed++
		return false, 0
	}
	n := g.held
	g.held = 0
	g.next = now.Add(logInterval)
	return true, n
}

// outboxLen bounds the outbox; a full one is flushed at once.
const outboxLen = 64

type client struct {
	addr       netip.AddrPort
	node       ipx.Node
	since      time.Time
	lastRecv   time.Time
	lastSend   time.Time
	lastPing   time.Time
	unanswered int // pings sent since the client was last heard
	rx, tx     uint64
}

// heard notes that c sent something at now: it is alive.
func (c *client) heard(now time.Time) {
	c.lastRecv = now
	c.unanswered = 0
}

func newRelay(cfg ServerConfig, self ipx.Node, out batchConn, now time.Time) *relay {
	return &relay{
		outq:       make([]msg, 0, outboxLen),
		outc:       make([]*client, 0, outboxLen),
		ctl:        make([][ipx.HeaderLen]byte, outboxLen),
		cfg:        cfg,
		self:       self,
		out:        out,
		log:        cfg.Logger,
		table:      make(map[netip.AddrPort]*client),
		hosts:      make(map[netip.Addr]int),
		tokens:     float64(cfg.RegisterBurst),
		lastRefill: now,
	}
}

// handle processes one datagram b from from at now and sends what it
// calls for.
func (r *relay) handle(now time.Time, from netip.AddrPort, b []byte) {
	r.receive(now, from, b)
	r.flush(now)
}

// receive processes one datagram b from from at now. What it sends waits
// in the outbox (which may alias b) for flush.
func (r *relay) receive(now time.Time, from netip.AddrPort, b []byte) {
	r.st.Received++
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c := r.table[from]
	// DOSBox's server looks only at the destination of a registration,
	// never at its length field.
	if len(b) >= ipx.HeaderLen && isRegistration(b) {
		r.register(now, from, c)
		return
	}
	n, ok := checkPacket(b)
	if !ok {
		r.st.DropMalformed++
		if ok, held := r.gate(now, reasonMalformed); ok {
			r.log.Warn("udp: dropped malformed datagram", "from", from, "bytes", len(b), "suppressed", held)
		}
		return
	}
	b = b[:n]
	if c == nil {
		r.st.DropUnregistered++
		if ok, held := r.gate(now, reasonUnregistered); ok {
			r.log.Info("udp: dropped datagram from unregistered sender", "from", from, "suppressed", held)
		}
		return
	}
	c.heard(now)
	c.rx++
	if srcNode(b) != c.node && r.cfg.Route == nil {
		r.st.DropSpoofed++
		if ok, held := r.gate(now, reasonSpoofed); ok {
			r.log.Warn("udp: dropped datagram with a source node not the sender's", "from", from, "node", srcNode(b), "suppressed", held)
		}
		return
	}
	if isBroadcast(b) {
		if isControl(b) && isPing(b) {
			r.answerPing(now, c)
		}
		r.st.Broadcasts++
		for _, d := range r.table {
			if d != c {
				r.send(now, d, b)
			}
		}
		r.toPort(b)
		return
	}
	dst := dstNode(b)
	if dst == pingNode || dst == r.self {
		if dst == r.self && r.toPort(b) {
			return
		}
		r.st.ToServer++ // answers to our pings: lastRecv is what they are for
		return
	}
	d := r.table[AddrPortFromNode(dst)]
	if d == nil && r.cfg.Route != nil {
		// Never back to the sender: it routed the packet here.
		if next, ok := r.cfg.Route(dstNetwork(b)); ok && next != c.node {
			if d = r.table[AddrPortFromNode(next)]; d != nil {
				r.st.Routed++
			}
		}
	}
	if d == nil {
		if !r.toPort(b) { // a host beyond the router, if there is one
			r.noDest(now, dst)
		}
		return
	}
	r.st.Unicasts++
	r.send(now, d, b)
}

func (r *relay) register(now time.Time, from netip.AddrPort, c *client) {
	if c == nil {
		node, ok := NodeFromAddrPort(from)
		switch {
		case !ok:
			r.refuse(now, reasonNotIPv4, from)
			return
		case len(r.table) >= r.cfg.MaxClients:
			r.refuse(now, reasonFull, from)
			return
		case r.hosts[from.Addr()] >= r.cfg.MaxPerHost && !r.replaceStale(now, from.Addr()):
			r.refuse(now, reasonHost, from)
			return
		case !r.takeToken(now):
			r.refuse(now, reasonRate, from)
			return
		}
		c = &client{addr: from, node: node, since: now}
		r.table[from] = c
		r.hosts[from.Addr()]++
		r.st.Registrations++
		r.log.Info("udp: client registered", "addr", from, "node", node, "clients", len(r.table))
	} else {
		r.st.Reregistrations++
	}
	c.heard(now)
	r.sendControl(now, c, registrationReply(c.node, r.cfg.Network, r.self))
}

// refuse counts and logs a registration refused for why.
func (r *relay) refuse(now time.Time, why reason, from netip.AddrPort) {
	var msg string
	switch why {
	case reasonNotIPv4:
		r.st.RefusedNotIPv4++
		msg = "udp: registration refused, IPv6 sender has no node"
	case reasonFull:
		r.st.RefusedFull++
		msg = "udp: registration refused, table full"
	case reasonHost:
		r.st.RefusedHost++
		msg = "udp: registration refused, too many from host"
	case reasonRate:
		r.st.RefusedRate++
		msg = "udp: registration refused, rate limit"
	}
	if ok, held := r.gate(now, why); ok {
		r.log.Warn(msg, "from", from, "clients", len(r.table), "from_host", r.hosts[from.Addr()], "suppressed", held)
	}
}

// replaceStale drops, to make room for a new client from host, the
// client of host silent longest among those that left a ping unanswered
// for a whole keepalive round, and reports whether there was one. A
// host that runs programs one after another gets its slots back at
// once, while its live clients keep theirs.
func (r *relay) replaceStale(now time.Time, host netip.Addr) bool {
	if r.cfg.Keepalive <= 0 {
		return false
	}
	var stale *client
	for addr, c := range r.table {
		// Pings are a round apart at least, so with two unanswered the
		// first has had its round.
		missed := c.unanswered >= 2 || c.unanswered == 1 && !now.Before(c.lastPing.Add(r.cfg.Keepalive))
		if addr.Addr() != host || !missed {
			continue
		}
		if stale == nil || c.lastRecv.Before(stale.lastRecv) {
			stale = c
		}
	}
	if stale == nil {
		return false
	}
	r.drop(now, stale, reasonReplaced)
	return true
}

// drop forgets client c for why (expired, unresponsive or replaced).
func (r *relay) drop(now time.Time, c *client, why reason) {
	delete(r.table, c.addr)
	if r.hosts[c.addr.Addr()]--; r.hosts[c.addr.Addr()] <= 0 {
		delete(r.hosts, c.addr.Addr())
	}
	var msg string
	switch why {
	case reasonExpired:
		r.st.Expired++
		msg = "udp: client expired"
	case reasonUnresponsive:
		r.st.Unresponsive++
		msg = "udp: client dropped, keepalives unanswered"
	case reasonReplaced:
		r.st.Replaced++
		msg = "udp: client replaced by a new one from its host, keepalive unanswered"
	}
	if ok, held := r.gate(now, why); ok {
		r.log.Info(msg, "addr", c.addr, "node", c.node, "silent", now.Sub(c.lastRecv),
			"unanswered", c.unanswered, "clients", len(r.table), "suppressed", held)
	}
}

// noDest counts and logs a unicast to a node no client has.
func (r *relay) noDest(now time.Time, dst ipx.Node) {
	r.st.DropNoDest++
	if ok, held := r.gate(now, reasonNoDest); ok {
		r.log.Info("udp: dropped datagram to unregistered node", "node", dst, "suppressed", held)
	}
}

// dropOversize counts and logs a datagram longer than MaxPacketLen.
func (r *relay) dropOversize(now time.Time, from netip.AddrPort) {
	r.st.Received++
	r.st.DropOversize++
	if ok, held := r.gate(now, reasonOversize); ok {
		r.log.Warn("udp: dropped datagram above MaxPacketLen", "from", from, "max", r.cfg.MaxPacketLen, "suppressed", held)
	}
}

// takeToken spends one registration from the bucket, which refills at
// RegisterRate per second up to RegisterBurst.
func (r *relay) takeToken(now time.Time) bool {
	if el := now.Sub(r.lastRefill); el > 0 {
		r.tokens = min(float64(r.cfg.RegisterBurst), r.tokens+el.Seconds()*r.cfg.RegisterRate)
	}
	r.lastRefill = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// answerPing answers c's ping from the server's own node, so a DOSBox
// "ipxnet ping" lists the server too.
func (r *relay) answerPing(now time.Time, c *client) {
	r.st.PingsAnswered++
	r.sendControl(now, c, pingAnswer(c.node, r.self))
}

// toPort hands b to the Port, if one is attached and b is not a control
// packet (those are the tunnel's own business).
func (r *relay) toPort(b []byte) bool {
	if r.port == nil || isControl(b) {
		return false
	}
	r.st.ToPort++
	r.port(b)
	return true
}

// fromPort sends packet b, written by the Port's router, to the client
// with node dst or to every client, and flushes at once: b is the
// caller's.
func (r *relay) fromPort(now time.Time, dst ipx.Node, b []byte) {
	r.st.FromPort++
	if dst.IsBroadcast() {
		for _, d := range r.table {
			r.send(now, d, b)
		}
	} else if d := r.table[AddrPortFromNode(dst)]; d != nil {
		r.send(now, d, b)
	} else {
		r.noDest(now, dst)
	}
	r.flush(now)
}

// send queues b for c; b must stay unchanged until flush.
func (r *relay) send(now time.Time, c *client, b []byte) {
	if len(r.outq) == cap(r.outq) {
		r.flush(now)
	}
	r.outq = append(r.outq, msg{buf: b, n: len(b), addr: c.addr})
	r.outc = append(r.outc, c)
}

// sendControl queues a copy of control packet p for c.
func (r *relay) sendControl(now time.Time, c *client, p [ipx.HeaderLen]byte) {
	if len(r.outq) == cap(r.outq) {
		r.flush(now)
	}
	i := len(r.outq)
	r.ctl[i] = p
	r.send(now, c, r.ctl[i][:])
}

// flush writes the outbox, counting each datagram as sent or failed.
func (r *relay) flush(now time.Time) {
	for done := 0; done < len(r.outq); {
		n, err := r.out.writeBatch(r.outq[done:])
		for _, c := range r.outc[done : done+n] {
			r.st.Sent++
			c.tx++
			c.lastSend = now
		}
		done += n
		if err != nil || n == 0 {
			// The datagram at done failed; go on with the rest.
			r.st.WriteErrors++
			if ok, held := r.gate(now, reasonWriteError); ok {
				r.log.Warn("udp: send failed", "to", r.outq[done].addr, "err", err, "suppressed", held)
			}
			done++
		}
	}
	clear(r.outq) // let go of the input and of forgotten clients
	clear(r.outc)
	r.outq, r.outc = r.outq[:0], r.outc[:0]
}

// tick drops clients silent for ClientTimeout or that left
// KeepaliveMisses pings unanswered, pings clients due a keepalive, and
// returns when it next needs calling.
func (r *relay) tick(now time.Time) time.Time {
	k, misses := r.cfg.Keepalive, r.cfg.KeepaliveMisses
	next := now.Add(r.cfg.ClientTimeout)
	for _, c := range r.table {
		expire := c.lastRecv.Add(r.cfg.ClientTimeout)
		if !now.Before(expire) {
			r.drop(now, c, reasonExpired)
			continue
		}
		next = earliest(next, expire)
		if k <= 0 {
			continue
		}
		if misses > 0 && c.unanswered >= misses {
			// The last ping has its round to be answered, then the
			// client is gone.
			dead := c.lastPing.Add(k)
			if !now.Before(dead) {
				r.drop(now, c, reasonUnresponsive)
				continue
			}
			next = earliest(next, dead)
			continue
		}
		due := r.pingDue(c)
		if !now.Before(due) {
			r.sendControl(now, c, ping(pingNode))
			r.st.PingsSent++
			c.lastPing = now
			c.unanswered++
			due = now.Add(k) // the next ping, or the end of this one's round
		}
		next = earliest(next, due)
	}
	r.flush(now)
	return next
}

// pingDue is when c needs a keepalive: a round after the last datagram
// sent to it (to hold NAT mappings open) or a round after it was last
// heard or pinged (to learn whether it is still there), whichever comes
// first.
func (r *relay) pingDue(c *client) time.Time {
	k := r.cfg.Keepalive
	probe := c.lastRecv
	if c.lastPing.After(probe) {
		probe = c.lastPing
	}
	return earliest(c.lastSend.Add(k), probe.Add(k))
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (r *relay) clients() []ClientInfo {
	out := make([]ClientInfo, 0, len(r.table))
	for _, c := range r.table {
		out = append(out, ClientInfo{
			Addr: c.addr, Node: c.node, Since: c.since, LastSeen: c.lastRecv,
			Received: c.rx, Sent: c.tx,
		})
	}
	return out
}
