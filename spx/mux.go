package spx

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/ipx"
)

// mux owns one bound IPX socket. The Stack hands its packets to handle
// in the goroutine that received them (ipx.Stack.ListenFunc), which passes
// them to connections by destination connection id and connection
// requests to the Listener, if any: no goroutine of its own stands between
// the link and a connection.
type mux struct {
	stack *ipx.Stack
	pc    *ipx.Conn
	cfg   *Config
	ln    *Listener // nil for a dialled connection's socket

	mu       sync.Mutex
	conns    map[uint16]*Conn  // by local connection id
	byPeer   map[peerKey]*Conn // accepted ones, by the peer's address and id
	nLinger  int               // of conns, those lingering after a clean end
	lnClosed bool              // no more connections will be added
	pcClosed bool

	last atomic.Pointer[Conn] // the latest packet's connection, to skip the map
	pool *segPool
	c    muxCounters
}

type muxCounters struct {
	malformed, notSPX, unknownConn, requests, backlogDrops, refused atomic.Uint64
}

// peerKey names a connection by the peer's end: a repeated connection
// request carries only this.
type peerKey struct {
	addr ipx.Addr
	id   uint16
}

// addLocked registers c; m.mu held.
func (m *mux) addLocked(c *Conn) {
	m.conns[c.id] = c
	if c.peerID != 0 {
		m.byPeer[peerKey{c.remote, c.peerID}] = c
	}
}

// newMux binds socket on stack for SPX. ln is the Listener taking
// connection requests, nil for a dialled connection's socket; it must be
// ready for requests, which may arrive before newMux returns.
func newMux(stack *ipx.Stack, socket ipx.Socket, cfg *Config, ln *Listener) (*mux, error) {
	m := &mux{stack: stack, cfg: cfg, ln: ln, conns: make(map[uint16]*Conn), byPeer: make(map[peerKey]*Conn)}
	m.pool = newSegPool(m.bufLen())
	if ln != nil {
		ln.m = m
	}
	// Packets may arrive as soon as pc is bound: what reads m.pc takes
	// m.mu first, so holding it keeps them waiting until m is whole.
	m.mu.Lock()
	defer m.mu.Unlock()
	pc, err := stack.ListenFunc(socket, m.handle)
	if err != nil {
		return nil, err
	}
	pc.SetPacketType(ipx.TypeSPX)
	m.pc = pc
	go m.watchLoop()
	return m, nil
}

// watchLoop waits for the socket's end (the Stack closed or lost its
// links) and fails the mux, unless the mux closed the socket itself.
func (m *mux) watchLoop() {
	<-m.pc.Done()
	m.mu.Lock()
	ours := m.pcClosed
	m.mu.Unlock()
	if !ours {
		m.shutdown(m.pc.Err())
	}
}

// bufLen is the largest packet payload the socket can receive.
func (m *mux) bufLen() int {
	n := ipx.MaxPacketLen
	for _, l := range m.stack.Links() {
		n = max(n, l.MTU)
	}
	return n
}

// localMax is the largest IPX packet we take from and send to peer.
func (m *mux) localMax(peer ipx.Addr) int {
	links := m.stack.Links()
	mtu := 0
	for _, l := range links {
		if l.Network == peer.Net {
			mtu = l.MTU
			break
		}
	}
	if mtu == 0 {
		for _, l := range links {
			if mtu == 0 || l.MTU < mtu {
				mtu = l.MTU
			}
		}
	}
	if m.cfg.MaxPacket > 0 {
		mtu = min(mtu, m.cfg.MaxPacket)
	}
	return max(mtu, ipx.MaxPacketLen)
}

// handle takes one packet from the Stack. It runs in the link's read
// goroutine, possibly in several at once, and must not block: payload is
// the Stack's buffer, copied by the connection if it keeps the data.
func (m *mux) handle(payload []byte, info *ipx.RecvInfo) {
	if info.Header.Type != ipx.TypeSPX {
		m.c.notSPX.Add(1)
		return
	}
	var h Header
	if err := h.UnmarshalBinary(payload); err != nil {
		m.c.malformed.Add(1)
		return
	}
	data := payload[h.Len():]
	src := info.Header.Src
	if h.DstID == IDUnknown {
		if h.Control&ControlSystem == 0 || m.ln == nil || h.SrcID == IDUnknown || h.SrcID == 0 {
			m.c.unknownConn.Add(1)
			return
		}
		m.ln.request(&h, src)
		return
	}
	c := m.last.Load()
	if c == nil || c.id != h.DstID || c.removedFlag.Load() {
		m.mu.Lock()
		c = m.conns[h.DstID]
		m.mu.Unlock()
		if c != nil {
			m.last.Store(c)
		}
	}
	if c == nil || !c.input(src, &h, data) {
		// Novell's SPX ignores packets for connections it does not
		// know; answering would let a forged packet provoke traffic.
		m.c.unknownConn.Add(1)
	}
}

// shutdown fails every connection when the socket can read no more.
func (m *mux) shutdown(err error) {
	if !errors.Is(err, net.ErrClosed) {
		err = errors.Join(net.ErrClosed, err)
	}
	m.mu.Lock()
	cs := make([]*Conn, 0, len(m.conns))
	for _, c := range m.conns {
		cs = append(cs, c)
	}
	m.lnClosed = true
	m.mu.Unlock()
	for _, c := range cs {
		c.abort(err)
	}
	if m.ln != nil {
		m.ln.shutdown()
	}
	m.closePC()
}

// newID picks a random connection id unused on this socket, never 0 or
// IDUnknown; false when all are in use. Called with m.mu held.
func (m *mux) newID() (uint16, bool) {
	if len(m.conns) >= 0xFFFE {
		return 0, false
	}
	for {
		id := uint16(rand.UintN(0xFFFE)) + 1 // 1..0xFFFE
		if _, ok := m.conns[id]; !ok {
			return id, true
		}
	}
}

// remove forgets c; the socket closes with its last connection once no
// more can come.
func (m *mux) remove(c *Conn) {
	m.mu.Lock()
	m.removeLocked(c)
	m.mu.Unlock()
	m.maybeRelease()
}

// removeLocked forgets c, if it is still known; m.mu held.
func (m *mux) removeLocked(c *Conn) {
	if m.conns[c.id] != c {
		return
	}
	delete(m.conns, c.id)
	if k := (peerKey{c.remote, c.peerID}); c.peerID != 0 && m.byPeer[k] == c {
		delete(m.byPeer, k)
	}
	if c.lingerCounted {
		c.lingerCounted = false
		m.nLinger--
	}
}

// lingering notes that c lingers after a clean end, to answer a repeated
// end of connection. At most Config.MaxConns linger at once: a busy
// listener must not run out of connection ids, and beyond that c leaves
// at once.
func (m *mux) lingering(c *Conn) {
	m.mu.Lock()
	if m.conns[c.id] == c && !c.lingerCounted {
		c.lingerCounted = true
		m.nLinger++
	}
	over := m.nLinger > m.cfg.MaxConns
	m.mu.Unlock()
	if over {
		c.endLinger()
		m.remove(c)
		return
	}
	m.maybeRelease()
}

// closeListener stops new connections and closes the socket if none
// remain.
func (m *mux) closeListener() {
	m.mu.Lock()
	m.lnClosed = true
	m.mu.Unlock()
	m.maybeRelease()
}

// maybeRelease closes the socket once no more connections can come and
// none is left but those lingering after a clean end: these go first.
// Lingering is a courtesy to a peer whose acknowledgement was lost; it
// must not keep a socket the application gave up, nor its Stack. When
// it returns, the socket is closed if it was due to: Close and
// Listener.Close rely on it, so that listening again works at once.
func (m *mux) maybeRelease() {
	m.mu.Lock()
	if !m.lnClosed || len(m.conns) > m.nLinger {
		m.mu.Unlock()
		return
	}
	cs := make([]*Conn, 0, len(m.conns))
	for _, c := range m.conns {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	for _, c := range cs {
		c.endLinger()
	}
	m.mu.Lock()
	for _, c := range cs {
		m.removeLocked(c)
	}
	last := len(m.conns) == 0
	m.mu.Unlock()
	if last {
		m.closePC()
	}
}

func (m *mux) closePC() {
	m.mu.Lock()
	if m.pcClosed {
		m.mu.Unlock()
		return
	}
	m.pcClosed = true
	m.mu.Unlock()
	m.pc.Close()
}
