package sap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/pace"
	"github.com/ipxkit/ipxkit/ipx"
)

// Config configures an Advertiser. The zero value takes the defaults.
type Config struct {
	// Interval between full broadcasts of the advertised services.
	// Default 60 s.
	Interval time.Duration
	// PacketGap separates the packets of one update on a link, as
	// Novell routers do. Default 55 ms; negative for none.
	PacketGap time.Duration
	// Table sizes the table of learned services (also the bound on
	// local services).
	Table TableConfig
	// Routes gives the route metric used to answer nearest queries:
	// fewest ticks, then hops. A rip.Table or ipx.StaticRoutes fits. If
	// nil, only the services' hop counts are compared.
	Routes ipx.RouteSource
	// PacketType is the IPX packet type of SAP packets sent. Zero means
	// 4 (PEP), what NetWare sends; receivers accept any.
	PacketType ipx.PacketType
	// MaxPendingQueries bounds the queries waiting for their answer:
	// answers go out paced, one burst at a time per link, and queries
	// arriving while MaxPendingQueries wait are dropped and counted in
	// Stats.QueriesDropped. Default DefaultMaxPendingQueries.
	MaxPendingQueries int
	// CloseTimeout bounds Close (see Advertiser.CloseContext). Default
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultInterval          = 60 * time.Second
	DefaultPacketGap         = 55 * time.Millisecond
	DefaultMaxPendingQueries = 32
	// DefaultCloseTimeout bounds Close: the going-down update is
	// spread over at most this long.
	DefaultCloseTimeout = 2 * time.Second
)

// Validate checks the configuration: no negative interval, an age-out
// longer than the broadcast interval (else services expire between
// broadcasts), and a packet gap shorter than the interval.
func (c *Config) Validate() error {
	if c.Interval < 0 {
		return fmt.Errorf("sap: Interval %v is negative: %w", c.Interval, ErrBadConfig)
	}
	if c.CloseTimeout < 0 {
		return fmt.Errorf("sap: CloseTimeout %v is negative: %w", c.CloseTimeout, ErrBadConfig)
	}
	if c.MaxPendingQueries < 0 {
		return fmt.Errorf("sap: MaxPendingQueries %d is negative: %w", c.MaxPendingQueries, ErrBadConfig)
	}
	if err := c.Table.Validate(); err != nil {
		return err
	}
	interval, age := c.Interval, c.Table.MaxAge
	if interval == 0 {
		interval = DefaultInterval
	}
	if age == 0 {
		age = DefaultMaxAge
	}
	if age <= interval {
		return fmt.Errorf("sap: MaxAge %v must exceed Interval %v: %w", age, interval, ErrBadConfig)
	}
	if c.PacketGap >= interval {
		return fmt.Errorf("sap: PacketGap %v must be below Interval %v: %w", c.PacketGap, interval, ErrBadConfig)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.PacketGap == 0 {
		c.PacketGap = DefaultPacketGap
	}
	if c.PacketType == 0 {
		c.PacketType = ipx.TypePEP
	}
	if c.MaxPendingQueries == 0 {
		c.MaxPendingQueries = DefaultMaxPendingQueries
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Table.setDefaults()
}

// Stats are an Advertiser's counters.
type Stats struct {
	// Received counts SAP packets read; Malformed those that failed to
	// decode; Ignored our own packets echoed back, nearest responses and
	// unknown operations.
	Received, Malformed, Ignored uint64
	// Queries and NearestQueries count queries received; Answered those
	// that got a reply; QueriesDropped those not answered because
	// MaxPendingQueries answers were waiting already.
	Queries, NearestQueries, Answered, QueriesDropped uint64
	// Learned counts table changes from advertisements; BadEntries
	// entries refused by the table (bad hops, table full).
	Learned, BadEntries uint64
	// TriggeredDropped counts entries left out of a triggered update
	// because too many were waiting on a busy link; the next periodic
	// update carries them.
	TriggeredDropped uint64
	// Sent counts packets sent; SendErrors failed sends.
	Sent, SendErrors uint64
	// Table is the learned-service table's own counters.
	Table TableStats
}

// Advertiser runs SAP on a Stack's socket 0x0452. It advertises the local
// services added to it every Interval and at once on change, learns the
// services others advertise into its Table, answers general and nearest
// queries, and on a Stack with several links propagates what it learned
// between them with split horizon (a service is never advertised back on
// the link it was learned from). It follows the Stack's links as they
// come and go: a new link is queried and sent a full update at once, and
// the services learned on a removed or failed link are dropped and
// withdrawn on the others. Close withdraws its services with 16 hops.
//
// Its logic lives in an I/O-free core; the Advertiser owns two
// goroutines around it. The reader only decodes and notes: it never
// sends, so a long answer or update cannot make the Advertiser deaf. The
// sender sends every update and answer, PacketGap apart on each link,
// the links in parallel. Both stop when the Stack closes.
type Advertiser struct {
	stack *ipx.Stack
	// conn is the SAP socket; replaced when a link comes back after
	// "all links down" ended it.
	conn atomic.Pointer[ipx.Conn]
	cfg  Config
	log  *slog.Logger

	mu   sync.Mutex // guards core and closed
	core *core
	// closed is set by the first Close, with the context that bounds
	// the withdrawal.
	closed   bool
	closeCtx context.Context

	kick pace.Waker
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	received, malformed, sent, sendErrors atomic.Uint64
}

// NewAdvertiser binds socket 0x0452 on s, sends a general query on every
// link to learn the services already there, and starts advertising.
func NewAdvertiser(s *ipx.Stack, cfg Config) (*Advertiser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	now := time.Now()
	c, err := newCore(cfg, now)
	if err != nil {
		return nil, err
	}
	conn, err := s.Listen(ipx.SocketSAP)
	if err != nil {
		return nil, fmt.Errorf("sap: %w", err)
	}
	a := &Advertiser{
		stack: s, cfg: cfg, log: cfg.Logger, core: c,
		kick: pace.NewWaker(), done: make(chan struct{}),
	}
	a.conn.Store(conn)
	// Take the channel before the links, so that no change is missed.
	changed := s.LinksChanged()
	c.setLinks(now, s.Links())
	a.wg.Add(2)
	go a.readLoop()
	go a.sendLoop(changed)
	return a, nil
}

// Table is the table of services learned from others.
func (a *Advertiser) Table() *Table { return a.core.table }

// Add advertises a service of this host, or replaces the one of the same
// type and name, and broadcasts it at once in a triggered update (PacketGap
// after any packet the link has just sent). A zero Addr.Net and Addr.Node
// stand for this host: its internal network's address if the Stack has
// one (not a Shared one), else the address on each link. Hops is
// advertised as given (NetWare servers say 1 for a service on their
// internal network). After Close it returns an error wrapping
// net.ErrClosed.
func (a *Advertiser) Add(e Entry) error {
	a.mu.Lock()
	err := a.core.addLocal(e)
	a.mu.Unlock()
	if err == nil {
		a.kick.Wake()
	}
	return err
}

// Remove withdraws a service of this host, broadcasting it with 16 hops.
// It reports whether the service was there.
func (a *Advertiser) Remove(typ ServiceType, name Name) bool {
	a.mu.Lock()
	ok := a.core.removeLocal(typ, name)
	a.mu.Unlock()
	if ok {
		a.kick.Wake()
	}
	return ok
}

// Local returns this host's services, ordered by type and name.
func (a *Advertiser) Local() []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Entry(nil), a.core.local...)
}

// Stats returns the Advertiser's counters.
func (a *Advertiser) Stats() Stats {
	a.mu.Lock()
	cs := a.core.stats
	a.mu.Unlock()
	return Stats{
		Received: a.received.Load(), Malformed: a.malformed.Load(), Ignored: cs.ignored,
		Queries: cs.queries, NearestQueries: cs.nearestQueries, Answered: cs.answered,
		QueriesDropped: cs.queriesDropped,
		Learned:        cs.learned, BadEntries: cs.badEntries, TriggeredDropped: cs.triggeredDropped,
		Sent: a.sent.Load(), SendErrors: a.sendErrors.Load(),
		Table: a.core.table.Stats(),
	}
}

// Close is CloseContext bounded by Config.CloseTimeout.
func (a *Advertiser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.CloseTimeout)
	defer cancel()
	return a.CloseContext(ctx)
}

// CloseContext stops the Advertiser. It first withdraws every service
// this host advertises (its own and those it propagates) with 16 hops,
// so neighbours drop them at once instead of waiting for them to age
// out. Those packets go PacketGap apart, as any update's, but if ctx has
// a deadline they are spread closer so that all go out before it; if
// ctx is cancelled the rest are not sent. It then closes the socket and
// waits for the Advertiser's goroutines. It does not close the Stack; if
// the Stack is closed, there is nothing to send and CloseContext returns
// at once. A second call returns a *net.OpError wrapping net.ErrClosed.
func (a *Advertiser) CloseContext(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return &net.OpError{Op: "close", Net: "ipx", Source: a.conn.Load().Addr(), Err: net.ErrClosed}
	}
	a.closed = true
	a.closeCtx = ctx
	a.mu.Unlock()
	close(a.done)
	a.wg.Wait()
	return nil
}

func (a *Advertiser) readLoop() {
	defer a.wg.Done()
	buf := make([]byte, 2048)
	m := NewMessage()
	for {
		conn := a.conn.Load()
		n, info, err := conn.ReadMsg(buf)
		if err != nil {
			// Only closing the socket (Close, or the Stack closing)
			// or losing every link ends a read. After the latter, a
			// link may come back.
			if errors.Is(err, ipx.ErrLinkDown) && a.rebind() {
				continue
			}
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, ipx.ErrLinkDown) {
				a.log.Warn("sap: read", "err", err)
			}
			return
		}
		a.received.Add(1)
		if err := m.UnmarshalBinary(buf[:n]); err != nil {
			a.malformed.Add(1)
			a.log.Debug("sap: malformed packet", "from", info.Header.Src, "err", err)
			continue
		}
		a.mu.Lock()
		work := a.core.input(time.Now(), m, info)
		a.mu.Unlock()
		if work {
			a.kick.Wake()
		}
	}
}

// rebind waits until the Stack has a live link again and the socket
// that "all links down" ended is replaced (by whichever of the reader and
// the sender sees it first). False if the Advertiser or the Stack closes
// first.
func (a *Advertiser) rebind() bool {
	for {
		ch := a.stack.LinksChanged()
		a.mu.Lock()
		ok := a.reviveLocked()
		a.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-a.done:
			return false
		case <-a.stack.Done():
			return false
		}
	}
}

// reviveLocked replaces the socket if "all links down" ended it and a
// link is live again. It reports whether the socket is usable. The
// caller holds a.mu.
func (a *Advertiser) reviveLocked() bool {
	c := a.conn.Load()
	select {
	case <-c.Done():
	default:
		return true
	}
	if a.closed || !errors.Is(c.Err(), ipx.ErrLinkDown) ||
		!slices.ContainsFunc(a.stack.Links(), func(l ipx.LinkInfo) bool { return !l.Failed }) {
		return false
	}
	c.Close()
	nc, err := a.stack.Listen(ipx.SocketSAP)
	if err != nil {
		a.log.Warn("sap: cannot bind the socket again", "err", err)
		return false
	}
	a.conn.Store(nc)
	return true
}

// sendLoop sends what the core hands out, each link paced on its own,
// and runs the core's timers. On Close it withdraws the services and
// closes the socket, which ends the reader.
func (a *Advertiser) sendLoop(changed <-chan struct{}) {
	defer a.wg.Done()
	defer func() {
		// Under mu: a new socket is stored only before Close.
		a.mu.Lock()
		a.conn.Load().Close()
		a.mu.Unlock()
	}()
	// Work noted later only expires later, so the core's deadline need
	// not be taken again before it.
	pacer := pace.NewPacer[ipx.LinkID, out](a.core, a.cfg.PacketGap, jobKinds)
	timer := pace.NewTimer()
	defer timer.Stop()
	for {
		now := time.Now()
		a.mu.Lock()
		ready, wake := pacer.Poll(now)
		a.mu.Unlock()
		for i := range ready {
			a.write(&ready[i])
		}
		timer.Reset(wake)
		select {
		case <-timer.C():
		case <-a.kick.C():
		case <-changed:
			select {
			case <-a.stack.Done():
				return
			default:
			}
			changed = a.stack.LinksChanged()
			links := a.stack.Links()
			a.mu.Lock()
			// Bind again first if need be, so that the answers to
			// the query sent on a new link find the socket.
			a.reviveLocked()
			a.core.setLinks(time.Now(), links)
			a.mu.Unlock()
		case <-a.stack.Done():
			return
		case <-a.done:
			a.shutdown()
			return
		}
	}
}

// shutdown sends the going-down update, each link paced on its own,
// PacketGap apart or closer so that all of it goes out before the close
// context's deadline, and none after the context ends.
func (a *Advertiser) shutdown() {
	a.mu.Lock()
	msgs := a.core.shutdown()
	ctx := a.closeCtx
	a.mu.Unlock()
	pace.Drain(ctx, a.stack.Done(), a.cfg.PacketGap, msgs,
		func(o *out) ipx.LinkID { return o.link }, a.write)
}

// write sends one message.
func (a *Advertiser) write(o *out) {
	var buf [MaxMessageLen]byte
	b, err := o.msg.AppendBinary(buf[:0])
	if err != nil {
		a.sendErrors.Add(1)
		a.log.Warn("sap: encode", "err", err)
		return
	}
	if _, err := a.conn.Load().WriteMsg(b, o.dst, ipx.WriteOptions{Type: a.cfg.PacketType, Link: o.link}); err != nil {
		a.sendErrors.Add(1)
		a.log.Debug("sap: send", "link", o.link, "dst", o.dst, "err", err)
		return
	}
	a.sent.Add(1)
}
