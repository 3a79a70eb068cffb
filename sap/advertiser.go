package sap

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

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
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultInterval  = 60 * time.Second
	DefaultPacketGap = 55 * time.Millisecond
)

// Validate checks the configuration: no negative interval, an age-out
// longer than the broadcast interval (else services expire between
// broadcasts), and a packet gap shorter than the interval.
func (c *Config) Validate() error {
	if c.Interval < 0 {
		return fmt.Errorf("sap: Interval %v is negative", c.Interval)
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
		return fmt.Errorf("sap: MaxAge %v must exceed Interval %v", age, interval)
	}
	if c.PacketGap >= interval {
		return fmt.Errorf("sap: PacketGap %v must be below Interval %v", c.PacketGap, interval)
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
	// that got a reply.
	Queries, NearestQueries, Answered uint64
	// Learned counts table changes from advertisements; BadEntries
	// entries refused by the table (bad hops, table full).
	Learned, BadEntries uint64
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
// the link it was learned from). Close withdraws its services with 16
// hops.
//
// Its logic lives in an I/O-free core; the Advertiser owns a reader
// goroutine and a timer goroutine around it.
type Advertiser struct {
	stack *ipx.Stack
	conn  *ipx.Conn
	cfg   Config
	log   *slog.Logger

	mu   sync.Mutex // guards core
	core *core

	kick      chan struct{}
	done      chan struct{}
	readDone  chan struct{} // closed when the reader stops
	closeOnce sync.Once
	wg        sync.WaitGroup

	received, malformed, sent, sendErrors atomic.Uint64
}

// NewAdvertiser binds socket 0x0452 on s, sends a general query on every
// link to learn the services already there, and starts advertising.
func NewAdvertiser(s *ipx.Stack, cfg Config) (*Advertiser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	conn, err := s.Listen(ipx.SocketSAP)
	if err != nil {
		return nil, fmt.Errorf("sap: %w", err)
	}
	c, err := newCore(cfg, time.Now())
	if err != nil {
		conn.Close()
		return nil, err
	}
	a := &Advertiser{
		stack: s, conn: conn, cfg: cfg, log: cfg.Logger, core: c,
		kick: make(chan struct{}, 1), done: make(chan struct{}), readDone: make(chan struct{}),
	}
	a.mu.Lock()
	q := c.query(s.Links())
	a.mu.Unlock()
	a.send(q)
	a.wg.Add(2)
	go a.readLoop()
	go a.timerLoop()
	return a, nil
}

// Table is the table of services learned from others.
func (a *Advertiser) Table() *Table { return a.core.table }

// Add advertises a service of this host, or replaces the one of the same
// type and name, and broadcasts it at once. A zero Addr.Net and Addr.Node
// stand for this host: its internal network's address if the Stack has
// one, else the address on each link. Hops is advertised as given (NetWare
// servers say 1 for a service on their internal network).
func (a *Advertiser) Add(e Entry) error {
	a.mu.Lock()
	msgs, err := a.core.addLocal(e, a.stack.Links())
	a.mu.Unlock()
	if err != nil {
		return err
	}
	a.send(msgs)
	return nil
}

// Remove withdraws a service of this host, broadcasting it with 16 hops.
// It reports whether the service was there.
func (a *Advertiser) Remove(typ ServiceType, name Name) bool {
	a.mu.Lock()
	msgs, ok := a.core.removeLocal(typ, name, a.stack.Links())
	a.mu.Unlock()
	a.send(msgs)
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
		Learned: cs.learned, BadEntries: cs.badEntries,
		Sent: a.sent.Load(), SendErrors: a.sendErrors.Load(),
		Table: a.core.table.Stats(),
	}
}

// Close withdraws every service this host advertises (its own and those it
// propagates) with 16 hops, closes the socket and waits for its
// goroutines. It does not close the Stack.
func (a *Advertiser) Close() error {
	a.closeOnce.Do(func() {
		close(a.done)
		a.mu.Lock()
		msgs := a.core.shutdown(a.stack.Links())
		a.mu.Unlock()
		a.sendAll(msgs, false)
		a.conn.Close()
		a.wg.Wait()
	})
	return nil
}

func (a *Advertiser) readLoop() {
	defer a.wg.Done()
	defer close(a.readDone)
	buf := make([]byte, 2048)
	m := NewMessage()
	for {
		n, info, err := a.conn.ReadMsg(buf)
		if err != nil {
			// Only closing the socket or losing every link ends a
			// read; either way there is nothing more to read.
			if !errors.Is(err, net.ErrClosed) {
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
		before := a.core.stats.learned
		msgs := a.core.input(time.Now(), m, info, a.stack.Links())
		changed := a.core.stats.learned != before
		a.mu.Unlock()
		if changed {
			a.log.Debug("sap: learned", "from", info.Header.Src, "msg", m)
			select {
			case a.kick <- struct{}{}:
			default:
			}
		}
		a.send(msgs)
	}
}

func (a *Advertiser) timerLoop() {
	defer a.wg.Done()
	for {
		a.mu.Lock()
		d := time.Until(a.core.deadline())
		a.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-t.C:
			a.mu.Lock()
			msgs := a.core.tick(time.Now(), a.stack.Links())
			a.mu.Unlock()
			a.send(msgs)
		case <-a.kick:
			t.Stop()
		case <-a.done:
			t.Stop()
			return
		case <-a.readDone:
			// The socket is gone (the Stack closed): nothing to
			// advertise with.
			t.Stop()
			return
		}
	}
}

// send transmits msgs, pausing PacketGap between packets on one link; it
// gives up early once the Advertiser is closing.
func (a *Advertiser) send(msgs []out) { a.sendAll(msgs, true) }

func (a *Advertiser) sendAll(msgs []out, abortable bool) {
	var buf [MaxMessageLen]byte
	for i := range msgs {
		o := &msgs[i]
		if i > 0 && a.cfg.PacketGap > 0 && msgs[i-1].link == o.link {
			t := time.NewTimer(a.cfg.PacketGap)
			if abortable {
				select {
				case <-t.C:
				case <-a.done:
					t.Stop()
					return
				}
			} else {
				<-t.C
			}
		}
		b, err := o.msg.AppendBinary(buf[:0])
		if err != nil {
			a.sendErrors.Add(1)
			a.log.Warn("sap: encode", "err", err)
			continue
		}
		if _, err := a.conn.WriteMsg(b, o.dst, ipx.WriteOptions{Type: a.cfg.PacketType, Link: o.link}); err != nil {
			a.sendErrors.Add(1)
			a.log.Debug("sap: send", "link", o.link, "dst", o.dst, "err", err)
			continue
		}
		a.sent.Add(1)
	}
}
