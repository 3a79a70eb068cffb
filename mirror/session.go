package mirror

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// session is one MSL connection after its handshake. The loop owns it.
// Frames are handled in the goroutine they arrive in when the stream
// says (readNow), else by a reader goroutine; a writer goroutine sends
// what the loop queues and the stream did not take at once, so the loop
// never blocks on the network.
type session struct {
	id   uint64
	fc   *frameConn
	peer hello

	out       chan outFrame
	queued    atomic.Int64 // frames in out or taken from it and not yet written
	closeOnce sync.Once
	done      chan struct{}

	// rmu makes one goroutine at a time read frames: the session's reader
	// or, on a stream that notifies (spx.Conn), the goroutine the data
	// arrived in. kick wakes the reader when that one could not take it.
	rmu  sync.Mutex
	kick chan struct{}
	fin  frameIn // the frame readNow hands the loop; rmu held
}

// outFrame is a frame to send, or an image to send in chunks.
type outFrame struct {
	t     msgType
	body  []byte
	image []byte // msgImage: the whole image, chunked by the writer
	// view, if set, writes the rest of the image after image: the
	// writer takes it, off the loop (see Viewer).
	view  Snapshotter
	epoch uint32
	seq   uint64
}

// sessionQueue bounds the frames waiting to be written. A secondary that
// cannot take them this fast has failed as surely as a silent one.
const sessionQueue = 4096

func newSession(id uint64, fc *frameConn, peer hello) *session {
	return &session{id: id, fc: fc, peer: peer, out: make(chan outFrame, sessionQueue), done: make(chan struct{}),
		kick: make(chan struct{}, 1)}
}

// send queues a frame for the writer goroutine; false if the queue is
// full or the session closed. It keeps no reference to f.body (it
// copies what it queues), so the caller may reuse it. It never blocks: the loop calls it holding
// the server's lock, and a write can wait as long as the peer's window
// stays shut, which may be until this very goroutine reads.
//
// When nothing waits for the writer and the stream can take a frame whole
// without waiting (an spx.Conn's TryWrite), the frame goes out at once:
// a goroutine hand-off less on each server, a good part of what
// mirroring adds to a request's latency.
func (s *session) send(f outFrame) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if f.t != msgImage && s.queued.Load() == 0 {
		ok, err := s.fc.tryWrite(f.t, f.body)
		if err != nil {
			s.close()
			return false
		}
		if ok {
			return true
		}
	}
	if f.t != msgImage {
		f.body = append([]byte(nil), f.body...)
	}
	s.queued.Add(1)
	select {
	case s.out <- f:
		return true
	default:
		s.queued.Add(-1)
		return false
	}
}

func (s *session) close() {
	first := false
	s.closeOnce.Do(func() {
		close(s.done)
		first = true
	})
	// Aborted outside the Once: an spx.Conn's Abort runs the reader's
	// notification, whose frames may fail the MSL and close the session
	// again, here, before the Once would have returned.
	if first {
		abort(s.fc.c)
	}
}

// abort closes an MSL connection without waiting for the peer: the MSL
// is given up because the peer stopped answering, so a Close that waits
// for acknowledgements (an SPX connection's) would hold the loop. A
// connection with an Abort method (spx.Conn) is aborted; any other is
// closed.
func abort(c net.Conn) {
	if a, ok := c.(interface{ Abort() error }); ok {
		a.Abort()
		return
	}
	c.Close()
}

// writeLoop sends queued frames until the session closes or a write
// fails; a failure closes the session, which its reader then reports.
func (s *session) writeLoop() {
	var next *outFrame // taken from the queue while coalescing, not yet sent
	for {
		var f outFrame
		taken := int64(1) // frames this write consumes
		if next != nil {
			f, next = *next, nil
		} else {
			select {
			case <-s.done:
				return
			case f = <-s.out:
			}
		}
		// What queued up while the last write was under way goes out
		// together: event batches merge into one message, and of several
		// acks only the newest matters.
		var merged int64
		switch f.t {
		case msgEvents:
			f.body, next, merged = s.coalesceEvents(f.body)
		case msgAck:
			f.body, next, merged = s.latestAck(f.body)
		}
		taken += merged
		var err error
		if f.t == msgImage {
			err = s.writeImage(f)
		} else {
			err = s.fc.write(f.t, f.body)
		}
		s.queued.Add(-taken)
		if err != nil {
			s.close()
			return
		}
	}
}

// coalesceEvents appends to the events message body those queued right
// behind it with the same epoch, within the frame bound; the first other
// frame it takes off the queue is returned to be sent next.
func (s *session) coalesceEvents(body []byte) ([]byte, *outFrame, int64) {
	merged := int64(0)
	for {
		var g outFrame
		select {
		case g = <-s.out:
		default:
			return body, nil, merged
		}
		count := int(binary.BigEndian.Uint16(body[4:])) + int(binary.BigEndian.Uint16(g.body[4:]))
		if g.t != msgEvents || !bytes.Equal(g.body[:4], body[:4]) || count > 0xFFFF ||
			len(body)+len(g.body)-6 > maxFrame/2 {
			return body, &g, merged
		}
		merged++
		body = append(body, g.body[6:]...) // bodies are the writer's own: appendEvents built them
		binary.BigEndian.PutUint16(body[4:], uint16(count))
	}
}

// latestAck skips acks queued behind one: the newest says it all.
func (s *session) latestAck(body []byte) ([]byte, *outFrame, int64) {
	merged := int64(0)
	for {
		select {
		case g := <-s.out:
			if g.t != msgAck {
				return body, &g, merged
			}
			body = g.body
			merged++
		default:
			return body, nil, merged
		}
	}
}

// writeImage sends an image in chunks: epoch (4), seq (8), last (1),
// then the chunk's bytes.
func (s *session) writeImage(f outFrame) error {
	img := f.image
	if f.view != nil {
		b := bytes.NewBuffer(img)
		if err := f.view.Snapshot(b); err != nil {
			return fmt.Errorf("mirror: engine snapshot: %w", err)
		}
		img = b.Bytes()
	}
	body := make([]byte, 0, 13+imageSize)
	for {
		n := min(len(img), imageSize)
		last := byte(0)
		if n == len(img) {
			last = 1
		}
		body = position{Epoch: f.epoch, Seq: f.seq}.appendBinary(body[:0])
		body = append(body, last)
		body = append(body, img[:n]...)
		if err := s.fc.write(msgImage, body); err != nil {
			return err
		}
		img = img[n:]
		if last == 1 {
			return nil
		}
	}
}

// handshake runs the MSL handshake on c as the dialer (dial true) or the
// acceptor, within timeout. me is this server's identity; check refuses
// a peer (its error text is sent to the peer). On success the frameConn
// uses the session key.
func handshake(c net.Conn, key []byte, dial bool, me hello, timeout time.Duration, check func(peer *hello) error) (*frameConn, hello, error) {
	var peer hello
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, peer, err
	}
	fc := newFrameConn(c, key)
	refuse := func(err error) error {
		// The refusal must reach the peer before the connection is
		// aborted: wait for it where the stream can say (spx.Conn).
		if fc.write(msgRefuse, []byte(err.Error())) == nil {
			if f, ok := c.(interface{ Flush(context.Context) error }); ok {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				f.Flush(ctx)
				cancel()
			}
		}
		return err
	}
	if dial {
		if err := fc.write(msgHello, me.appendBinary(nil)); err != nil {
			return nil, peer, err
		}
	}
	t, body, err := fc.read()
	switch {
	case errors.Is(err, ErrAuth):
		if dial {
			// The acceptor's refusal is signed with its key, which is
			// not ours: that is how a key mismatch looks from here.
			return nil, peer, fmt.Errorf("mirror: MSL handshake: the peer's MAC does not verify (the keys differ, or it refused us): %w", ErrAuth)
		}
		return nil, peer, refuse(fmt.Errorf("mirror: MSL handshake: hello's MAC does not verify (the keys differ): %w", ErrAuth))
	case errors.Is(err, ErrRefused):
		return nil, peer, refuse(err)
	case err != nil:
		return nil, peer, fmt.Errorf("mirror: MSL handshake: %w", err)
	}
	want := msgHello
	if dial {
		want = msgWelcome
	}
	switch {
	case dial && t == msgRefuse:
		return nil, peer, fmt.Errorf("mirror: MSL peer says: %s: %w", bytes.ToValidUTF8(body, nil), ErrRefused)
	case t != want:
		return nil, peer, refuse(fmt.Errorf("mirror: MSL handshake: got %v, want %v: %w", t, want, ErrMalformed))
	}
	if err := peer.unmarshal(body); err != nil {
		return nil, peer, refuse(err)
	}
	if err := check(&peer); err != nil {
		return nil, peer, refuse(err)
	}
	if !dial {
		if err := fc.write(msgWelcome, me.appendBinary(nil)); err != nil {
			return nil, peer, err
		}
	}
	if dial {
		fc.rekey(sessionKey(key, me.Nonce[:], peer.Nonce[:]))
	} else {
		fc.rekey(sessionKey(key, peer.Nonce[:], me.Nonce[:]))
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, peer, err
	}
	return fc, peer, nil
}

// readNotifier is a stream that calls a function when data arrives, in
// the goroutine it arrived in, and reads without waiting (spx.Conn).
type readNotifier interface {
	tryReader
	SetReadNotify(f func())
}

// readFrames hands the session's frames to the loop until the stream
// fails. On a stream that notifies, the goroutine the data arrives in
// handles the frames itself when nobody else holds the loop (readNow):
// on each server that saves a goroutine wake-up per MSL message, most
// of what the MSL adds to a request's latency. This goroutine then only
// takes over what that one could not.
func (s *Server) readFrames(sess *session) {
	rn, ok := sess.fc.c.(readNotifier)
	if !ok {
		for {
			t, body, err := sess.fc.read()
			f := &frameIn{sess: sess, t: t, err: err}
			if err == nil {
				f.body = append([]byte(nil), body...)
			}
			if !s.submit(input{frame: f}, true) || err != nil {
				return
			}
		}
	}
	rn.SetReadNotify(func() { s.readNow(sess) })
	defer rn.SetReadNotify(nil)
	for {
		sess.rmu.Lock()
		end := false
		for !end {
			t, body, ok, err := sess.fc.tryRead()
			if !ok && err == nil {
				break
			}
			f := &frameIn{sess: sess, t: t, err: err}
			if err == nil {
				f.body = append([]byte(nil), body...)
			}
			end = !s.submit(input{frame: f}, true) || err != nil
		}
		sess.rmu.Unlock()
		if end {
			return
		}
		select {
		case <-sess.kick:
		case <-sess.done:
			// Closed here (a write failed) or by the loop: one more
			// read reports the end, which the loop ignores if it knows.
			select {
			case sess.kick <- struct{}{}:
			default:
			}
		}
	}
}

// readNow handles the frames that arrived on sess, in the goroutine they
// arrived in, if it can without waiting: if nobody else reads the session
// and nobody holds the loop. Otherwise it wakes the session's reader.
func (s *Server) readNow(sess *session) {
	if !sess.rmu.TryLock() {
		sess.wake()
		return
	}
	if !s.mu.TryLock() {
		sess.rmu.Unlock()
		sess.wake()
		return
	}
	l := s.loop
	if !l.stopped {
		// Frames this session's reader queued come first.
		for len(s.in) > 0 {
			l.drain()
		}
		for {
			t, body, ok, err := sess.fc.tryRead()
			if !ok && err == nil {
				break
			}
			// The body is the loop's only until the next tryRead: it
			// handles the frame before that.
			sess.fin = frameIn{sess: sess, t: t, body: body, err: err}
			l.handle(input{frame: &sess.fin})
			sess.fin = frameIn{}
			if err != nil {
				break
			}
		}
		l.drain()
		l.settle()
	}
	box := s.takeReplies()
	s.mu.Unlock()
	sess.rmu.Unlock()
	s.sendReplies(box)
}

// wake tells the session's reader that data waits.
func (sess *session) wake() {
	select {
	case sess.kick <- struct{}{}:
	default:
	}
}
