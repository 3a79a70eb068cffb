// Package pace holds what rip, sap and spx share to time what they send:
// a wake-up channel that never blocks the waker (Waker), a timer set to
// deadlines rather than durations (Timer), the pacing of each link's
// packets PacketGap apart with kinds of job taking turns (Pacer), and the
// paced, bounded sending of a final update on Close (Drain).
package pace

import (
	"context"
	"slices"
	"time"
)

// Waker wakes one waiting goroutine. It holds at most one pending
// wake-up, so Wake never blocks, and wake-ups that come while one is
// pending merge into it: the woken goroutine must look for all the work
// there is. The zero Waker is not usable; make one with NewWaker.
type Waker struct{ c chan struct{} }

// NewWaker returns a Waker with no wake-up pending.
func NewWaker() Waker { return Waker{c: make(chan struct{}, 1)} }

// Wake leaves a wake-up pending unless one is already.
func (w Waker) Wake() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// C is the channel to wait on; receiving from it takes the pending
// wake-up.
func (w Waker) C() <-chan struct{} { return w.c }

// Timer is a time.Timer set to deadlines. It remembers the deadline it
// is armed for, so that Arm can keep the earliest of several deadlines
// without resetting the runtime timer for each. It is not safe for
// concurrent use: its owner serialises the calls (the function of an
// AfterFunc Timer included, for Fired). A Timer is a value, to be kept in
// its owner's struct without an indirection; do not copy it once armed.
type Timer struct {
	t  *time.Timer
	at time.Time // the deadline armed; zero: none
}

// NewTimer returns a stopped Timer that sends the time on C when it
// fires. As a time.Timer's since Go 1.23, C never yields a value for a
// deadline replaced by Reset or cancelled by Stop.
func NewTimer() Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return Timer{t: t}
}

// AfterFunc returns a stopped Timer that calls f in its own goroutine
// when it fires. f may run for a deadline that Arm, Reset or Stop
// replaced just before (a time.Timer's function cannot be recalled once
// started), so it must check what is due; it should call Fired.
func AfterFunc(f func()) Timer {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return Timer{t: t}
}

// C is the channel of a Timer made by NewTimer; nil for AfterFunc's.
func (t *Timer) C() <-chan time.Time { return t.t.C }

// Reset arms the timer for at, in place of any deadline it had. A
// deadline that has passed (the zero time included) fires at once.
func (t *Timer) Reset(at time.Time) {
	t.at = at
	t.t.Reset(max(time.Until(at), 0))
}

// Arm arms the timer for at if it is armed for no deadline or a later
// one; otherwise the earlier deadline stays. A zero at is no deadline
// and changes nothing. Keeping an earlier deadline costs one early
// firing that finds nothing due, which is cheaper than resetting the
// runtime timer every time a deadline moves later.
func (t *Timer) Arm(at time.Time) {
	if at.IsZero() || !t.at.IsZero() && !at.Before(t.at) {
		return
	}
	t.Reset(at)
}

// Fired tells the Timer that it went off, so that the next Arm sets
// whatever deadline it is given.
func (t *Timer) Fired() { t.at = time.Time{} }

// Stop disarms the timer.
func (t *Timer) Stop() {
	t.t.Stop()
	t.at = time.Time{}
}

// Source is the I/O-free protocol core a Pacer drives: its timers, and
// the work waiting on each link as jobs of several kinds, numbered from
// 0. Its methods are called under the lock that guards it.
type Source[K comparable, T any] interface {
	// Tick runs the timers due at now.
	Tick(now time.Time)
	// Deadline is when Tick must run next.
	Deadline() time.Time
	// Links appends to dst the links that may have work.
	Links(dst []K) []K
	// Next returns the next job of kind on link, the items to send one
	// by one; empty if there is none.
	Next(link K, kind int) []T
}

// Pacer drives a Source from its sender's loop: it runs the source's
// timers when due and spaces the items (packets) each link sends at
// least a gap apart, every link on its own. The kinds of job take turns
// on a link, one item each, so that no long job of one kind holds up the
// others. The caller serialises the calls.
type Pacer[K comparable, T any] struct {
	src    Source[K, T]
	gap    time.Duration
	kinds  int
	tickAt time.Time // zero: at once
	lanes  map[K]*lane[T]
	links  []K
	ready  []T
}

// lane is what one link is sending: the rest of the current job of each
// kind, the kind whose turn it is, and when its next item may go.
type lane[T any] struct {
	jobs [][]T
	turn int
	next time.Time
}

// NewPacer returns a Pacer of src's work that spaces each link's items
// gap apart (none if gap is not positive), with kinds kinds of job. The
// first Poll runs src's timers.
func NewPacer[K comparable, T any](src Source[K, T], gap time.Duration, kinds int) *Pacer[K, T] {
	return &Pacer[K, T]{src: src, gap: max(gap, 0), kinds: kinds, lanes: make(map[K]*lane[T])}
}

// Poll runs the source's timers if they are due at now, then releases
// what may go: for each link whose gap has passed, the next item of the
// job of the kind whose turn it is (taking the next job of a kind when
// its current one is done). Links the source no longer lists are
// forgotten, with what was left of their jobs. Poll returns the items,
// valid until the next Poll, and when to poll again: the timers'
// deadline, or earlier, when a link that is within its gap may send
// again (work may be waiting for it).
func (p *Pacer[K, T]) Poll(now time.Time) ([]T, time.Time) {
	wake := p.tickAt
	if !now.Before(p.tickAt) {
		p.src.Tick(now)
		p.tickAt = p.src.Deadline()
		wake = p.tickAt
	}
	p.links = p.src.Links(p.links[:0])
	clear(p.ready)
	p.ready = p.ready[:0]
	for k := range p.lanes {
		if !slices.Contains(p.links, k) {
			delete(p.lanes, k) // a link gone
		}
	}
	for _, k := range p.links {
		ln := p.lanes[k]
		if ln == nil {
			ln = &lane[T]{jobs: make([][]T, p.kinds)}
			p.lanes[k] = ln
		}
		if !now.Before(ln.next) {
			if it, ok := pick(ln, k, p.src); ok {
				p.ready = append(p.ready, it)
				ln.next = now.Add(p.gap)
			}
		}
		if now.Before(ln.next) && ln.next.Before(wake) {
			wake = ln.next
		}
	}
	return p.ready, wake
}

// TickBy makes the timers run at the first Poll at or after at, if that
// is earlier than planned: a change to the source may have brought its
// deadline forward. The zero time runs them at the next Poll.
func (p *Pacer[K, T]) TickBy(at time.Time) {
	if at.Before(p.tickAt) {
		p.tickAt = at
	}
}

// pick takes the lane's next item, the kinds in turn, taking the next job
// of a kind from next when the kind's current one is done.
func pick[K comparable, T any](ln *lane[T], k K, src Source[K, T]) (T, bool) {
	n := len(ln.jobs)
	for i := range n {
		kind := (ln.turn + i) % n
		if len(ln.jobs[kind]) == 0 {
			ln.jobs[kind] = src.Next(k, kind)
		}
		if job := ln.jobs[kind]; len(job) > 0 {
			it := job[0]
			var zero T
			job[0] = zero // the job's array may outlive the item
			ln.jobs[kind] = job[1:]
			ln.turn = kind + 1
			return it, true
		}
	}
	var zero T
	return zero, false
}

// Drain sends items, a final update, each link paced on its own as a
// Pacer would but without kinds: the first item of every link at once,
// then one more per link every gap, or closer so that all go out before
// ctx's deadline. It sends nothing more once ctx ends or stop is closed.
// link gives an item's link; send sends it. The links' items go in the
// order of items.
func Drain[K comparable, T any](ctx context.Context, stop <-chan struct{}, gap time.Duration, items []T, link func(*T) K, send func(*T)) {
	byLink := make(map[K][]*T)
	most := 0
	for i := range items {
		k := link(&items[i])
		byLink[k] = append(byLink[k], &items[i])
		most = max(most, len(byLink[k]))
	}
	if d, ok := ctx.Deadline(); ok && most > 1 {
		// The first items go at once: most-1 gaps, with a margin.
		gap = min(gap, time.Until(d)/time.Duration(most))
	}
	for i := range most {
		if i > 0 && gap > 0 {
			t := time.NewTimer(gap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			case <-stop:
				t.Stop()
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		for _, its := range byLink {
			if i < len(its) {
				send(its[i])
			}
		}
	}
}
