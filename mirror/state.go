package mirror

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ipxkit/ipxkit/ipx"
)

// state is what both servers replicate besides the engine: the position
// in the event order and the reply cache that makes a retried request
// apply once. It changes only through apply, with the same events in the
// same order on both servers, so both hold the same cache, and the
// evictions that bound it are deterministic too.
type state struct {
	seq        uint64 // last event applied
	depth      int    // replies kept per client
	maxClients int
	clients    map[uint64]*clientState
}

// clientState is one client's part of the reply cache.
type clientState struct {
	addr    ipx.Addr        // where its last request came from: notifications go there
	last    uint64          // seq of its last event: the eviction order
	top     uint64          // highest request id applied
	applied [idWords]uint64 // bit i: request top-i was applied
	// replies holds the most recent replies: a ring once full, whose
	// oldest is at head (a full cache is overwritten in place, not shifted,
	// on every event).
	replies []cached
	head    int
}

// addReply keeps c, in place of the oldest once depth are kept.
func (cs *clientState) addReply(c cached, depth int) {
	if len(cs.replies) < depth {
		cs.replies = append(cs.replies, c)
		return
	}
	cs.replies[cs.head] = c
	cs.head = (cs.head + 1) % len(cs.replies)
}

// ordered returns the cached replies oldest first, in two parts.
func (cs *clientState) ordered() (older, newer []cached) {
	return cs.replies[cs.head:], cs.replies[:cs.head]
}

// idWindow is how far below a client's highest request id another may
// arrive and still be told apart: applied or new. A request older than
// that is stale. Requests arrive out of order when a client has several
// in flight; it may have up to ReplyCacheDepth.
const (
	idWindow = 256
	idWords  = idWindow / 64
)

// wasApplied reports whether request id, within the window, was applied.
func (cs *clientState) wasApplied(id uint64) bool {
	d := cs.top - id
	return cs.applied[d/64]&(1<<(d%64)) != 0
}

// markApplied records request id as applied.
func (cs *clientState) markApplied(id uint64) {
	if id > cs.top {
		shift := id - cs.top
		cs.top = id
		if shift >= idWindow {
			cs.applied = [idWords]uint64{}
		} else {
			// Move every bit up by shift: bit i becomes bit i+shift.
			w, b := int(shift/64), shift%64
			for i := idWords - 1; i >= 0; i-- {
				var v uint64
				if i-w >= 0 {
					v = cs.applied[i-w] << b
					if b != 0 && i-w-1 >= 0 {
						v |= cs.applied[i-w-1] >> (64 - b)
					}
				}
				cs.applied[i] = v
			}
		}
	}
	d := cs.top - id
	cs.applied[d/64] |= 1 << (d % 64)
}

type cached struct {
	id    uint64
	seq   uint64
	reply []byte
}

func newState(depth, maxClients int) *state {
	return &state{depth: depth, maxClients: maxClients, clients: make(map[uint64]*clientState)}
}

// lookupResult says what the cache knows of a request.
type lookupResult uint8

const (
	fresh       lookupResult = iota // never seen: apply it
	cachedReply                     // applied: answer with the cached reply
	stale                           // older than the cache remembers: drop it
)

// lookup finds request id of client in the cache.
func (s *state) lookup(client, id uint64) (lookupResult, cached) {
	cs := s.clients[client]
	if cs == nil || id > cs.top {
		// Above every id applied: none of the cached replies is its.
		return fresh, cached{}
	}
	for _, c := range cs.replies {
		if c.id == id {
			return cachedReply, c
		}
	}
	switch {
	case id > cs.top:
		return fresh, cached{}
	case cs.top-id >= idWindow || cs.wasApplied(id):
		// Applied, but its reply has left the cache; or too old to
		// tell. Applying it again would apply it twice.
		return stale, cached{}
	}
	return fresh, cached{}
}

// apply applies ev to the engine unless the cache already holds its
// reply, and returns the reply. Both servers call it for every event in
// order; the primary decides what to sequence with lookup, so a duplicate
// here is only the cache agreeing with itself.
func (s *state) apply(e Engine, ev *wireEvent) []byte {
	s.seq = ev.Seq
	if r, c := s.lookup(ev.Client, ev.ID); r != fresh {
		if cs := s.clients[ev.Client]; cs != nil {
			cs.last, cs.addr = ev.Seq, ev.From
		}
		return c.reply
	}
	out := e.Apply(Event{Seq: ev.Seq, Client: ev.Client, ID: ev.ID, Data: ev.Data})
	reply := append([]byte(nil), out[:min(len(out), MaxData)]...)
	cs := s.clients[ev.Client]
	if cs == nil {
		if len(s.clients) >= s.maxClients {
			s.evictClient()
		}
		cs = &clientState{replies: make([]cached, 0, s.depth)}
		s.clients[ev.Client] = cs
	}
	cs.addr, cs.last = ev.From, ev.Seq
	cs.markApplied(ev.ID)
	cs.addReply(cached{id: ev.ID, seq: ev.Seq, reply: reply}, s.depth)
	return reply
}

// evictClient forgets the client whose last event is oldest. Ties cannot
// happen: each event has its own seq.
func (s *state) evictClient() {
	var victim uint64
	oldest := ^uint64(0)
	for id, cs := range s.clients {
		if cs.last < oldest {
			victim, oldest = id, cs.last
		}
	}
	delete(s.clients, victim)
}

// addrs returns the addresses of the clients the cache knows.
func (s *state) addrs() []ipx.Addr {
	out := make([]ipx.Addr, 0, len(s.clients))
	seen := make(map[ipx.Addr]bool, len(s.clients))
	for _, cs := range s.clients {
		if !seen[cs.addr] {
			seen[cs.addr] = true
			out = append(out, cs.addr)
		}
	}
	return out
}

// appendBinary encodes the state for an image: seq (8), client count (4),
// then per client: id (8), addr (12), last (8), top (8), applied (32),
// count (2), and
// per reply: id (8), seq (8), length (2), reply.
func (s *state) appendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, s.seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.clients)))
	for id, cs := range s.clients {
		b = binary.BigEndian.AppendUint64(b, id)
		b = appendAddr(b, cs.addr)
		b = binary.BigEndian.AppendUint64(b, cs.last)
		b = binary.BigEndian.AppendUint64(b, cs.top)
		for _, w := range cs.applied {
			b = binary.BigEndian.AppendUint64(b, w)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(cs.replies)))
		older, newer := cs.ordered()
		for _, part := range [2][]cached{older, newer} {
			for _, c := range part {
				b = binary.BigEndian.AppendUint64(b, c.id)
				b = binary.BigEndian.AppendUint64(b, c.seq)
				b = binary.BigEndian.AppendUint16(b, uint16(len(c.reply)))
				b = append(b, c.reply...)
			}
		}
	}
	return b
}

// unmarshal decodes an image's state part into a new state with s's
// bounds and returns the rest of b. Nothing of s changes on error.
func (s *state) unmarshal(b []byte) (*state, []byte, error) {
	short := fmt.Errorf("mirror: state image: %w", io.ErrUnexpectedEOF)
	if len(b) < 12 {
		return nil, nil, short
	}
	n := newState(s.depth, s.maxClients)
	n.seq = binary.BigEndian.Uint64(b)
	count := int(binary.BigEndian.Uint32(b[8:]))
	b = b[12:]
	if count > s.maxClients {
		return nil, nil, fmt.Errorf("mirror: state image of %d clients over %d: %w", count, s.maxClients, ErrTooLarge)
	}
	for range count {
		const fixed = 8 + 12 + 8 + 8 + 8*idWords + 2
		if len(b) < fixed {
			return nil, nil, short
		}
		id := binary.BigEndian.Uint64(b)
		cs := &clientState{addr: readAddr(b[8:]), last: binary.BigEndian.Uint64(b[20:]), top: binary.BigEndian.Uint64(b[28:])}
		for i := range cs.applied {
			cs.applied[i] = binary.BigEndian.Uint64(b[36+8*i:])
		}
		k := int(binary.BigEndian.Uint16(b[fixed-2:]))
		b = b[fixed:]
		if k > s.depth {
			return nil, nil, fmt.Errorf("mirror: state image of %d replies per client over %d: %w", k, s.depth, ErrTooLarge)
		}
		cs.replies = make([]cached, 0, s.depth)
		for range k {
			if len(b) < 18 {
				return nil, nil, short
			}
			c := cached{id: binary.BigEndian.Uint64(b), seq: binary.BigEndian.Uint64(b[8:])}
			l := int(binary.BigEndian.Uint16(b[16:]))
			b = b[18:]
			if l > MaxData || len(b) < l {
				return nil, nil, short
			}
			c.reply = append([]byte(nil), b[:l]...)
			b = b[l:]
			cs.replies = append(cs.replies, c)
		}
		n.clients[id] = cs
	}
	return n, b, nil
}
