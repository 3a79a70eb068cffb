package spx

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// mux owns one bound IPX socket: its goroutine reads SPX packets and hands
// them to connections by destination connection id, and connection
// requests to the Listener, if any.
type mux struct {
	stack *ipx.Stack
	pc    *ipx.Conn
	cfg   *Config
	ln    *Listener // nil for a dialled connection's socket

	mu       sync.Mutex
	conns    map[uint16]*Conn
	lnClosed bool // no more connections will be added
	pcClosed bool

	done chan struct{} // closed when the reader goroutine exits
	pool *segPool
	c    muxCounters
}

type muxCounters struct {
	malformed, notSPX, unknownConn, requests, backlogDrops atomic.Uint64
}

func newMux(stack *ipx.Stack, pc *ipx.Conn, cfg *Config, ln *Listener) *mux {
	pc.SetPacketType(ipx.TypeSPX)
	m := &mux{stack: stack, pc: pc, cfg: cfg, ln: ln, conns: make(map[uint16]*Conn), done: make(chan struct{})}
	m.pool = newSegPool(m.bufLen())
	return m
}

// start runs the reader goroutine; the owner calls it once set up, since
// the reader calls back into the Listener.
func (m *mux) start() { go m.readLoop() }

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

func (m *mux) readLoop() {
	defer close(m.done)
	var h Header
	var last *Conn // the previous packet's connection, to skip the map
	seg := m.pool.get()
	for {
		// Read straight into a segment: the connection keeps it if the
		// packet carries data it buffers, saving a copy.
		buf := seg.buf
		n, info, err := m.pc.ReadMsg(buf)
		if err != nil {
			m.shutdown(err)
			return
		}
		if info.Header.Type != ipx.TypeSPX {
			m.c.notSPX.Add(1)
			continue
		}
		if err := h.UnmarshalBinary(buf[:n]); err != nil {
			m.c.malformed.Add(1)
			continue
		}
		data := buf[h.Len():n]
		src := info.Header.Src
		if h.DstID == IDUnknown {
			if h.Control&ControlSystem == 0 || m.ln == nil || h.SrcID == IDUnknown || h.SrcID == 0 {
				m.c.unknownConn.Add(1)
				continue
			}
			m.ln.request(&h, src)
			continue
		}
		c := last
		if c == nil || c.id != h.DstID || c.removedFlag.Load() {
			m.mu.Lock()
			c = m.conns[h.DstID]
			m.mu.Unlock()
			last = c
		}
		ok := false
		if c != nil {
			seg, ok = c.input(src, &h, data, seg)
		}
		if !ok {
			// Novell's SPX ignores packets for connections it does not
			// know; answering would let a forged packet provoke traffic.
			m.c.unknownConn.Add(1)
		}
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
	if m.conns[c.id] == c {
		delete(m.conns, c.id)
	}
	last := len(m.conns) == 0 && m.lnClosed
	m.mu.Unlock()
	if last {
		m.closePC()
	}
}

// closeListener stops new connections and closes the socket if none
// remain.
func (m *mux) closeListener() {
	m.mu.Lock()
	m.lnClosed = true
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

// now is the mux's clock; inside a testing/synctest bubble it is fake.
func now() time.Time { return time.Now() }
