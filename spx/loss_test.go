package spx

import (
	"bytes"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// lossRun sends size bytes one way over memlan with impairments im (from
// the start), on the fake clock, and
// returns how long the receiver took to read them all and both ends'
// counters.
func lossRun(t *testing.T, im memlan.Impairments, size int) (el time.Duration, snd, rcv Stats) {
	t.Helper()
	return lossRunConfig(t, im, size, Config{}, Config{})
}

// lossRunConfig is lossRun with the dialler's and the listener's
// configurations cc and sc (their Window, RetryLimit, Linger and timers
// are set).
func lossRunConfig(t *testing.T, im memlan.Impairments, size int, cc, sc Config) (el time.Duration, snd, rcv Stats) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 7})
		set := func(c Config) Config {
			c.Window, c.RetryLimit, c.Linger, c.AbortTimeout, c.VerifyInterval = 64, 50, time.Hour, time.Hour, time.Minute
			return c
		}
		n.seg.SetImpairments(im)
		c, s, _ := n.connect(t, set(cc), set(sc))
		data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			if _, err := c.Write(data); err != nil {
				errc <- err
				return
			}
			errc <- c.Close()
		}()
		got, err := io.ReadAll(s)
		el = time.Since(start)
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, len(got))
		}
		if err := <-errc; err != nil {
			t.Fatalf("write and close: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, want %d, or they differ", len(got), len(data))
		}
		snd, rcv = c.Stats(), s.Stats()
		s.Close()
	})
	return el, snd, rcv
}

func mbits(size int, el time.Duration) float64 {
	return float64(size) * 8 / el.Seconds() / 1e6
}

// TestLossHeavy reproduces the collapse under 30 % loss with 10 %
// duplication and reordering: the congestion window stayed at one packet
// and every loss waited out a retransmission timeout (0.05 Mbit/s, 1,772
// timeouts for 20 MB). Recovery that needs no timeout for most losses
// keeps goodput above a floor, in fake time so the figure is the
// protocol's, not the machine's.
func TestLossHeavy(t *testing.T) {
	const size = 1 << 20
	el, snd, rcv := lossRun(t, memlan.Impairments{
		Loss: 0.30, Duplicate: 0.10, Reorder: 0.05,
		Delay: time.Millisecond, ReorderDelay: 2 * time.Millisecond,
	}, size)
	g := mbits(size, el)
	t.Logf("%.2f Mbit/s (%v); sender %+v; receiver %+v", g, el, snd, rcv)
	if g < 0.5 {
		t.Errorf("goodput %.2f Mbit/s at 30%% loss, want at least 0.5", g)
	}
	// Each timeout costs at least MinRTO (100 ms) against a 2 ms round
	// trip: most losses must be repaired without one.
	if lost := snd.Retransmits; snd.Timeouts*5 > lost {
		t.Errorf("%d timeouts for %d retransmissions, want at most 1 in 5", snd.Timeouts, lost)
	}
}

// TestLossReorder reproduces the spurious fast retransmissions at 1 %
// loss and 1 % reordering. Without duplication on the link, every
// duplicate the receiver sees is a retransmission of a packet that was
// not lost.
func TestLossReorder(t *testing.T) {
	const size = 4 << 20
	el, snd, rcv := lossRun(t, memlan.Impairments{
		Loss: 0.01, Reorder: 0.01,
		Delay: time.Millisecond, ReorderDelay: 2 * time.Millisecond,
	}, size)
	g := mbits(size, el)
	t.Logf("%.2f Mbit/s (%v); sender %+v; receiver %+v", g, el, snd, rcv)
	if rcv.Duplicates*3 > snd.Retransmits {
		t.Errorf("%d of %d retransmissions spurious, want at most 1 in 3", rcv.Duplicates, snd.Retransmits)
	}
	if g < 40 {
		t.Errorf("goodput %.2f Mbit/s, want at least 40", g)
	}
	if snd.Timeouts > 2 {
		t.Errorf("%d timeouts, want at most 2", snd.Timeouts)
	}
}

// TestLossSlowerPath: a connection set up on an idle path, whose round
// trip measures near zero, goes on over one 11 ms each way that loses
// and duplicates packets. The duplicates' acknowledgements must not
// resend the oldest packet on every one with the stale estimate until
// the retry limit ends the connection (as the mirror's simulation found).
func TestLossSlowerPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 176})
		cfg := Config{Window: 64, MaxRTO: 100 * time.Millisecond}
		c, s, _ := n.connect(t, cfg, cfg)
		n.seg.SetImpairments(memlan.Impairments{Loss: 0.11, Duplicate: 0.17, Delay: 11 * time.Millisecond, Jitter: 4 * time.Millisecond})
		transferBoth(t, c, s, 256<<10)
		if st := c.Stats(); st.Retransmits > st.PacketsSent/3 {
			t.Errorf("%d retransmissions of %d packets sent", st.Retransmits, st.PacketsSent)
		}
		c.Close()
		s.Close()
	})
}
