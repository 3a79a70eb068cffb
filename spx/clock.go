package spx

import (
	"time"

	mono "github.com/ipxkit/ipxkit/internal/clock"
)

// now is the connections' clock: the monotonic clock alone, a quarter
// cheaper than time.Now (see internal/clock); inside a testing/synctest
// bubble it is fake.
func now() time.Time { return mono.Now() }

// clock reads the time when first asked and then keeps it: a call into
// the endpoint reads the clock at most once, and not at all when nothing
// it does needs the time. On virtual machines a clock read costs about as
// much as the rest of the work for a data packet in order.
type clock struct {
	t  time.Time // the time read; before that, a time to report instead (tests)
	ok bool      // t has been read
}

func (c *clock) now() time.Time {
	if !c.ok {
		if c.t.IsZero() {
			c.t = now()
		}
		c.ok = true
	}
	return c.t
}

// fixed returns a clock that says t.
func fixed(t time.Time) *clock { return &clock{t: t, ok: true} }
