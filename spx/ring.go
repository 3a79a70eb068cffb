package spx

// ring is a bounded FIFO of segments, so that queues never reallocate.
type ring struct {
	buf        []*segment
	head, size int
}

func newRing(n int) ring { return ring{buf: make([]*segment, n)} }

func (r *ring) len() int   { return r.size }
func (r *ring) full() bool { return r.size == len(r.buf) }

// at returns the i-th element from the front.
func (r *ring) at(i int) *segment { return r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) push(s *segment) {
	r.buf[(r.head+r.size)%len(r.buf)] = s
	r.size++
}

func (r *ring) front() *segment { return r.buf[r.head] }

func (r *ring) pop() *segment {
	s := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return s
}

func (r *ring) back() *segment { return r.at(r.size - 1) }
