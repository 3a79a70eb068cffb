package udp

import (
	"net"
	"sync"
	"time"
)

// Queued writes. ipx.Link writes one packet per call, so a sender that
// writes back to back pays one sendto per packet, while the server and
// the receiving Link already move packets in batches. A sender that has
// several packets at once hands them over together (WritePackets, the
// ipx.BatchWriter path): when nothing is queued or being sent they go out
// with one sendmmsg from the caller's buffers, otherwise they queue. With
// batched I/O (an IPv4 *net.UDPConn on Linux) WritePacket has two paths:
//
//   - queued: WritePacket copies p into a bounded ring and returns; one
//     writer goroutine sends whatever has accumulated with one sendmmsg
//     (one UDP_SEGMENT message for a run of equal sizes). A sender
//     writing back to back fills the ring while the writer sends.
//   - inline: a hand-over to the writer that found one packet to send
//     was a wasted goroutine wake-up (about as dear as the send): the
//     caller writes in lockstep with something else, such as a read, or
//     seldom. Then the next packets, while nothing is queued or being
//     sent, go out inline (WritePacket sends p itself with one sendto
//     and returns its error, as before): 1, 3, 7, ... up to maxBackoff
//     after each such hand-over in a row. A hand-over that carries a
//     batch ends that.
//
// A WritePacket that finds a send in progress or packets queued always
// queues, so concurrent writers batch at once; a lone writer that turns
// from lockstep to writing back to back goes on inline for up to
// maxBackoff packets before the queue is tried again. Whether the caller
// writes back to back could be told from the clock, but reading it twice
// per packet cost about 2% of a lockstep exchange (kvm-clock); the
// backoff costs one wasted wake-up per maxBackoff+1 packets in lockstep.
//
// A send is in progress on at most one path at a time and the ring is
// sent in order after it, so packets leave in the order WritePacket
// accepted them. An error from a queued send is counted in
// LinkStats.WriteErrors and returned by the next WritePacket.

// writeQueueLen bounds the packets waiting for the writer goroutine; a
// WritePacket that finds the ring full waits for room.
const writeQueueLen = 64

// closeFlushTimeout bounds how long Close waits for the socket to take
// the packets still queued.
const closeFlushTimeout = time.Second

// maxBackoff bounds the inline sends after hand-overs of one packet.
const maxBackoff = 4095

type writeQueue struct {
	mu      sync.Mutex
	room    sync.Cond // signalled when slots free up or closing is set
	ms      []msg     // ring of writeQueueLen slots of MTU bytes
	head, n int       // queued: n slots from ms[head], wrapping

	inline   bool // a WritePacket is sending inline
	flushing bool // the writer goroutine owns the queue until it is empty
	running  bool // the writer goroutine was started
	closing  bool // Close was called: accept nothing more
	err      error

	skip    int // inline sends to make before queueing again
	backoff int // skip after the next hand-over that carries one packet

	direct []msg // a batch WritePackets sends inline, aliasing its packets

	wake chan struct{} // one token per hand-over to the writer
	done chan struct{} // closed when the writer goroutine exits
	run  func()        // the writer goroutine, bound once
}

func (l *Link) newWriteQueue() *writeQueue {
	q := &writeQueue{
		ms:     newMsgs(writeQueueLen, MTU),
		direct: make([]msg, writeQueueLen),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	q.room.L = &q.mu
	q.run = l.writeLoop
	return q
}

// kick hands the queue to the writer goroutine, starting it the first
// time. q.mu is held, and neither flushing nor inline is set.
func (q *writeQueue) kick() {
	q.flushing = true
	if !q.running {
		q.running = true
		go q.run()
	}
	select {
	case q.wake <- struct{}{}:
	default: // cannot happen: one token per hand-over
	}
}

// writeQueued is WritePacket on the queued path: p, checked, goes out
// inline or through the ring.
func (l *Link) writeQueued(p []byte) error {
	q := l.wq
	q.mu.Lock()
	if err := q.err; err != nil {
		q.err = nil
		q.mu.Unlock()
		return opErr("write", l.pc.LocalAddr(), nil, err)
	}
	if q.closing {
		q.mu.Unlock()
		return opErr("write", l.pc.LocalAddr(), nil, net.ErrClosed)
	}
	if q.skip > 0 && !q.inline && !q.flushing && q.n == 0 {
		q.skip--
		q.inline = true
		q.mu.Unlock()
		_, err := l.conn.WriteToUDPAddrPort(p, l.server)
		q.mu.Lock()
		q.inline = false
		if q.n > 0 || (q.closing && q.running) {
			q.kick()
		}
		q.mu.Unlock()
		if err != nil {
			return opErr("write", l.pc.LocalAddr(), nil, err)
		}
		l.sent.Add(1)
		return nil
	}
	for q.n == len(q.ms) && !q.closing {
		q.room.Wait()
	}
	if q.closing {
		q.mu.Unlock()
		return opErr("write", l.pc.LocalAddr(), nil, net.ErrClosed)
	}
	m := &q.ms[(q.head+q.n)%len(q.ms)]
	m.n, m.addr = copy(m.buf, p), l.server
	q.n++
	if !q.inline && !q.flushing {
		q.kick()
	}
	q.mu.Unlock()
	return nil
}

// writeBatchQueued is WritePackets on the queued path. A batch finding
// the queue idle goes out inline, from the caller's buffers, without a
// hand-over; otherwise its packets queue one by one.
func (l *Link) writeBatchQueued(ps [][]byte) (int, error) {
	q := l.wq
	done := 0
	for done < len(ps) {
		q.mu.Lock()
		if err := q.err; err != nil {
			q.err = nil
			q.mu.Unlock()
			return done, opErr("write", l.pc.LocalAddr(), nil, err)
		}
		if q.closing {
			q.mu.Unlock()
			return done, opErr("write", l.pc.LocalAddr(), nil, net.ErrClosed)
		}
		if q.inline || q.flushing || q.n > 0 {
			q.mu.Unlock()
			break
		}
		q.inline = true
		ms := q.direct[:min(len(ps)-done, len(q.direct))]
		for i := range ms {
			p := ps[done+i]
			ms[i] = msg{buf: p, n: len(p), addr: l.server}
		}
		q.mu.Unlock()
		err := l.sendBatch(ms)
		clear(ms) // keep no reference to the caller's packets
		q.mu.Lock()
		q.inline = false
		if q.n > 0 || (q.closing && q.running) {
			q.kick()
		}
		q.mu.Unlock()
		done += len(ms)
		if err != nil {
			return done, opErr("write", l.pc.LocalAddr(), nil, err)
		}
	}
	for ; done < len(ps); done++ {
		if err := l.writeQueued(ps[done]); err != nil {
			return done, err
		}
	}
	return done, nil
}

// writeLoop is the writer goroutine: each time it is handed the queue,
// it sends until the queue is empty; it exits once that happens after
// Close.
func (l *Link) writeLoop() {
	q := l.wq
	defer close(q.done)
	for {
		<-q.wake
		q.mu.Lock()
		carried := 0
		for q.n > 0 {
			k := min(q.n, len(q.ms)-q.head)
			batch := q.ms[q.head : q.head+k]
			q.mu.Unlock()
			err := l.sendBatch(batch)
			q.mu.Lock()
			if err != nil && q.err == nil {
				q.err = err
			}
			q.head = (q.head + k) % len(q.ms)
			q.n -= k
			carried += k
			q.room.Broadcast()
		}
		// A hand-over that carried one packet cost a goroutine wake-up
		// and saved nothing: the caller waits between packets (writes
		// in lockstep with reads). Send inline for a while, longer each
		// time it happens again; a batch resets that.
		if carried == 1 {
			q.backoff = min(2*q.backoff+1, maxBackoff)
			q.skip = q.backoff
		} else if carried > 1 {
			q.backoff = 0
		}
		q.flushing = false
		closing := q.closing
		q.mu.Unlock()
		if closing {
			return
		}
	}
}

// sendBatch sends ms in order. A datagram the socket refuses is counted
// and skipped; the first such error is returned. Once the socket is
// closed or its write deadline (set by Close) has passed, the rest are
// counted as not sent.
func (l *Link) sendBatch(ms []msg) error {
	var first error
	for len(ms) > 0 {
		n, err := l.batch.writeBatch(ms)
		l.sent.Add(uint64(n))
		ms = ms[n:]
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if isFatalWrite(err) {
			l.writeErrors.Add(uint64(len(ms)))
			return first
		}
		l.writeErrors.Add(1)
		ms = ms[1:]
	}
	return first
}

// isFatalWrite reports an error after which no datagram can be sent.
func isFatalWrite(err error) bool {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return true
	}
	return err == net.ErrClosed
}

// closeQueue stops accepting packets, waits (at most closeFlushTimeout)
// for the writer goroutine to send what is queued, and lets it exit.
func (l *Link) closeQueue() {
	q := l.wq
	q.mu.Lock()
	again := q.closing
	q.closing = true
	q.room.Broadcast()
	wait := q.running
	if wait && !again && !q.inline && !q.flushing {
		q.kick()
	}
	q.mu.Unlock()
	if wait {
		l.pc.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		<-q.done
	}
}
