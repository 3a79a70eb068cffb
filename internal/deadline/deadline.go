// Package deadline implements the absolute, refreshable deadlines that
// net.Conn and net.PacketConn specify, in the way the standard library's
// net.Pipe does (pipeDeadline): a deadline is a channel closed once it
// has passed, so a blocked read or write selects on it beside its other
// wake-ups, and setting a new deadline takes effect for calls already
// waiting.
//
// Timers come from package time, so deadlines follow the fake clock
// inside testing/synctest bubbles.
package deadline

import (
	"sync"
	"sync/atomic"
	"time"
)

// Deadline is one deadline (a read or a write deadline). It is safe for
// concurrent use. The zero value has no deadline set and is ready to use.
type Deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes; nil until needed
	armed  atomic.Bool   // a deadline is set, passed or not
}

// New returns a Deadline with no deadline set.
func New() *Deadline { return &Deadline{cancel: make(chan struct{})} }

// Set arms the deadline at t; the zero time disarms it. A time already
// passed makes Wait's channel closed at once. Callers waiting on the
// channel Wait returned before see a later deadline or a disarm: the
// channel stays the same while it is not closed.
func (d *Deadline) Set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired and closed cancel: this does not block
	}
	d.timer = nil
	d.armed.Store(!t.IsZero())

	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		c := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(c) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// Wait returns a channel closed once the deadline has passed. Call it
// again after Set: a deadline set anew after it passed has a new channel.
func (d *Deadline) Wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

// Exceeded reports whether the deadline has passed. Without a deadline
// set it takes no lock, so per-packet checks stay cheap.
func (d *Deadline) Exceeded() bool { return d.armed.Load() && isClosed(d.Wait()) }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
