package memlan

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// Link is one node's attachment to a Segment. It implements ipx.Link;
// its methods are safe for concurrent use.
type Link struct {
	seg  *Segment
	node ipx.Node

	closed  atomic.Bool
	crashed atomic.Bool
	// imp is the link's own impairments, or nil to use the segment's.
	imp atomic.Pointer[Impairments]

	// rngMu guards rng, this link's source for its sends' draws.
	rngMu sync.Mutex
	rng   *rand.Rand

	// mu guards the receive side below.
	mu      sync.Mutex
	ready   sync.Cond // signalled when ring gains a packet or on close
	ring    []slot
	head    int
	count   int
	readers int // ReadPacket calls waiting on ready: a push signals only them
	// pending holds delayed packets, a min-heap on (due, seq), and one
	// timer armed for the earliest. free holds the spare buffers, the
	// ring's and the delayed packets': a slot holds a buffer only while
	// its packet is queued.
	pending []delayed
	free    [][]byte
	timer   *time.Timer
	seq     uint64
}

var (
	_ ipx.Link        = (*Link)(nil)
	_ ipx.BatchWriter = (*Link)(nil)
)

type slot struct {
	buf  []byte
	from ipx.Node
}

type delayed struct {
	due  time.Time
	seq  uint64
	buf  []byte
	from ipx.Node
}

func newLink(s *Segment, node ipx.Node) *Link {
	var raw [8]byte
	copy(raw[2:], node[:])
	l := &Link{
		seg:  s,
		node: node,
		rng:  rand.New(rand.NewPCG(s.cfg.Seed, binary.BigEndian.Uint64(raw[:]))),
		ring: make([]slot, s.cfg.QueueLen),
	}
	l.ready.L = &l.mu
	return l
}

// Node returns the link's node address.
func (l *Link) Node() ipx.Node { return l.node }

// MTU returns the segment's MTU.
func (l *Link) MTU() int { return l.seg.cfg.MTU }

// Segment returns the segment the link is attached to.
func (l *Link) Segment() *Segment { return l.seg }

// SetImpairments gives the link its own impairments for the packets it
// sends, replacing (not adding to) the segment's. The zero Impairments
// means a perfect link whatever the segment's setting.
func (l *Link) SetImpairments(im Impairments) {
	im.normalise()
	l.imp.Store(&im)
}

// ClearImpairments makes the link use the segment's impairments again.
func (l *Link) ClearImpairments() { l.imp.Store(nil) }

// impairments returns those in force for the link's sends, nil for none.
func (l *Link) impairments() *Impairments {
	im := l.imp.Load()
	if im == nil {
		return l.seg.imp.Load()
	}
	if im.Loss == 0 && im.Duplicate == 0 && im.Delay == 0 && im.Jitter == 0 && im.Reorder == 0 {
		return nil
	}
	return im
}

// Crash makes the node fall silent, as if powered off: it sends and
// receives nothing, and the packets queued or in flight to it are lost.
// Its ReadPacket keeps blocking. Restore brings it back.
func (l *Link) Crash() {
	l.crashed.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seg.stats.crashed.Add(uint64(l.count + len(l.pending)))
	l.dropQueuedLocked()
}

// Restore undoes Crash; the node starts with an empty queue.
func (l *Link) Restore() { l.crashed.Store(false) }

// Crashed reports whether the node is crashed.
func (l *Link) Crashed() bool { return l.crashed.Load() }

func (l *Link) dropQueuedLocked() {
	for i := range l.count {
		s := &l.ring[(l.head+i)%len(l.ring)]
		l.free = append(l.free, s.buf[:0])
		s.buf = nil
	}
	l.head, l.count = 0, 0
	for _, d := range l.pending {
		l.free = append(l.free, d.buf[:0])
	}
	clear(l.pending)
	l.pending = l.pending[:0]
	if l.timer != nil {
		l.timer.Stop()
	}
}

// Close detaches the node from the segment and unblocks ReadPacket, which
// then returns an error wrapping net.ErrClosed. A second Close returns a
// *net.OpError wrapping net.ErrClosed, as the ipx package's Close rule
// says.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		return l.opErr("close", net.ErrClosed)
	}
	l.seg.detach(l)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropQueuedLocked()
	l.free = nil
	l.ready.Broadcast()
	return nil
}

// ReadPacket blocks until a packet arrives, copies it into b (truncating
// it to len(b)) and returns its length and sender.
func (l *Link) ReadPacket(b []byte) (int, ipx.Node, error) {
	l.mu.Lock()
	for l.count == 0 && !l.closed.Load() {
		l.readers++
		l.ready.Wait()
		l.readers--
	}
	if l.closed.Load() {
		l.mu.Unlock()
		return 0, ipx.Node{}, l.opErr("read", net.ErrClosed)
	}
	s := &l.ring[l.head]
	n := copy(b, s.buf)
	from := s.from
	// The buffer goes back on top of the spares, and the next packet
	// queued takes it while it is still in the cache.
	l.free = append(l.free, s.buf[:0])
	s.buf = nil
	l.head = (l.head + 1) % len(l.ring)
	l.count--
	l.mu.Unlock()
	return n, from, nil
}

// WritePacket sends p to dst, or to every other node if dst is
// ipx.NodeBroadcast. It copies p. Packets to unknown nodes, to the sender
// itself or from a crashed node vanish without error, as on a wire.
func (l *Link) WritePacket(p []byte, dst ipx.Node) error {
	if l.closed.Load() {
		return l.opErr("write", net.ErrClosed)
	}
	if len(p) > l.seg.cfg.MTU {
		return l.opErr("write", fmt.Errorf("memlan: %d bytes over MTU %d: %w", len(p), l.seg.cfg.MTU, ipx.ErrTooLarge))
	}
	st := &l.seg.stats
	if l.crashed.Load() {
		st.crashed.Add(1)
		return nil
	}
	st.sent.Add(1)
	im := l.impairments()
	if dst.IsBroadcast() {
		for _, r := range *l.seg.links.Load() {
			if r != l {
				l.sendTo(r, p, im)
			}
		}
		return nil
	}
	if dst == l.node {
		return nil
	}
	r := l.seg.lookup(dst)
	if r == nil {
		st.noNode.Add(1)
		return nil
	}
	l.sendTo(r, p, im)
	return nil
}

// WritePackets sends ps to dst in order, as WritePacket would send each.
// A batch to one node on an unimpaired segment takes the receiver's lock
// once; otherwise each packet goes as by WritePacket (impairments act on
// each). It implements ipx.BatchWriter.
func (l *Link) WritePackets(ps [][]byte, dst ipx.Node) (int, error) {
	for _, p := range ps {
		if len(p) > l.seg.cfg.MTU {
			return 0, l.opErr("write", fmt.Errorf("memlan: %d bytes over MTU %d: %w", len(p), l.seg.cfg.MTU, ipx.ErrTooLarge))
		}
	}
	if l.impairments() != nil || dst.IsBroadcast() || dst == l.node || l.crashed.Load() || l.closed.Load() {
		for i, p := range ps {
			if err := l.WritePacket(p, dst); err != nil {
				return i, err
			}
		}
		return len(ps), nil
	}
	st := &l.seg.stats
	st.sent.Add(uint64(len(ps)))
	r := l.seg.lookup(dst)
	switch {
	case r == nil:
		st.noNode.Add(uint64(len(ps)))
	case !l.seg.reachable(l.node, r.node):
		st.unreachable.Add(uint64(len(ps)))
	default:
		r.mu.Lock()
		wake := false
		for _, p := range ps {
			wake = r.pushLocked(p, l.node) || wake
		}
		r.mu.Unlock()
		if wake {
			r.ready.Signal()
		}
	}
	return len(ps), nil
}

func (l *Link) sendTo(r *Link, p []byte, im *Impairments) {
	st := &l.seg.stats
	if !l.seg.reachable(l.node, r.node) {
		st.unreachable.Add(1)
		return
	}
	if im == nil {
		r.deliver(p, l.node)
		return
	}
	l.rngMu.Lock()
	f := im.draw(l.rng)
	l.rngMu.Unlock()
	if f.copies == 0 {
		st.lost.Add(1)
		return
	}
	if f.copies > 1 {
		st.duplicated.Add(uint64(f.copies - 1))
	}
	st.reordered.Add(uint64(f.reordered))
	for i := range f.copies {
		if f.delay[i] <= 0 {
			r.deliver(p, l.node)
		} else {
			r.deliverAfter(p, l.node, f.delay[i])
		}
	}
}

// deliver puts a copy of p in l's receive queue now.
func (l *Link) deliver(p []byte, from ipx.Node) {
	l.mu.Lock()
	wake := l.pushLocked(p, from)
	l.mu.Unlock()
	if wake {
		l.ready.Signal()
	}
}

// pushLocked queues a copy of p. It reports whether a reader waits for
// it: the caller signals ready once it has released l.mu, so that the
// woken reader does not block at once on the lock the signaller holds.
func (l *Link) pushLocked(p []byte, from ipx.Node) bool {
	st := &l.seg.stats
	switch {
	case l.closed.Load():
		return false
	case l.crashed.Load():
		st.crashed.Add(1)
		return false
	case l.count == len(l.ring):
		st.queueFull.Add(1)
		return false
	}
	s := &l.ring[(l.head+l.count)%len(l.ring)]
	if s.buf == nil {
		s.buf = l.spareLocked()
	}
	s.buf = append(s.buf[:0], p...)
	s.from = from
	l.count++
	st.delivered.Add(1)
	return l.readers > 0
}

// spareLocked returns an empty buffer of MTU bytes: the spare freed
// last, or a new one. There are at most as many as the queue and the
// delayed packets hold at once.
func (l *Link) spareLocked() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b
	}
	return make([]byte, 0, l.seg.cfg.MTU)
}

// deliverAfter queues a copy of p for delivery after d.
func (l *Link) deliverAfter(p []byte, from ipx.Node, d time.Duration) {
	st := &l.seg.stats
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed.Load():
		return
	case l.crashed.Load():
		st.crashed.Add(1)
		return
	case len(l.pending) >= len(l.ring):
		st.queueFull.Add(1)
		return
	}
	buf := l.spareLocked()
	l.seq++
	due := time.Now().Add(d)
	l.heapPush(delayed{due: due, seq: l.seq, buf: append(buf, p...), from: from})
	if l.pending[0].seq == l.seq {
		// The new packet is the earliest: (re)arm the timer for it.
		if l.timer == nil {
			l.timer = time.AfterFunc(d, l.release)
		} else {
			l.timer.Reset(d)
		}
	}
}

// release moves the delayed packets that are due into the receive queue
// and rearms the timer for the next.
func (l *Link) release() {
	l.mu.Lock()
	now := time.Now()
	wake := false
	for len(l.pending) > 0 && !l.pending[0].due.After(now) {
		d := l.heapPop()
		wake = l.pushLocked(d.buf, d.from) || wake
		l.free = append(l.free, d.buf[:0])
	}
	if len(l.pending) > 0 && !l.closed.Load() {
		l.timer.Reset(l.pending[0].due.Sub(now))
	}
	l.mu.Unlock()
	if wake {
		l.ready.Signal()
	}
}

func (a delayed) before(b delayed) bool {
	if a.due.Equal(b.due) {
		return a.seq < b.seq
	}
	return a.due.Before(b.due)
}

func (l *Link) heapPush(d delayed) {
	h := append(l.pending, d)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	l.pending = h
}

func (l *Link) heapPop() delayed {
	h := l.pending
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = delayed{}
	h = h[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].before(h[c]) {
			c++
		}
		if !h[c].before(h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	l.pending = h
	return top
}

func (l *Link) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "memlan", Addr: ipx.Addr{Node: l.node}, Err: err}
}
