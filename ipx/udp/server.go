package udp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// ServerConfig tunes a Server. The zero value is ready to use.
type ServerConfig struct {
	// MaxClients bounds the client table; registrations beyond it are
	// refused and counted. Default 256 (DOSBox holds 16).
	MaxClients int
	// MaxPerHost bounds the clients from one IP address (each UDP port
	// is a client), so that one host cannot take the whole table.
	// Default 64, a quarter of the default MaxClients.
	MaxPerHost int
	// ClientTimeout forgets a client nothing was heard from for this
	// long, whatever the keepalives say: the bound when pings are off.
	// Default 10 minutes, as ipxbox.
	ClientTimeout time.Duration
	// Keepalive is the keepalive round: a client nothing was sent to, or
	// nothing was heard from, for this long is pinged (and again each
	// round while it stays silent), so that NAT mappings stay open and a
	// live client answers. Default 5 s, as ipxbox; negative disables
	// pings, and so KeepaliveMisses.
	Keepalive time.Duration
	// KeepaliveMisses drops a client that has left this many pings in a
	// row unanswered, the last for a whole round: with the defaults, a
	// client silent for 20 s. Every DOSBox-protocol client answers pings
	// whatever it is doing, so a silent one is gone (its program ended).
	// Default 3; negative never drops a client for it (ClientTimeout
	// still does).
	KeepaliveMisses int
	// RegisterRate and RegisterBurst bound how fast new clients are
	// admitted (per second, token bucket), so that a registration flood
	// cannot fill the table at once. Defaults 32/s and 64.
	RegisterRate  float64
	RegisterBurst int
	// MaxPacketLen is the largest datagram relayed; longer ones are
	// dropped. Default 1500 (ipxbox's buffer), above the Link MTU.
	MaxPacketLen int
	// SocketBuffer is the receive and send buffer, in bytes, that
	// ListenServer asks for its socket, which carries every client's
	// traffic (the kernel caps it at net.core.rmem_max and wmem_max).
	// Default 1 MiB; negative keeps the system's default. NewServer
	// leaves the socket it is given as it is.
	SocketBuffer int
	// Network is the network number the registration reply gives a
	// client as its own (the reply's destination network). DOSBox's
	// client ignores it; a Link takes it (Link.Network). Default 0,
	// "this network", as DOSBox's server sends.
	Network ipx.Network
	// Logger receives registrations and dropped clients (Info), and
	// refused registrations and dropped datagrams (Warn, or Info for
	// the unregistered senders and unknown destinations a restart or a
	// departed client leaves behind). Lines about clients dropped,
	// refused or datagrams dropped are rate-limited: at most one per
	// reason every 5 s, with the number held back since (see
	// ServerStats.LogSuppressed). nil discards them.
	Logger *slog.Logger
	// Route, if set, makes the server route as well as relay, for
	// routers and mirrored pairs on the tunnel (DOSBox's server does
	// neither). A unicast to a node no client has goes to the client
	// that Route names as the next hop to the packet's destination
	// network, as a listen-only rip.Router on the tunnel learns it. And
	// a client's packets are relayed whatever their source node, since
	// a router forwards other hosts' packets and a mirrored pair answers
	// from its internal network. Route runs with the server's lock
	// held, once per such packet: it must be quick and must not call
	// the Server. A packet it finds no other client for goes to the
	// Port, if one is attached, or is dropped (DropNoDest).
	Route func(dst ipx.Network) (next ipx.Node, ok bool)
}

// Validate checks the configuration for values that cannot work.
func (c *ServerConfig) Validate() error {
	switch {
	case c.MaxClients < 0:
		return fmt.Errorf("udp: negative MaxClients %d: %w", c.MaxClients, ErrBadConfig)
	case c.MaxPerHost < 0:
		return fmt.Errorf("udp: negative MaxPerHost %d: %w", c.MaxPerHost, ErrBadConfig)
	case c.ClientTimeout < 0:
		return fmt.Errorf("udp: negative ClientTimeout %v: %w", c.ClientTimeout, ErrBadConfig)
	case c.RegisterRate < 0 || c.RegisterBurst < 0:
		return fmt.Errorf("udp: negative registration rate or burst: %w", ErrBadConfig)
	case c.MaxPacketLen != 0 && (c.MaxPacketLen < ipx.HeaderLen || c.MaxPacketLen > maxDatagram):
		return fmt.Errorf("udp: MaxPacketLen %d outside %d..%d: %w", c.MaxPacketLen, ipx.HeaderLen, maxDatagram, ErrBadConfig)
	case c.Keepalive > 0 && c.ClientTimeout > 0 && c.Keepalive >= c.ClientTimeout:
		return fmt.Errorf("udp: Keepalive %v not below ClientTimeout %v: %w", c.Keepalive, c.ClientTimeout, ErrBadConfig)
	}
	return nil
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.MaxClients == 0 {
		c.MaxClients = 256
	}
	if c.MaxPerHost == 0 {
		c.MaxPerHost = 64
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = 10 * time.Minute
	}
	if c.Keepalive == 0 {
		c.Keepalive = 5 * time.Second
	}
	if c.KeepaliveMisses == 0 {
		c.KeepaliveMisses = 3
	}
	if c.RegisterRate == 0 {
		c.RegisterRate = 32
	}
	if c.RegisterBurst == 0 {
		c.RegisterBurst = 64
	}
	if c.MaxPacketLen == 0 {
		c.MaxPacketLen = 1500
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ServerStats counts a Server's work.
type ServerStats struct {
	Clients          int    // registered now
	Received         uint64 // datagrams read
	Sent             uint64 // datagrams written
	Registrations    uint64 // new clients admitted
	Reregistrations  uint64 // registrations from known clients (answered again)
	Expired          uint64 // clients forgotten after ClientTimeout of silence
	Unresponsive     uint64 // clients dropped after KeepaliveMisses unanswered pings
	Replaced         uint64 // clients dropped for a new one from their host at MaxPerHost: they had missed a keepalive round
	Unicasts         uint64 // packets relayed to one client
	Routed           uint64 // of the Unicasts, those to a node no client has, relayed to the next hop Route named
	Broadcasts       uint64 // packets relayed to every other client
	ToServer         uint64 // answers to the server's pings
	ToPort           uint64 // packets handed to the Port's router
	FromPort         uint64 // packets the Port's router sent
	PingsSent        uint64 // keepalive pings
	PingsAnswered    uint64 // client pings the server answered itself
	RefusedFull      uint64 // registrations refused: table full
	RefusedHost      uint64 // registrations refused: MaxPerHost from that IP
	RefusedRate      uint64 // registrations refused: rate limit
	RefusedNotIPv4   uint64 // registrations refused: IPv6 sender has no node
	DropMalformed    uint64 // no valid IPX header and length
	DropOversize     uint64 // longer than MaxPacketLen
	DropUnregistered uint64 // from an address that has not registered
	DropSpoofed      uint64 // IPX source node is not the sender's node (without Route)
	DropNoDest       uint64 // unicast to a node that is not registered
	WriteErrors      uint64 // failed sends
	LogSuppressed    uint64 // log lines held back by the rate limit (see ServerConfig.Logger)
}

// ClientInfo describes a registered client.
type ClientInfo struct {
	Addr     netip.AddrPort
	Node     ipx.Node
	Since    time.Time // registration
	LastSeen time.Time // last datagram from it
	Received uint64    // datagrams from it
	Sent     uint64    // datagrams to it
}

// Server is a DOSBox-compatible IPX tunnel server; see the package
// comment for the protocol and how it differs from DOSBox's.
type Server struct {
	pc    net.PacketConn
	conn  batchConn
	max   int
	batch int // datagrams per read

	mu      sync.Mutex
	core    *relay
	serving bool
	port    *Port // nil until AttachPort

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// ListenServer listens on the UDP address addr ("host:port", IPv4 since
// nodes hold IPv4 addresses) and returns a Server; call Serve.
func ListenServer(addr string, cfg ServerConfig) (*Server, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	pc, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	setBuffers(pc, cfg.SocketBuffer)
	s, err := NewServer(pc, cfg)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return s, nil
}

// NewServer returns a Server on pc, which it owns from then on. pc should
// be a *net.UDPConn for allocation-free relaying (on Linux, an IPv4 one
// also reads and writes in batches, several datagrams per system call).
// The server's own node,
// the source of its registration replies, is pc's local IPv4 address and
// port (0.0.0.0 when bound to every address, as in DOSBox).
func NewServer(pc net.PacketConn, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	self, _ := NodeFromAddrPort(addrPortOf(pc.LocalAddr()))
	bc, batched := newBatchConn(pc, asAddrPortConn(pc))
	s := &Server{
		pc:    pc,
		conn:  bc,
		max:   cfg.MaxPacketLen,
		batch: 1,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if batched {
		s.batch = batchLen(s.max+1, serverBatch)
	}
	s.core = newRelay(cfg, self, s.conn, time.Now())
	return s, nil
}

// Addr is the server's UDP address.
func (s *Server) Addr() net.Addr { return s.pc.LocalAddr() }

// Serve relays datagrams until Close, then returns nil; a read error
// other than the close is returned (and the server closed). It may be
// called once.
func (s *Server) Serve() error {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return nil
	default:
	}
	if s.serving {
		s.mu.Unlock()
		return ErrServerStarted
	}
	s.serving = true
	s.wg.Add(2) // under mu, so never concurrent with Close's Wait at zero
	s.mu.Unlock()
	defer s.wg.Done()
	go s.timers()

	// One byte over the limit shows an oversize datagram (it is cut).
	ms := newMsgs(s.batch, s.max+1)
	for {
		n, err := s.conn.readBatch(ms)
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.shutdown()
			return opErr("serve", s.pc.LocalAddr(), nil, err)
		}
		s.mu.Lock()
		now := time.Now()
		before := len(s.core.table)
		for _, m := range ms[:n] {
			if m.n > s.max {
				s.core.dropOversize(now, m.addr)
				continue
			}
			s.core.receive(now, m.addr, m.buf[:m.n])
		}
		// Relay the whole batch, in as few writes as it takes, before
		// the next read reuses the buffers the outbox points into.
		s.core.flush(now)
		if len(s.core.table) > before {
			s.poke()
		}
		s.mu.Unlock()
	}
}

// serverBatch bounds the datagrams one Serve read takes.
const serverBatch = 32

// poke wakes the timer goroutine to recompute its deadline.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// timers runs expiry and keepalives at the deadline the core asks for.
func (s *Server) timers() {
	defer s.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		case <-s.wake:
		}
		s.mu.Lock()
		now := time.Now()
		next := s.core.tick(now)
		s.mu.Unlock()
		t.Reset(next.Sub(now))
	}
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.core.st
	st.Clients = len(s.core.table)
	return st
}

// Clients lists the registered clients, ordered by address.
func (s *Server) Clients() []ClientInfo {
	s.mu.Lock()
	cs := s.core.clients()
	s.mu.Unlock()
	slices.SortFunc(cs, func(a, b ClientInfo) int { return a.Addr.Compare(b.Addr) })
	return cs
}

// Close stops Serve and closes the socket. It is safe to call more than
// once and waits until Serve and the server's timer goroutine have ended.
func (s *Server) Close() error {
	err := s.shutdown()
	s.wg.Wait()
	return err
}

func (s *Server) shutdown() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		port := s.port
		s.mu.Unlock()
		if port != nil {
			port.Close() // its router's read loop ends with the server
		}
		err = s.pc.Close()
	})
	return err
}
