package memlan

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// Defaults for Config fields left zero.
const (
	// DefaultMTU is the largest IPX packet an Ethernet II frame carries.
	DefaultMTU = 1500
	// DefaultQueueLen is the receive queue length of each link.
	DefaultQueueLen = 512
	// DefaultReorderDelay is the extra delay of a packet held back by
	// Impairments.Reorder when ReorderDelay is zero.
	DefaultReorderDelay = 10 * time.Millisecond
)

// Errors returned by Attach, matchable with errors.Is.
var (
	// ErrNodeInUse reports an Attach for a node already on the segment.
	ErrNodeInUse = errors.New("memlan: node already attached")
	// ErrBadNode reports an Attach for the zero or the broadcast node.
	ErrBadNode = errors.New("memlan: node cannot be attached")
)

// Config configures a Segment. The zero value is ready to use.
type Config struct {
	// Seed drives every random draw on the segment; the same seed and the
	// same sends replay the same faults.
	Seed uint64
	// MTU is the largest packet, IPX header included, the segment
	// carries; WritePacket refuses larger ones. Default DefaultMTU.
	MTU int
	// QueueLen bounds each link's receive queue and its delayed packets
	// in flight, in packets. Default DefaultQueueLen.
	QueueLen int
}

// Validate reports a Config whose fields are out of range.
func (c Config) Validate() error {
	if c.MTU < 0 || c.MTU > 0xFFFF {
		return fmt.Errorf("memlan: MTU %d out of range 0..65535", c.MTU)
	}
	if c.QueueLen < 0 {
		return fmt.Errorf("memlan: negative QueueLen %d", c.QueueLen)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
}

// Segment is one in-memory wire. Its methods are safe for concurrent use.
type Segment struct {
	cfg Config

	mu    sync.RWMutex
	nodes map[ipx.Node]*Link
	// links holds the attached links sorted by node, replaced (never
	// modified) on attach and detach so broadcasts iterate it unlocked.
	links atomic.Pointer[[]*Link]
	// group maps a node to its partition group; nodes absent from it are
	// in group 0. deaf holds directional cuts: deaf[{from, to}] means to
	// does not hear from.
	group map[ipx.Node]int
	deaf  map[[2]ipx.Node]bool
	// cut is set while group or deaf is non-empty, so the common path
	// skips the map lookups.
	cut atomic.Bool

	imp atomic.Pointer[Impairments]

	stats counters
}

// NewSegment returns an empty segment. Out-of-range Config fields are
// replaced by their defaults (use Config.Validate to check them first).
func NewSegment(cfg Config) *Segment {
	if cfg.Validate() != nil {
		cfg = Config{Seed: cfg.Seed}
	}
	cfg.setDefaults()
	s := &Segment{
		cfg:   cfg,
		nodes: make(map[ipx.Node]*Link),
		group: make(map[ipx.Node]int),
		deaf:  make(map[[2]ipx.Node]bool),
	}
	s.links.Store(new([]*Link))
	return s
}

// MTU is the largest packet the segment carries.
func (s *Segment) MTU() int { return s.cfg.MTU }

// Attach puts node on the segment and returns its link. The node must be
// neither zero nor broadcast nor already attached; a closed link's node
// may be attached again.
func (s *Segment) Attach(node ipx.Node) (*Link, error) {
	if node == ipx.NodeZero || node.IsBroadcast() {
		return nil, fmt.Errorf("%w: %s", ErrBadNode, node)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nodes[node]; ok {
		return nil, fmt.Errorf("%w: %s", ErrNodeInUse, node)
	}
	l := newLink(s, node)
	s.nodes[node] = l
	links := slices.Clone(*s.links.Load())
	i, _ := slices.BinarySearchFunc(links, node, func(l *Link, n ipx.Node) int {
		return bytes.Compare(l.node[:], n[:])
	})
	links = slices.Insert(links, i, l)
	s.links.Store(&links)
	return l, nil
}

func (s *Segment) detach(l *Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes[l.node] != l {
		return
	}
	delete(s.nodes, l.node)
	links := slices.DeleteFunc(slices.Clone(*s.links.Load()), func(x *Link) bool { return x == l })
	s.links.Store(&links)
}

// lookup returns the attached link of node, or nil.
func (s *Segment) lookup(node ipx.Node) *Link {
	s.mu.RLock()
	l := s.nodes[node]
	s.mu.RUnlock()
	return l
}

// Link returns the attached link of node, or nil.
func (s *Segment) Link(node ipx.Node) *Link { return s.lookup(node) }

// SetImpairments sets the faults applied to packets sent by links that
// have no impairments of their own. The zero Impairments removes them.
func (s *Segment) SetImpairments(im Impairments) {
	if im.zero() {
		s.imp.Store(nil)
		return
	}
	im.normalise()
	s.imp.Store(&im)
}

// Impairments returns the segment-wide impairments.
func (s *Segment) Impairments() Impairments {
	if p := s.imp.Load(); p != nil {
		return *p
	}
	return Impairments{}
}

// Partition splits the segment: nodes in different groups stop hearing
// each other. Nodes named in no group form one more group together.
// Partition replaces any earlier partition but keeps SetReachable cuts.
func (s *Segment) Partition(groups ...[]ipx.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.group)
	for i, g := range groups {
		for _, n := range g {
			s.group[n] = i + 1
		}
	}
	s.cut.Store(len(s.group) > 0 || len(s.deaf) > 0)
}

// SetReachable sets whether to hears packets from from (one direction
// only; call it twice for both). It combines with Partition: a packet
// passes only if both allow it.
func (s *Segment) SetReachable(from, to ipx.Node, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		delete(s.deaf, [2]ipx.Node{from, to})
	} else {
		s.deaf[[2]ipx.Node{from, to}] = true
	}
	s.cut.Store(len(s.group) > 0 || len(s.deaf) > 0)
}

// Heal removes every partition and SetReachable cut.
func (s *Segment) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.group)
	clear(s.deaf)
	s.cut.Store(false)
}

// reachable reports whether to hears from.
func (s *Segment) reachable(from, to ipx.Node) bool {
	if !s.cut.Load() {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.group[from] == s.group[to] && !s.deaf[[2]ipx.Node{from, to}]
}

// Stats returns the segment's counters.
func (s *Segment) Stats() Stats { return s.stats.load() }

// Stats counts what happened to packets on a segment. Counts are per
// destination: a broadcast to three nodes that all receive it counts three
// Delivered.
type Stats struct {
	// Sent counts packets accepted by WritePacket (once per call).
	Sent uint64
	// Delivered counts packets placed in a receive queue.
	Delivered uint64
	// Lost counts packets dropped by Impairments.Loss.
	Lost uint64
	// Duplicated counts extra copies made by Impairments.Duplicate.
	Duplicated uint64
	// Reordered counts packets held back by Impairments.Reorder.
	Reordered uint64
	// QueueFull counts packets dropped because the receiver's queue (or
	// its delayed packets in flight) was full.
	QueueFull uint64
	// Unreachable counts packets dropped by a partition or cut.
	Unreachable uint64
	// Crashed counts packets not sent, not received or lost from a queue
	// because a node was crashed.
	Crashed uint64
	// NoNode counts unicasts to a node not on the segment.
	NoNode uint64
}

type counters struct {
	sent, delivered, lost, duplicated, reordered,
	queueFull, unreachable, crashed, noNode atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{
		Sent:        c.sent.Load(),
		Delivered:   c.delivered.Load(),
		Lost:        c.lost.Load(),
		Duplicated:  c.duplicated.Load(),
		Reordered:   c.reordered.Load(),
		QueueFull:   c.queueFull.Load(),
		Unreachable: c.unreachable.Load(),
		Crashed:     c.crashed.Load(),
		NoNode:      c.noNode.Load(),
	}
}
