package mirror

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"net"
	"slices"
	"sync"

	"github.com/ipxkit/ipxkit/ipx"
)

// The mirrored server link (MSL) carries framed messages over any
// reliable stream (an SPX connection, TCP). Each frame, big-endian:
//
//	0  length (4)    bytes after this field
//	4  version (1)   MSLVersion
//	5  type (1)      message type
//	6  reserved (2)  zero
//	8  counter (8)   frames sent before this one in this direction
//	16 body
//	.. mac (32)      HMAC-SHA-256 of bytes 4 to the end of the body
//
// The handshake frames (hello, welcome, refuse) are authenticated with the
// shared key; every later frame with a session key derived from the key
// and both ends' random nonces, so a frame recorded on one connection is
// refused on any other, and the counter refuses replays and reordering
// within one.
const (
	// MSLVersion is the MSL protocol version; a peer with another is
	// refused.
	MSLVersion = 1
	mslHeader  = 16
	macLen     = sha256.Size
	// maxFrame bounds one frame; images go in chunks below it.
	maxFrame  = 1 << 20
	nonceLen  = 16
	imageSize = 64 << 10 // image chunk
)

type msgType uint8

const (
	msgHello     msgType = 1 // dialer's identity
	msgWelcome   msgType = 2 // acceptor's identity, handshake accepted
	msgRefuse    msgType = 3 // handshake refused: reason
	msgEvents    msgType = 4 // a batch of ordered events
	msgAck       msgType = 5 // the secondary holds events up to seq
	msgHeartbeat msgType = 6 // liveness, with the sender's position
	msgImage     msgType = 7 // a chunk of the primary's state image
	msgResume    msgType = 8 // events follow from the secondary's own state
	// msgMirrored marks the point from which the primary waits for acks:
	// the secondary, which has every event before it, may now take over.
	msgMirrored msgType = 9
	// msgHandover hands the primary role to the secondary (a planned
	// switchover): it holds every event up to the position.
	msgHandover msgType = 10
)

var msgNames = [...]string{"", "hello", "welcome", "refuse", "events", "ack", "heartbeat", "image", "resume", "mirrored", "handover"}

func (t msgType) String() string {
	if int(t) < len(msgNames) && t != 0 {
		return msgNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// frameConn reads and writes MSL frames on a stream. Reads happen in one
// goroutine; writes may come from several.
type frameConn struct {
	c net.Conn
	r *bufio.Reader

	rmac   hash.Hash
	rcount uint64
	rbuf   []byte
	// pend[poff:] holds bytes tryRead took from the stream and has not
	// returned as frames yet.
	pend    []byte
	poff    int
	wmu     sync.Mutex
	wmac    hash.Hash
	wcount  uint64
	wbuf    []byte
	lastMAC [macLen]byte
}

func newFrameConn(c net.Conn, key []byte) *frameConn {
	return &frameConn{
		c:    c,
		r:    bufio.NewReaderSize(c, 64<<10),
		rmac: hmac.New(sha256.New, key),
		wmac: hmac.New(sha256.New, key),
	}
}

// rekey switches both directions to the session key.
func (f *frameConn) rekey(session []byte) {
	f.wmu.Lock()
	f.wmac = hmac.New(sha256.New, session)
	f.wmu.Unlock()
	f.rmac = hmac.New(sha256.New, session)
}

// sessionKey derives the key of one MSL connection from the shared key
// and both nonces.
func sessionKey(key, dialer, acceptor []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ipxkit mirror session v1"))
	m.Write(dialer)
	m.Write(acceptor)
	return m.Sum(nil)
}

// seal encodes one frame with the next counter into f.wbuf; wmu held.
func (f *frameConn) seal(t msgType, body []byte) ([]byte, error) {
	if mslHeader+len(body)+macLen-4 > maxFrame {
		return nil, fmt.Errorf("mirror: MSL %v of %d bytes: %w", t, len(body), ErrTooLarge)
	}
	b := f.wbuf[:0]
	b = binary.BigEndian.AppendUint32(b, uint32(mslHeader-4+len(body)+macLen))
	b = append(b, MSLVersion, byte(t), 0, 0)
	b = binary.BigEndian.AppendUint64(b, f.wcount)
	b = append(b, body...)
	f.wmac.Reset()
	f.wmac.Write(b[4:])
	b = f.wmac.Sum(b)
	f.wbuf = b
	return b, nil
}

// write sends one frame.
func (f *frameConn) write(t msgType, body []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	b, err := f.seal(t, body)
	if err != nil {
		return err
	}
	f.wcount++
	_, err = f.c.Write(b)
	return err
}

// tryWriter is a stream that can take a write whole or refuse it without
// waiting, as spx.Conn can.
type tryWriter interface {
	TryWrite(b []byte) (bool, error)
}

// tryWrite sends one frame if the stream takes it now, whole; false if it
// would have to wait, or the stream cannot tell.
func (f *frameConn) tryWrite(t msgType, body []byte) (bool, error) {
	tw, ok := f.c.(tryWriter)
	if !ok || !f.wmu.TryLock() {
		return false, nil
	}
	defer f.wmu.Unlock()
	b, err := f.seal(t, body)
	if err != nil {
		return false, err
	}
	ok, err = tw.TryWrite(b)
	if ok {
		f.wcount++
	}
	return ok, err
}

// read returns the next frame's type and body; the body is valid until
// the next read. A frame that fails to authenticate, or arrives out of
// order, is an error: the stream cannot be trusted past it.
func (f *frameConn) read() (msgType, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < mslHeader-4+macLen || n > maxFrame {
		return 0, nil, fmt.Errorf("mirror: MSL frame length %d: %w", n, ErrMalformed)
	}
	if cap(f.rbuf) < n {
		f.rbuf = make([]byte, n)
	}
	b := f.rbuf[:n]
	if _, err := io.ReadFull(f.r, b); err != nil {
		return 0, nil, fmt.Errorf("mirror: MSL frame: %w", noEOF(err))
	}
	return f.open(b)
}

// tryReader is a stream that reads without waiting, as spx.Conn can.
type tryReader interface {
	TryRead(b []byte) (int, error)
}

// tryRead returns the next frame if the stream holds all of it now,
// without waiting: ok false when it does not yet. The stream must be a
// tryReader. The body is valid until the next tryRead. Reads happen in
// one goroutine at a time, and never mixed with read.
func (f *frameConn) tryRead() (t msgType, body []byte, ok bool, err error) {
	tr := f.c.(tryReader)
	for {
		p := f.pend[f.poff:]
		if len(p) >= 4 {
			n := int(binary.BigEndian.Uint32(p))
			if n < mslHeader-4+macLen || n > maxFrame {
				return 0, nil, false, fmt.Errorf("mirror: MSL frame length %d: %w", n, ErrMalformed)
			}
			if len(p) >= 4+n {
				f.poff += 4 + n
				t, body, err := f.open(p[4 : 4+n])
				return t, body, err == nil, err
			}
		}
		// Move the partial frame to the front and read more behind it.
		// What the handshake's buffered reader holds comes first.
		k := copy(f.pend[:cap(f.pend)], p)
		f.pend, f.poff = f.pend[:k], 0
		want := 64 << 10
		if len(p) >= 4 {
			want = max(want, 4+int(binary.BigEndian.Uint32(p)))
		}
		if cap(f.pend) < want {
			f.pend = append(make([]byte, 0, want), f.pend...)
		}
		spare := f.pend[k:cap(f.pend)]
		var m int
		if b := f.r.Buffered(); b > 0 {
			m, err = f.r.Read(spare[:min(b, len(spare))])
		} else {
			m, err = tr.TryRead(spare)
		}
		f.pend = f.pend[:k+m]
		if err != nil {
			if k+m > 0 {
				err = noEOF(err)
			}
			return 0, nil, false, fmt.Errorf("mirror: MSL frame: %w", err)
		}
		if m == 0 {
			return 0, nil, false, nil
		}
	}
}

// open checks one frame (without its length field) and returns its type
// and body.
func (f *frameConn) open(b []byte) (msgType, []byte, error) {
	msg, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	f.rmac.Reset()
	f.rmac.Write(msg)
	if !hmac.Equal(f.rmac.Sum(f.lastMAC[:0]), mac) {
		return 0, nil, fmt.Errorf("mirror: MSL frame %d: %w", f.rcount, ErrAuth)
	}
	if msg[0] != MSLVersion {
		return 0, nil, fmt.Errorf("mirror: MSL version %d, want %d: %w", msg[0], MSLVersion, ErrRefused)
	}
	t := msgType(msg[1])
	if c := binary.BigEndian.Uint64(msg[4:]); c != f.rcount {
		return 0, nil, fmt.Errorf("mirror: MSL frame counter %d, want %d: %w", c, f.rcount, ErrSequence)
	}
	f.rcount++
	return t, msg[mslHeader-4:], nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// hello is the identity each end sends at the handshake.
type hello struct {
	Network ipx.Network // the engine's internal network
	Node    ipx.Node
	Socket  ipx.Socket
	Epoch   uint32
	Applied uint64 // last event applied
	Role    Role
	Flags   uint8 // flagConsistent
	Nonce   [nonceLen]byte
	Engine  string // the embedder's engine version
}

// flagConsistent: the sender holds a state that is a prefix of Epoch's
// history up to Applied, from which it can resume.
const flagConsistent = 1

const helloFixed = 4 + 6 + 2 + 4 + 8 + 1 + 1 + nonceLen + 1

func (h *hello) appendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(h.Network))
	b = append(b, h.Node[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(h.Socket))
	b = binary.BigEndian.AppendUint32(b, h.Epoch)
	b = binary.BigEndian.AppendUint64(b, h.Applied)
	b = append(b, byte(h.Role), h.Flags)
	b = append(b, h.Nonce[:]...)
	b = append(b, byte(len(h.Engine)))
	return append(b, h.Engine...)
}

func (h *hello) unmarshal(b []byte) error {
	if len(b) < helloFixed {
		return fmt.Errorf("mirror: MSL hello of %d bytes: %w", len(b), ErrMalformed)
	}
	var x hello
	x.Network = ipx.Network(binary.BigEndian.Uint32(b))
	copy(x.Node[:], b[4:10])
	x.Socket = ipx.Socket(binary.BigEndian.Uint16(b[10:]))
	x.Epoch = binary.BigEndian.Uint32(b[12:])
	x.Applied = binary.BigEndian.Uint64(b[16:])
	x.Role = Role(b[24])
	x.Flags = b[25]
	copy(x.Nonce[:], b[26:26+nonceLen])
	n := int(b[helloFixed-1])
	if len(b) != helloFixed+n {
		return fmt.Errorf("mirror: MSL hello engine version: %w", ErrMalformed)
	}
	x.Engine = string(b[helloFixed:])
	*h = x
	return nil
}

func newNonce() ([nonceLen]byte, error) {
	var n [nonceLen]byte
	_, err := rand.Read(n[:])
	return n, err
}

// wireEvent is an event as the MSL carries it: with the client's address,
// which both servers keep so that either can notify clients.
type wireEvent struct {
	Seq, Client, ID uint64
	From            ipx.Addr
	Data            []byte
}

const eventFixed = 8 + 8 + 8 + 12 + 2

func appendAddr(b []byte, a ipx.Addr) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(a.Net))
	b = append(b, a.Node[:]...)
	return binary.BigEndian.AppendUint16(b, uint16(a.Socket))
}

func readAddr(b []byte) ipx.Addr {
	var a ipx.Addr
	a.Net = ipx.Network(binary.BigEndian.Uint32(b))
	copy(a.Node[:], b[4:10])
	a.Socket = ipx.Socket(binary.BigEndian.Uint16(b[10:]))
	return a
}

// appendEvents encodes a batch: epoch (4), count (2), then the events.
func appendEvents(b []byte, epoch uint32, evs []wireEvent) []byte {
	n := 6
	for i := range evs {
		n += eventFixed + len(evs[i].Data)
	}
	b = slices.Grow(b, n)
	b = binary.BigEndian.AppendUint32(b, epoch)
	b = binary.BigEndian.AppendUint16(b, uint16(len(evs)))
	for i := range evs {
		b = appendEvent(b, &evs[i])
	}
	return b
}

// appendEvent encodes one event, eventFixed bytes and its data.
func appendEvent(b []byte, e *wireEvent) []byte {
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, e.Client)
	b = binary.BigEndian.AppendUint64(b, e.ID)
	b = appendAddr(b, e.From)
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.Data)))
	return append(b, e.Data...)
}

// parseEvent decodes the event b starts with; its Data aliases b.
func parseEvent(b []byte) (wireEvent, []byte, error) {
	if len(b) < eventFixed {
		return wireEvent{}, nil, fmt.Errorf("mirror: MSL event cut short: %w", ErrMalformed)
	}
	e := wireEvent{
		Seq:    binary.BigEndian.Uint64(b),
		Client: binary.BigEndian.Uint64(b[8:]),
		ID:     binary.BigEndian.Uint64(b[16:]),
		From:   readAddr(b[24:]),
	}
	dl := int(binary.BigEndian.Uint16(b[36:]))
	b = b[eventFixed:]
	if dl > MaxData || len(b) < dl {
		return wireEvent{}, nil, fmt.Errorf("mirror: MSL event data of %d bytes: %w", dl, ErrMalformed)
	}
	e.Data = b[:dl:dl]
	return e, b[dl:], nil
}

// parseEvents decodes a batch into dst; the events' Data alias b.
func parseEvents(b []byte, dst []wireEvent) (uint32, []wireEvent, error) {
	if len(b) < 6 {
		return 0, dst, fmt.Errorf("mirror: MSL events of %d bytes: %w", len(b), ErrMalformed)
	}
	epoch := binary.BigEndian.Uint32(b)
	n := int(binary.BigEndian.Uint16(b[4:]))
	b = b[6:]
	for range n {
		e, rest, err := parseEvent(b)
		if err != nil {
			return 0, dst, err
		}
		b = rest
		dst = append(dst, e)
	}
	if len(b) != 0 {
		return 0, dst, fmt.Errorf("mirror: %d bytes after MSL events: %w", len(b), ErrMalformed)
	}
	return epoch, dst, nil
}

// position is the body of an ack or a heartbeat: an epoch and a sequence
// number.
type position struct {
	Epoch uint32
	Seq   uint64
}

func (p position) appendBinary(b []byte) []byte {
	b = slices.Grow(b, 12)
	b = binary.BigEndian.AppendUint32(b, p.Epoch)
	return binary.BigEndian.AppendUint64(b, p.Seq)
}

// positionLen is a position's size on the wire.
const positionLen = 12

// heartbeatUnhealthy, a byte after a heartbeat's position, says the
// sender's Config.Health check fails: a primary hands over only to a
// healthy secondary.
const heartbeatUnhealthy = 1

func (p *position) unmarshal(b []byte) error {
	if len(b) != positionLen {
		return fmt.Errorf("mirror: MSL position of %d bytes: %w", len(b), ErrMalformed)
	}
	p.Epoch = binary.BigEndian.Uint32(b)
	p.Seq = binary.BigEndian.Uint64(b[4:])
	return nil
}
