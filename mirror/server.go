package mirror

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/subscribe"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/sap"
)

// Defaults for Config fields left zero. With them a crashed primary is
// replaced within MSLTimeout + ProbeTimeout (700 ms) plus a RIP exchange.
const (
	DefaultHeartbeat       = 100 * time.Millisecond
	DefaultMSLTimeout      = 500 * time.Millisecond
	DefaultProbeTimeout    = 200 * time.Millisecond
	DefaultRedialInterval  = 250 * time.Millisecond
	DefaultHandshake       = 2 * time.Second
	DefaultMaxResyncPause  = 100 * time.Millisecond
	DefaultReplyCacheDepth = 16
	DefaultMaxClients      = 4096
	DefaultMaxBatch        = 256
	DefaultMaxLogBytes     = 16 << 20
	DefaultQueueLen        = 1024
	DefaultArbiterTimeout  = 500 * time.Millisecond
	DefaultHealthInterval  = time.Second
	// DefaultSocket is the engine's socket when Config.Socket is zero.
	DefaultSocket ipx.Socket = 0x4A00
	// MinKeyLen is the shortest MSL key accepted.
	MinKeyLen = 16
)

// Config configures a Server. Stack, Router, Engine, Network, Node, Key,
// Peer and one of Listener or Dial are required.
type Config struct {
	// Stack is this server's IPX stack. It must carry the engine's
	// internal network on an ipx.InternalLink added with
	// ipx.LinkConfig{Network: Network, Shared: true}, the same number and
	// node on both servers, beside its LAN links.
	Stack *ipx.Stack
	// Router advertises the internal network. Create it with
	// rip.Config.Shared set to rip.SharedStandby for Network, so that no
	// packet advertises the network before the Server decides.
	Router *rip.Router
	// Engine is the mirrored server engine.
	Engine Engine
	// EngineVersion names the engine's state format; a peer with another
	// is refused at the MSL handshake.
	EngineVersion string
	// Network and Node are the engine's internal address; Socket its
	// socket (default DefaultSocket). Clients send requests there.
	Network ipx.Network
	Node    ipx.Node
	Socket  ipx.Socket
	// Start is the role this server starts in: RolePrimary or
	// RoleSecondary. A restarted server starts as secondary.
	Start Role
	// Key authenticates every MSL message (HMAC-SHA-256); at least
	// MinKeyLen bytes, the same on both servers.
	Key []byte
	// Peer is the other server's LAN address. Its socket is ignored: the
	// LAN probe goes to the engine's socket there.
	Peer ipx.Addr
	// Listener accepts MSL connections (a primary's side): an
	// spx.Listener on a dedicated link or the LAN, or a TCP listener.
	// The Server closes it on Close.
	Listener net.Listener
	// Dial connects the MSL to the peer (a joining secondary's side).
	Dial func(ctx context.Context) (net.Conn, error)
	// Heartbeat is the interval of MSL heartbeats; MSLTimeout the
	// silence after which the MSL is declared failed; ProbeTimeout how
	// long the secondary waits for the primary's answer on the LAN.
	Heartbeat, MSLTimeout, ProbeTimeout time.Duration
	// RedialInterval spaces a secondary's attempts to (re)join.
	RedialInterval time.Duration
	// HandshakeTimeout bounds an MSL handshake.
	HandshakeTimeout time.Duration
	// ReplyCacheDepth is how many replies are kept per client for
	// retries; MaxClients bounds the clients kept (the least recent goes
	// first). Both are part of the mirrored state: set them alike on
	// both servers.
	ReplyCacheDepth, MaxClients int
	// MaxBatch bounds the events sent in one MSL message.
	MaxBatch int
	// MaxResyncPause bounds the pause a client sees when a joining
	// secondary becomes mirrored: the primary answers alone while the
	// secondary catches up, and starts waiting for its acks only once it
	// trails by less than this. Default DefaultMaxResyncPause.
	MaxResyncPause time.Duration
	// MaxLogBytes bounds the change log: the recent events a primary
	// keeps so that a secondary rejoining from its own state (after the
	// MSL failed, or it deactivated) gets only the events since. One that
	// the log no longer reaches gets the whole image. Default
	// DefaultMaxLogBytes.
	MaxLogBytes int
	// QueueLen bounds requests waiting for the server; more are dropped
	// and counted (the client retries).
	QueueLen int
	// Advertiser, if set, advertises the engine's service by SAP at the
	// internal address, as ServiceType and ServiceName.
	Advertiser  *sap.Advertiser
	ServiceType sap.ServiceType
	ServiceName string
	// Arbiter, if set, grants the primary role per epoch (see Arbiter):
	// a primary that loses its secondary answers alone, and a secondary
	// takes over, only once granted the next epoch. Set it on both
	// servers. Without one the pair behaves as SFT III does (see the
	// package comment for the window a full partition leaves).
	Arbiter Arbiter
	// ArbiterTimeout bounds one claim; a claim that times out is asked
	// again. Default DefaultArbiterTimeout.
	ArbiterTimeout time.Duration
	// Health, if set, is the embedder's health check (keepalived's track
	// script, SFT III's shutdown on a hardware fault), run every
	// HealthInterval (default DefaultHealthInterval) within that
	// interval. A primary whose check fails hands its role over as in
	// Switchover if the secondary is mirrored and healthy; otherwise it
	// stays primary and logs why. A secondary reports its own result to
	// the primary with its heartbeats.
	Health         func(ctx context.Context) error
	HealthInterval time.Duration
	// Logger receives role changes and MSL failures; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Heartbeat, DefaultHeartbeat)
	def(&c.MSLTimeout, DefaultMSLTimeout)
	def(&c.ProbeTimeout, DefaultProbeTimeout)
	def(&c.RedialInterval, DefaultRedialInterval)
	def(&c.HandshakeTimeout, DefaultHandshake)
	def(&c.MaxResyncPause, DefaultMaxResyncPause)
	def(&c.ArbiterTimeout, DefaultArbiterTimeout)
	def(&c.HealthInterval, DefaultHealthInterval)
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	defInt(&c.ReplyCacheDepth, DefaultReplyCacheDepth)
	defInt(&c.MaxClients, DefaultMaxClients)
	defInt(&c.MaxBatch, DefaultMaxBatch)
	defInt(&c.MaxLogBytes, DefaultMaxLogBytes)
	defInt(&c.QueueLen, DefaultQueueLen)
	if c.Socket == 0 {
		c.Socket = DefaultSocket
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports whether the configuration is usable, after defaults.
func (c *Config) Validate() error {
	d := *c
	d.setDefaults()
	bad := func(f string, a ...any) error {
		return fmt.Errorf("mirror: "+f+": %w", append(a, ErrBadConfig)...)
	}
	switch {
	case d.Stack == nil || d.Router == nil || d.Engine == nil:
		return bad("Stack, Router and Engine are required")
	case d.Network == 0 || d.Network >= ipx.NetworkDefault:
		return bad("internal network %v", d.Network)
	case d.Node == (ipx.Node{}) || d.Node.IsBroadcast():
		return bad("internal node %v", d.Node)
	case d.Start != RolePrimary && d.Start != RoleSecondary:
		return bad("start role %v", d.Start)
	case len(d.Key) < MinKeyLen:
		return bad("key of %d bytes, want at least %d", len(d.Key), MinKeyLen)
	case d.Listener == nil && d.Dial == nil:
		return bad("neither Listener nor Dial for the MSL")
	case d.Peer.Node == (ipx.Node{}):
		return bad("no peer LAN address to probe")
	case len(d.EngineVersion) > 255:
		return bad("engine version of %d bytes", len(d.EngineVersion))
	case d.Heartbeat < 0 || d.MSLTimeout <= d.Heartbeat:
		return bad("MSLTimeout %v not above Heartbeat %v", d.MSLTimeout, d.Heartbeat)
	case d.ProbeTimeout < 0 || d.RedialInterval < 0 || d.HandshakeTimeout < 0 || d.MaxResyncPause < 0 ||
		d.ArbiterTimeout < 0 || d.HealthInterval < 0:
		return bad("negative timeout")
	case d.ReplyCacheDepth < 1 || d.ReplyCacheDepth > 1024:
		return bad("ReplyCacheDepth %d outside 1..1024", d.ReplyCacheDepth)
	case d.MaxClients < 1 || d.MaxBatch < 1 || d.MaxBatch > 0xFFFF || d.QueueLen < 1 || d.MaxLogBytes < 0:
		return bad("MaxClients, MaxBatch and QueueLen must be positive, MaxLogBytes not negative")
	case d.Advertiser != nil && d.ServiceName == "":
		return bad("Advertiser without ServiceName")
	case d.Arbiter != nil && lanAddr(d.Stack, d.Peer.Net) == (ipx.Addr{}):
		return bad("an Arbiter needs a LAN link on the peer's network %v, to name this server", d.Peer.Net)
	}
	return nil
}

// lanAddr is this server's address on the LAN network n, the one its
// peer probes: its name to an arbiter.
func lanAddr(st *ipx.Stack, n ipx.Network) ipx.Addr {
	for _, li := range st.Links() {
		if li.Network == n && !li.Internal {
			return ipx.Addr{Net: li.Network, Node: li.Node}
		}
	}
	return ipx.Addr{}
}

// Stats are a server's counters since it started. Expvar publishes the
// same names (see Server.Var).
type Stats struct {
	Requests  uint64 // well-formed requests received
	Replies   uint64 // replies sent
	Retries   uint64 // requests answered again from the reply cache
	Stale     uint64 // retries older than the cache: dropped
	Dropped   uint64 // malformed, oversized, misaddressed or unwanted requests
	QueueFull uint64 // requests dropped because the server was behind
	Silent    uint64 // requests a non-primary received and did not answer

	Events      uint64 // events applied here
	Batches     uint64 // MSL event messages sent or received
	MSLFailures uint64 // MSL connections lost or timed out
	MSLRefused  uint64 // MSL handshakes or messages refused
	Takeovers   uint64 // times this server took over
	Notified    uint64 // clients notified at takeover
	Images      uint64 // images sent (primary) or restored (secondary)
	Resumes     uint64 // rejoins from the secondary's own state, with the events since
	Claims      uint64 // epochs claimed from the arbiter
	Denials     uint64 // claims the arbiter denied
	Unhealthy   uint64 // failed health checks
}

type counters struct {
	requests, replies, retries, stale, dropped, queueFull, silent atomic.Uint64
	events, batches, mslFailures, mslRefused, takeovers, notified atomic.Uint64
	images, resumes, claims, denials, unhealthy                   atomic.Uint64
}

// Server is one of a mirrored pair: the SFT III I/O engine around the
// embedder's Engine. See the package comment for the protocol.
type Server struct {
	cfg  Config
	log  *slog.Logger
	conn *ipx.Conn // the engine's socket
	// probe sends probe replies from our own LAN address, which the
	// engine's socket, on the internal network, does not have.
	probe *ipx.Conn
	echo  *ipx.Conn // answers the peer's LAN probe; nil if another does

	hub subscribe.Hub[Change]
	c   counters

	// mu guards the loop's state: whichever goroutine holds it handles
	// inputs (see submit); the loop goroutine runs the timers.
	mu   sync.Mutex
	loop *loop
	in   chan input
	poke chan struct{} // wakes the loop goroutine for an earlier timer
	// batching is set while this server is a mirrored primary, whose
	// requests are ordered in batches (see readRequests).
	batching atomic.Bool
	// boxes holds spare reply boxes (see takeReplies).
	boxes chan *replyBox
	// queued wakes the loop goroutine to handle what waits in in.
	queued chan struct{}
	// cancel ends the context of the loop's dials and probes.
	cancel context.CancelFunc
	quit   chan struct{}
	closed atomic.Bool
	wg     sync.WaitGroup
	// loopDone closes when the loop has returned.
	loopDone chan struct{}
}

// NewServer starts a server in cfg.Start's role.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	conn, err := cfg.Stack.Listen(cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("mirror: engine socket: %w", err)
	}
	if err := conn.SetSource(cfg.Network); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mirror: engine socket on network %v: %w", cfg.Network, err)
	}
	conn.SetPacketType(PacketType)
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("mirror", cfg.Network),
		conn:     conn,
		in:       make(chan input, cfg.QueueLen),
		poke:     make(chan struct{}, 1),
		boxes:    make(chan *replyBox, 4),
		queued:   make(chan struct{}, 1),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	probe, err := cfg.Stack.ListenFunc(0, func([]byte, *ipx.RecvInfo) {})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mirror: probe socket: %w", err)
	}
	probe.SetPacketType(PacketType)
	s.probe = probe
	if ec, err := cfg.Stack.Listen(echo.Socket); err == nil {
		s.echo = ec
		r := echo.NewResponder(ec)
		s.wg.Go(func() { r.Serve() })
	} else if !errors.Is(err, ipx.ErrSocketInUse) {
		conn.Close()
		probe.Close()
		return nil, fmt.Errorf("mirror: echo socket: %w", err)
	}
	if cfg.Advertiser != nil {
		name, err := sap.ParseName(cfg.ServiceName)
		if err == nil {
			err = cfg.Advertiser.Add(sap.Entry{Type: cfg.ServiceType, Name: name,
				Addr: ipx.Addr{Net: cfg.Network, Node: cfg.Node, Socket: cfg.Socket}})
		}
		if err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("mirror: advertise %q: %w", cfg.ServiceName, err)
		}
	}
	l := newLoop(s)
	s.loop = l
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	l.start(ctx)
	s.wg.Go(s.readRequests)
	if cfg.Listener != nil {
		s.wg.Go(s.acceptLoop)
	}
	go func() {
		defer close(s.loopDone)
		l.run()
	}()
	return s, nil
}

// Switchover hands the primary role to the mirrored secondary, for
// maintenance: no request is lost and none fails. The primary stops
// ordering new requests (their clients retry), waits until the secondary
// holds every event, hands the role over on the MSL and becomes the
// secondary; the new primary, under a new epoch, advertises the winning
// route and notifies the clients. Switchover returns once the new
// primary has confirmed, or with an error wrapping ErrNotPrimary or
// ErrNoPeer when this server is not a mirrored primary, or ctx's error.
// Calling it on the new primary hands the role back.
//
// If the MSL fails in the instant between the handover and its
// confirmation, both servers may end up secondaries; each then probes
// the other on the LAN, finds it alive and deactivates, and the operator
// must restart one as primary.
func (s *Server) Switchover(ctx context.Context) error {
	done := make(chan error, 1)
	if !s.submit(input{switchover: done}, true) {
		return &net.OpError{Op: "switchover", Net: "ipx", Err: net.ErrClosed}
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("mirror: switchover: %w", ctx.Err())
	}
}

// Subscribe returns a subscription to role and peer changes whose channel
// holds up to buffer changes; a full channel never stalls the server, and
// the next change delivered says how many were missed.
func (s *Server) Subscribe(buffer int) *Subscription {
	sub := s.hub.Subscribe(buffer)
	return &Subscription{C: sub.C, sub: sub}
}

// Status returns the server's current state.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loop.status(time.Now())
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	c := &s.c
	return Stats{
		Requests: c.requests.Load(), Replies: c.replies.Load(), Retries: c.retries.Load(),
		Stale: c.stale.Load(), Dropped: c.dropped.Load(), QueueFull: c.queueFull.Load(),
		Silent: c.silent.Load(), Events: c.events.Load(), Batches: c.batches.Load(),
		MSLFailures: c.mslFailures.Load(), MSLRefused: c.mslRefused.Load(),
		Takeovers: c.takeovers.Load(), Notified: c.notified.Load(), Images: c.images.Load(),
		Resumes: c.resumes.Load(), Claims: c.claims.Load(), Denials: c.denials.Load(),
		Unhealthy: c.unhealthy.Load(),
	}
}

// Var returns an expvar.Var whose value is the server's Stats and Status
// as JSON, for the embedder to publish (expvar.Publish("mirror",
// srv.Var())). The keys are Stats' and Status' field names; Role and
// Peer are strings.
func (s *Server) Var() expvar.Var {
	return expvar.Func(func() any {
		st := s.Status()
		return map[string]any{
			"Stats": s.Stats(),
			"Status": map[string]any{
				"Role": st.Role.String(), "Epoch": st.Epoch, "Peer": st.Peer.String(),
				"Applied": st.Applied, "Acked": st.Acked, "LagEvents": st.LagEvents,
				"LagTime": st.LagTime.String(), "LastHeard": st.LastHeard, "Clients": st.Clients,
			},
		}
	})
}

// Close stops the server: it stops answering, closes the MSL, the
// Listener and its sockets, and waits for its goroutines. It neither
// closes the Stack nor the Router, and leaves the route as it is: a
// primary that closes is, to its clients, a primary that crashed, and its
// secondary takes over. A second Close returns an error wrapping
// net.ErrClosed.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return &net.OpError{Op: "close", Net: "ipx", Err: net.ErrClosed}
	}
	close(s.quit)
	s.cancel()
	<-s.loopDone
	if s.cfg.Listener != nil {
		s.cfg.Listener.Close()
	}
	s.closeSockets()
	s.wg.Wait()
	s.hub.Close()
	return nil
}

func (s *Server) closeSockets() {
	s.conn.Close()
	s.probe.Close()
	if s.echo != nil {
		s.echo.Close()
	}
}

// submit hands an input to the loop. When no goroutine is working on
// the loop's state, the caller does the work itself, after the inputs
// already queued: on the request path that saves a goroutine switch per
// message on each server, which is much of what mirroring adds to a
// request's latency. Otherwise the input is queued, waiting for room if
// block is set. It reports whether the input was taken: false when the
// server is closing or (without block) the queue is full.
func (s *Server) submit(in input, block bool) bool {
	if s.mu.TryLock() {
		l := s.loop
		if l.stopped {
			s.mu.Unlock()
			return false
		}
		l.drain()
		for in.frame != nil && len(s.in) > 0 {
			// An MSL frame goes after every frame queued before it,
			// however many inputs wait.
			l.drain()
		}
		l.handle(in)
		l.drain()
		l.settle()
		box := s.takeReplies()
		s.mu.Unlock()
		s.sendReplies(box)
		return true
	}
	if block {
		select {
		case s.in <- in:
		case <-s.quit:
			return false
		}
	} else {
		select {
		case s.in <- in:
		default:
			return false
		}
	}
	select {
	case s.queued <- struct{}{}:
	default:
	}
	return true
}

// replyBox holds the replies the loop composed while a goroutine held
// it, to be sent once the loop is released: on a tunnel each is a system
// call, and the loop need not wait for them (the next requests and the
// MSL go on meanwhile).
type replyBox struct {
	buf  []byte
	msgs []boxedReply
}

type boxedReply struct {
	dst ipx.Addr
	end int // the reply is buf[previous end:end]
}

// takeReplies hands over the replies composed so far, nil if none;
// s.mu held.
func (s *Server) takeReplies() *replyBox {
	l := s.loop
	if len(l.box.msgs) == 0 {
		return nil
	}
	b := l.box
	select {
	case l.box = <-s.boxes:
	default:
		l.box = new(replyBox)
	}
	return b
}

// sendReplies sends the replies takeReplies handed over, without s.mu.
func (s *Server) sendReplies(b *replyBox) {
	if b == nil {
		return
	}
	start := 0
	for _, m := range b.msgs {
		if _, err := s.conn.WriteMsg(b.buf[start:m.end], m.dst, ipx.WriteOptions{Type: PacketType}); err != nil {
			s.log.Debug("mirror: reply not sent", "to", m.dst, "err", err)
		} else {
			s.c.replies.Add(1)
		}
		start = m.end
	}
	if cap(b.buf) > maxSpareBox {
		return // a burst's box: not kept
	}
	b.buf, b.msgs = b.buf[:0], b.msgs[:0]
	select {
	case s.boxes <- b:
	default:
	}
}

// maxSpareBox bounds the reply bytes a spare box keeps room for.
const maxSpareBox = 64 << 10

// readRequests reads the engine's socket and hands well-formed requests
// addressed to the engine to the loop.
func (s *Server) readRequests() {
	buf := make([]byte, ipx.MaxPacketLen)
	// run is set while the last request handed over said more would
	// follow: if the next does not reach the loop, the run ends anyway.
	run := false
	// yields counts down the yields still worth making (see below);
	// tries counts requests that might have yielded.
	yields, tries := 0, 0
	for {
		n, info, err := s.conn.ReadMsg(buf)
		if err != nil {
			return
		}
		r := s.parseRequest(buf[:n], &info)
		more := s.conn.Buffered() > 0
		if r == nil {
			if run && !more {
				s.submit(input{endBatch: true}, true)
				run = false
			}
			continue
		}
		if tries++; !more && s.batching.Load() && (yields > 0 || tries%yieldProbe == 0) {
			// A mirrored primary's reply waits an MSL round trip
			// anyway. Before this request goes out in a message of its
			// own, yield once: the requests that goroutines ready to run
			// are about to deliver (clients answered a moment ago, the
			// link's reader) then join the same message. While yields
			// find none (one client, light load) only one request in
			// yieldProbe tries, to notice load coming.
			runtime.Gosched()
			if more = s.conn.Buffered() > 0; more {
				yields = yieldCredit
			} else if yields > 0 {
				yields--
			}
		}
		r.more = more
		if !s.submit(input{req: r}, false) {
			if s.closed.Load() {
				return
			}
			s.c.queueFull.Add(1)
			if run && !more {
				s.submit(input{endBatch: true}, true)
			}
		}
		run = more
	}
}

// A mirrored primary's request path yields once before it sends a lone
// request while yields have found requests behind it lately: it keeps
// yielding for yieldCredit requests after the last that paid, and
// otherwise tries once every yieldProbe requests.
const (
	yieldCredit = 8
	yieldProbe  = 16
)

// parseRequest returns the well-formed request addressed to the engine
// that b holds; nil, after answering it, for a probe, and nil, counted,
// for anything else.
func (s *Server) parseRequest(b []byte, info *ipx.RecvInfo) *request {
	var m Message
	dst := info.Header.Dst
	if err := m.UnmarshalBinary(b); err == nil && m.Kind == KindProbe {
		s.answerProbe(info.Header.Src)
		return nil
	}
	if m.UnmarshalBinary(b) != nil || m.Kind != KindRequest ||
		dst.Net != s.cfg.Network || dst.Node != s.cfg.Node {
		s.c.dropped.Add(1)
		return nil
	}
	s.c.requests.Add(1)
	return &request{client: m.Client, id: m.ID, from: info.Header.Src, data: append([]byte(nil), m.Data...)}
}

// answerProbe tells a peer's LAN probe our role and epoch.
func (s *Server) answerProbe(to ipx.Addr) {
	s.mu.Lock()
	role, epoch := s.loop.role, s.loop.epoch
	s.mu.Unlock()
	m := Message{Kind: KindProbeReply, Epoch: epoch, Data: []byte{byte(role)}}
	b, _ := m.MarshalBinary()
	if _, err := s.probe.WriteMsg(b, to, ipx.WriteOptions{Type: PacketType}); err != nil {
		s.log.Debug("mirror: probe reply not sent", "to", to, "err", err)
	}
}

// acceptLoop accepts MSL connections and hands each, after its
// handshake, to the loop.
func (s *Server) acceptLoop() {
	for {
		c, err := s.cfg.Listener.Accept()
		if err != nil {
			select {
			case <-s.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("mirror: MSL accept failed", "err", err)
			select {
			case <-time.After(s.cfg.RedialInterval):
				continue
			case <-s.quit:
				return
			}
		}
		s.wg.Go(func() { s.handshake(c, false) })
	}
}

// handshake authenticates a new MSL connection and hands it to the loop.
func (s *Server) handshake(c net.Conn, dial bool) {
	me := s.identity()
	fc, peer, err := handshake(c, s.cfg.Key, dial, me, s.cfg.HandshakeTimeout, s.checkPeer)
	if err != nil {
		abort(c)
		s.c.mslRefused.Add(1)
		s.log.Warn("mirror: MSL handshake failed", "dial", dial, "remote", c.RemoteAddr(), "err", err)
		if dial {
			s.submit(input{dialErr: err}, true)
		}
		return
	}
	if !s.submit(input{conn: &newConn{fc: fc, me: me, peer: peer, dial: dial}}, true) {
		abort(c)
	}
}

// identity is this server's handshake hello, with a fresh nonce.
func (s *Server) identity() hello {
	n, _ := newNonce()
	h := hello{Network: s.cfg.Network, Node: s.cfg.Node, Socket: s.cfg.Socket, Nonce: n, Engine: s.cfg.EngineVersion}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loop
	h.Epoch, h.Applied, h.Role = l.epoch, l.st.seq, l.role
	if l.consistent || l.role == RolePrimary {
		h.Flags |= flagConsistent
	}
	return h
}

// checkPeer refuses a peer that is not the other half of this pair.
func (s *Server) checkPeer(p *hello) error {
	switch {
	case p.Network != s.cfg.Network || p.Node != s.cfg.Node || p.Socket != s.cfg.Socket:
		return fmt.Errorf("mirror: peer serves %v:%v:%v, we serve %v:%v:%v: %w",
			p.Network, p.Node, p.Socket, s.cfg.Network, s.cfg.Node, s.cfg.Socket, ErrRefused)
	case p.Engine != s.cfg.EngineVersion:
		return fmt.Errorf("mirror: peer runs engine %q, we run %q: %w", p.Engine, s.cfg.EngineVersion, ErrRefused)
	}
	return nil
}
