// Package subscribe fans values out to subscribers without ever stalling
// the publisher: the one shape rip's, sap's and mirror's subscriptions
// share. A subscriber whose buffer is full misses values; the next value
// it receives says how many, so that it knows to resynchronise.
package subscribe

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Hub is a set of subscribers. The zero value is ready to use.
type Hub[T any] struct {
	mu     sync.Mutex
	subs   []*Sub[T]
	n      atomic.Int32 // len(subs): Publish skips the lock when zero
	closed bool
}

// Sub is one subscription: values arrive on C until Close.
type Sub[T any] struct {
	C <-chan T
	c chan T
	h *Hub[T]
	// pending counts the values dropped since the last delivered, under
	// h.mu; missed all the values dropped.
	pending uint64
	missed  atomic.Uint64
}

// Subscribe returns a subscription whose channel holds up to buffer
// values (at least 1). After Close of the hub, C is closed at once.
func (h *Hub[T]) Subscribe(buffer int) *Sub[T] {
	c := make(chan T, max(buffer, 1))
	s := &Sub[T]{C: c, c: c, h: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(c)
		return s
	}
	h.subs = append(h.subs, s)
	h.n.Store(int32(len(h.subs)))
	return s
}

// Close ends the subscription and closes C. It is safe to call twice.
func (s *Sub[T]) Close() {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.subs, s); i >= 0 {
		h.subs = slices.Delete(h.subs, i, i+1)
		h.n.Store(int32(len(h.subs)))
		close(s.c)
	}
}

// Missed returns how many values the subscription has dropped so far
// because its buffer was full.
func (s *Sub[T]) Missed() uint64 { return s.missed.Load() }

// Publish offers v to every subscriber, each copy stamped by mark with
// the number of values that subscriber missed before it. It never
// blocks, and returns how many subscribers dropped v.
func (h *Hub[T]) Publish(v T, mark func(v *T, missed uint64)) (dropped int) {
	if h.n.Load() == 0 {
		return 0 // the common case on a table's hot path: nobody listens
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		out := v
		mark(&out, s.pending)
		select {
		case s.c <- out:
			s.pending = 0
		default:
			s.pending++
			s.missed.Add(1)
			dropped++
		}
	}
	return dropped
}

// Close ends every subscription and closes their channels; later
// subscriptions start closed.
func (h *Hub[T]) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, s := range h.subs {
		close(s.c)
	}
	h.subs = nil
	h.n.Store(0)
}
