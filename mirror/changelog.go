package mirror

// changeLog holds a primary's recent events, for a secondary that rejoins
// from a state the log reaches back to: it gets the events since instead
// of the whole image. The events are kept encoded as the MSL carries
// them, in chunks: appending never moves what is there, trimming drops
// whole chunks, and the garbage collector has no pointer per event to
// follow through up to MaxLogBytes of log.
type changeLog struct {
	max    int // bound on the encoded events' bytes
	chunks []logChunk
	bytes  int
	// first and last are the sequence numbers of the oldest and newest
	// events held; the events between are all there. Both 0 when empty.
	first, last uint64
	spare       []byte // a dropped chunk's buffer, for the next chunk
}

type logChunk struct {
	first uint64 // sequence number of the chunk's first event
	b     []byte
}

// maxLogChunk is the largest chunk: small against the default bound, so
// that a trim drops a small part of the log.
const maxLogChunk = 64 << 10

// chunkSize is the size of a new chunk: at most a quarter of the bound,
// so that what a trim drops never takes the log far below it.
func (c *changeLog) chunkSize() int { return max(1, min(maxLogChunk, c.max/4)) }

// add appends ev, which must follow the newest event held (otherwise the
// log starts again from ev), and drops the oldest chunks beyond the
// bound. An event larger than the bound empties the log.
func (c *changeLog) add(ev *wireEvent) {
	n := eventFixed + len(ev.Data)
	if c.last != 0 && ev.Seq != c.last+1 || n > c.max {
		c.reset()
		if n > c.max {
			return
		}
	}
	k := len(c.chunks)
	if k == 0 || len(c.chunks[k-1].b)+n > cap(c.chunks[k-1].b) {
		size := max(c.chunkSize(), n)
		b := c.spare
		c.spare = nil
		if cap(b) < size {
			b = make([]byte, 0, size)
		}
		c.chunks = append(c.chunks, logChunk{first: ev.Seq, b: b[:0]})
		k++
	}
	ch := &c.chunks[k-1]
	ch.b = appendEvent(ch.b, ev)
	c.bytes += n
	if c.first == 0 {
		c.first = ev.Seq
	}
	c.last = ev.Seq
	drop := 0
	for c.bytes > c.max && drop < len(c.chunks)-1 {
		c.bytes -= len(c.chunks[drop].b)
		drop++
	}
	if drop > 0 {
		c.spare = c.chunks[drop-1].b[:0]
		m := copy(c.chunks, c.chunks[drop:])
		clear(c.chunks[m:])
		c.chunks = c.chunks[:m]
		c.first = c.chunks[0].first
	}
}

// reset empties the log: the state jumped (an image, a takeover, a step
// down), so the log no longer leads up to it.
func (c *changeLog) reset() {
	if len(c.chunks) > 0 {
		c.spare = c.chunks[0].b[:0]
	}
	clear(c.chunks)
	c.chunks = c.chunks[:0]
	c.bytes, c.first, c.last = 0, 0, 0
}

// since returns the events after sequence number from up to the newest,
// their Data aliasing the log (valid until the next add or reset); false
// if the log does not reach back to from+1.
func (c *changeLog) since(from uint64) ([]wireEvent, bool) {
	if from == c.last {
		return nil, true
	}
	if c.first == 0 || from+1 < c.first || from > c.last {
		return nil, false
	}
	i := len(c.chunks) - 1
	for c.chunks[i].first > from+1 {
		i--
	}
	evs := make([]wireEvent, 0, c.last-from)
	for _, ch := range c.chunks[i:] {
		b := ch.b
		for len(b) > 0 {
			ev, rest, err := parseEvent(b)
			if err != nil {
				return nil, false // cannot happen: we encoded it
			}
			b = rest
			if ev.Seq > from {
				evs = append(evs, ev)
			}
		}
	}
	return evs, true
}
