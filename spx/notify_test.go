package spx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// notifyReader collects, in SetReadNotify's calls, what TryRead returns.
type notifyReader struct {
	c     *Conn
	mu    sync.Mutex
	got   bytes.Buffer
	calls int
	err   error
}

func (r *notifyReader) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	buf := make([]byte, 64)
	for {
		n, err := r.c.TryRead(buf)
		r.got.Write(buf[:n])
		if err != nil {
			r.err = err
			return
		}
		if n == 0 {
			return
		}
	}
}

// Data arriving on a connection with a read notify function is read in
// the receiving goroutine with TryRead, with no reader waiting; TryRead
// with nothing buffered returns at once.
func TestReadNotifyTryRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, _ := abortPair(t, Config{})
		if n, err := peer.TryRead(make([]byte, 10)); n != 0 || err != nil {
			t.Fatalf("TryRead with nothing buffered = %d, %v; want 0, nil", n, err)
		}
		r := &notifyReader{c: peer}
		peer.SetReadNotify(r.notify)
		for _, m := range []string{"hello, ", "world"} {
			if _, err := c.Write([]byte(m)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		r.mu.Lock()
		if r.got.String() != "hello, world" || r.calls < 2 || r.err != nil {
			t.Errorf("notify read %q in %d calls, err %v; want %q", r.got.String(), r.calls, r.err, "hello, world")
		}
		r.mu.Unlock()

		// Without the function, data waits for a read.
		peer.SetReadNotify(nil)
		if _, err := c.Write([]byte("!")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.mu.Lock()
		if r.got.String() != "hello, world" {
			t.Errorf("notify called after SetReadNotify(nil): read %q", r.got.String())
		}
		r.mu.Unlock()
		buf := make([]byte, 10)
		if n, err := peer.TryRead(buf); string(buf[:n]) != "!" || err != nil {
			t.Errorf("TryRead = %q, %v; want %q, nil", buf[:n], err, "!")
		}
	})
}

// The end of the stream is notified too: TryRead then reports io.EOF
// after a clean close, and an error once the connection was aborted.
func TestReadNotifyEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, _ := abortPair(t, Config{Linger: -1})
		r := &notifyReader{c: peer}
		peer.SetReadNotify(r.notify)
		if _, err := c.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		c.Close()
		synctest.Wait()
		r.mu.Lock()
		if r.got.String() != "bye" || !errors.Is(r.err, io.EOF) {
			t.Errorf("notify read %q, err %v; want %q, io.EOF", r.got.String(), r.err, "bye")
		}
		r.mu.Unlock()

		c2, peer2, _ := abortPair(t, Config{})
		r2 := &notifyReader{c: peer2}
		peer2.SetReadNotify(r2.notify)
		peer2.Abort()
		synctest.Wait()
		r2.mu.Lock()
		if !errors.Is(r2.err, net.ErrClosed) {
			t.Errorf("after Abort, notify's TryRead err %v; want net.ErrClosed", r2.err)
		}
		r2.mu.Unlock()
		c2.Abort()
	})
}

// echoNotify makes c's notify function read what arrives and, while
// answer is set, write it straight back.
func echoNotify(t *testing.T, c *Conn, answer *atomic.Bool) {
	c.SetReadNotify(func() {
		buf := make([]byte, 64)
		for {
			n, err := c.TryRead(buf)
			if n == 0 || err != nil {
				return
			}
			if answer.Load() {
				if ok, err := c.TryWrite(buf[:n]); !ok || err != nil {
					t.Errorf("TryWrite = %v, %v", ok, err)
				}
			}
		}
	})
}

// waitAcked polls, a millisecond apart, until everything c sent is
// acknowledged, and returns how long that took (in a synctest bubble).
func waitAcked(c *Conn) time.Duration {
	start := time.Now()
	for {
		c.mu.Lock()
		n := c.ep.sendq.len()
		c.mu.Unlock()
		if n == 0 {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
}

// A notify function that answers what it reads at once (a mirrored
// server's MSL acknowledging an event) sends its answer with the
// acknowledgement the peer asked for in it: one packet per exchange on
// that side, not the answer plus a system packet ahead of it. When the
// function sends nothing, the acknowledgement still goes at once.
func TestReadNotifyAnswerCarriesAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, _ := abortPair(t, Config{})
		var answer atomic.Bool
		answer.Store(true)
		echoNotify(t, peer, &answer)
		synctest.Wait()
		const exchanges = 20
		before := peer.Stats().PacketsSent
		buf := make([]byte, 64)
		for i := range exchanges {
			msg := []byte{byte(i)}
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if n, err := io.ReadFull(c, buf[:1]); n != 1 || err != nil || buf[0] != byte(i) {
				t.Fatalf("exchange %d: read %d %v, %v", i, buf[:n], n, err)
			}
		}
		synctest.Wait()
		if sent := peer.Stats().PacketsSent - before; sent != exchanges {
			t.Errorf("the answering side sent %d packets for %d exchanges, want %d (answers carry the acks)", sent, exchanges, exchanges)
		}

		// Without an answer the ack goes at once, not after the ack delay.
		answer.Store(false)
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // no time passes: the ack delay would
		c.mu.Lock()
		unacked := c.ep.sendq.len()
		c.mu.Unlock()
		if unacked != 0 {
			t.Errorf("%d packets unacknowledged at once: the ack waits for its delay", unacked)
		}
	})
}

// With PiggybackAcks the answering side of a request/response exchange
// asks for no immediate acknowledgement of its answers: the next request
// carries it, so the asking side sends one packet per exchange, not the
// request plus a pure ack of each answer. The last answer is
// acknowledged within the ack delay, with no tail probe before it.
func TestPiggybackAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a, _ := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(1), ipxtest.On{Seg: seg, Net: 1})
		b, _ := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(2), ipxtest.On{Seg: seg, Net: 1})
		ln, err := ListenConfig(b, 0x5000, Config{PiggybackAcks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan *Conn, 1)
		go func() {
			c, _ := ln.AcceptSPX()
			accepted <- c
		}()
		c, err := Dial(context.Background(), a, ipx.Addr{Net: 1, Node: ipxtest.Node(2), Socket: 0x5000})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort()
		peer := <-accepted
		defer peer.Abort()
		var answer atomic.Bool
		answer.Store(true)
		echoNotify(t, peer, &answer)
		buf := make([]byte, 64)
		exchange := func(i int) {
			t.Helper()
			if _, err := c.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			if n, err := io.ReadFull(c, buf[:1]); n != 1 || err != nil || buf[0] != byte(i) {
				t.Fatalf("exchange %d: read %d %v, %v", i, buf[:n], n, err)
			}
		}
		// Until the congestion window opens, every answer asks for an
		// acknowledgement, as every packet of a stream would.
		for i := range 20 {
			exchange(i)
		}
		synctest.Wait()
		const exchanges = 50
		before, peerBefore := c.Stats().PacketsSent, peer.Stats().PacketsSent
		for i := range exchanges {
			exchange(i)
		}
		synctest.Wait()
		if sent := c.Stats().PacketsSent - before; sent != exchanges {
			t.Errorf("the asking side sent %d packets for %d exchanges, want %d (requests carry the acks)", sent, exchanges, exchanges)
		}
		if d := waitAcked(peer); d > DefaultAckDelay+time.Millisecond {
			t.Errorf("the last answer was acknowledged after %v, want within the ack delay %v", d, DefaultAckDelay)
		}
		if st := peer.Stats(); st.TailProbes != 0 || st.Retransmits != 0 || st.PacketsSent-peerBefore != exchanges {
			t.Errorf("answering side: %d tail probes, %d retransmits, %d packets for %d answers; want 0, 0, %d",
				st.TailProbes, st.Retransmits, st.PacketsSent-peerBefore, exchanges, exchanges)
		}
	})
}

// A bulk stream with PiggybackAcks asks for acknowledgements as a
// stream without it does, about every quarter window, not on every
// packet once a quarter window is out.
func TestPiggybackAcksBulk(t *testing.T) {
	for _, piggy := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			c, peer, _ := abortPair(t, Config{PiggybackAcks: piggy, Window: 32})
			const packets = 400
			go func() {
				buf := make([]byte, 64<<10)
				for {
					if _, err := peer.Read(buf); err != nil {
						return
					}
				}
			}()
			synctest.Wait()
			before := peer.Stats().PacketsSent
			data := make([]byte, packets*c.ep.maxData())
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			waitAcked(c)
			if acks := peer.Stats().PacketsSent - before; acks > packets/4 {
				t.Errorf("PiggybackAcks %v: %d acknowledgements for %d packets, want at most %d", piggy, acks, packets, packets/4)
			}
		})
	}
}
