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
	out   addrPortConn
	log   *slog.Logger
	table map[netip.AddrPort]*client
	hosts map[netip.Addr]int // clients per IP address

	tokens     float64 // registration bucket
	lastRefill time.Time

	st ServerStats
}

type client struct {
	addr     netip.AddrPort
	node     ipx.Node
	since    time.Time
	lastRecv time.Time
	lastSend time.Time
	rx, tx   uint64
}

func newRelay(cfg ServerConfig, self ipx.Node, out addrPortConn, now time.Time) *relay {
	return &relay{
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

// handle processes one datagram b from from at now.
func (r *relay) handle(now time.Time, from netip.AddrPort, b []byte) {
	r.st.Received++
	n, ok := checkPacket(b)
	if !ok {
		r.st.DropMalformed++
		return
	}
	b = b[:n]
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c := r.table[from]
	if isRegistration(b) {
		r.register(now, from, c)
		return
	}
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
		return
	}
	dst := dstNode(b)
	if dst == pingNode || dst == r.self {
		r.st.ToServer++ // answers to our pings: lastRecv is what they are for
		return
	}
	d := r.table[AddrPortFromNode(dst)]
	if d == nil {
		r.st.DropNoDest++
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
	reply := registrationReply(c.node, r.self)
	r.send(now, c, reply[:])
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
	ans := pingAnswer(c.node, r.self)
	r.st.PingsAnswered++
	r.send(now, c, ans[:])
}

func (r *relay) send(now time.Time, c *client, b []byte) {
	if _, err := r.out.WriteToUDPAddrPort(b, c.addr); err != nil {
		r.st.WriteErrors++
		return
	}
	r.st.Sent++
	c.tx++
	c.lastSend = now
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
				p := ping(pingNode)
				r.send(now, c, p[:])
				r.st.PingsSent++
				due = now.Add(r.cfg.Keepalive)
			}
			next = earliest(next, due)
		}
	}
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
