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

	st ServerStats
}

// outboxLen bounds the outbox; a full one is flushed at once.
const outboxLen = 64

type client struct {
	addr     netip.AddrPort
	node     ipx.Node
	since    time.Time
	lastRecv time.Time
	lastSend time.Time
	rx, tx   uint64
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
		return
	}
	b = b[:n]
	if c == nil {
		r.st.DropUnregistered++
		return
	}
	c.lastRecv = now
	c.rx++
	if srcNode(b) != c.node {
		r.st.DropSpoofed++
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
	if d == nil {
		if !r.toPort(b) { // a host beyond the router, if there is one
			r.st.DropNoDest++
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
			r.st.RefusedNotIPv4++
			return
		case len(r.table) >= r.cfg.MaxClients:
			r.st.RefusedFull++
			r.log.Warn("udp: registration refused, table full", "from", from, "clients", len(r.table))
			return
		case r.hosts[from.Addr()] >= r.cfg.MaxPerHost:
			r.st.RefusedHost++
			r.log.Debug("udp: registration refused, too many from host", "from", from)
			return
		case !r.takeToken(now):
			r.st.RefusedRate++
			r.log.Debug("udp: registration refused, rate limit", "from", from)
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
	c.lastRecv = now
	r.sendControl(now, c, registrationReply(c.node, r.self))
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
		r.st.DropNoDest++
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
			done++
		}
	}
	clear(r.outq) // let go of the input and of forgotten clients
	clear(r.outc)
	r.outq, r.outc = r.outq[:0], r.outc[:0]
}

// tick forgets clients silent for ClientTimeout, pings clients sent
// nothing for Keepalive, and returns when it next needs calling.
func (r *relay) tick(now time.Time) time.Time {
	next := now.Add(r.cfg.ClientTimeout)
	for addr, c := range r.table {
		expire := c.lastRecv.Add(r.cfg.ClientTimeout)
		if !now.Before(expire) {
			delete(r.table, addr)
			if r.hosts[addr.Addr()]--; r.hosts[addr.Addr()] <= 0 {
				delete(r.hosts, addr.Addr())
			}
			r.st.Expired++
			r.log.Info("udp: client expired", "addr", addr, "node", c.node, "silent", now.Sub(c.lastRecv), "clients", len(r.table))
			continue
		}
		next = earliest(next, expire)
		if r.cfg.Keepalive > 0 {
			due := c.lastSend.Add(r.cfg.Keepalive)
			if !now.Before(due) {
				r.sendControl(now, c, ping(pingNode))
				r.st.PingsSent++
				due = now.Add(r.cfg.Keepalive)
			}
			next = earliest(next, due)
		}
	}
	r.flush(now)
	return next
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
