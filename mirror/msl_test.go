package mirror

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func testHello(role Role) hello {
	n, _ := newNonce()
	return hello{Network: 0xC0FFEE, Node: ipx.Node{0, 0, 0, 0, 0, 1}, Socket: DefaultSocket,
		Epoch: 3, Applied: 7, Role: role, Nonce: n, Engine: "kv1"}
}

// runHandshake runs both ends of a handshake over a pipe.
func runHandshake(t *testing.T, dkey, akey []byte, d, a hello) (dfc, afc *frameConn, derr, aerr error) {
	t.Helper()
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	check := func(me hello) func(*hello) error {
		s := &Server{cfg: Config{Network: me.Network, Node: me.Node, Socket: me.Socket, EngineVersion: me.Engine}}
		return s.checkPeer
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		afc, _, aerr = handshake(c2, akey, false, a, time.Second, check(a))
		if aerr != nil {
			c2.Close()
		}
	}()
	dfc, _, derr = handshake(c1, dkey, true, d, time.Second, check(d))
	if derr != nil {
		c1.Close()
	}
	<-done
	return
}

func TestHandshake(t *testing.T) {
	other := testHello(RolePrimary)
	other.Network = 0xBAD
	eng := testHello(RolePrimary)
	eng.Engine = "kv2"
	tests := []struct {
		name       string
		dkey       []byte
		acceptor   hello
		want       error
		wantAccept error
	}{
		{"ok", testKey, testHello(RolePrimary), nil, nil},
		{"other key", []byte("another key, quite different...."), testHello(RolePrimary), ErrAuth, ErrAuth},
		{"other network", testKey, other, ErrRefused, ErrRefused},
		{"other engine", testKey, eng, ErrRefused, ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dfc, afc, derr, aerr := runHandshake(t, tt.dkey, testKey, testHello(RoleSecondary), tt.acceptor)
			if !errors.Is(derr, tt.want) || !errors.Is(aerr, tt.wantAccept) {
				t.Fatalf("dialer: %v (want %v); acceptor: %v (want %v)", derr, tt.want, aerr, tt.wantAccept)
			}
			if tt.want != nil {
				return
			}
			// The session carries authenticated frames both ways.
			go dfc.write(msgHeartbeat, position{Epoch: 3, Seq: 9}.appendBinary(nil))
			typ, body, err := afc.read()
			if err != nil || typ != msgHeartbeat {
				t.Fatalf("read %v %v", typ, err)
			}
			var p position
			if err := p.unmarshal(body); err != nil || p.Seq != 9 {
				t.Fatalf("position %+v %v", p, err)
			}
		})
	}
}

func TestHandshakeOtherVersion(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	errc := make(chan error, 1)
	go func() {
		_, _, err := handshake(c2, testKey, false, testHello(RolePrimary), time.Second, func(*hello) error { return nil })
		c2.Close()
		errc <- err
	}()
	fc := newFrameConn(c1, testKey)
	h := testHello(RoleSecondary)
	// A hello from version 2 of the protocol.
	b := []byte{0, 0, 0, 0, 2, byte(msgHello), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = h.appendBinary(b)
	fc.wmac.Write(b[4:])
	b = fc.wmac.Sum(b)
	b[0], b[1], b[2], b[3] = 0, 0, byte((len(b)-4)>>8), byte(len(b)-4)
	go func() { c1.Write(b); io.Copy(io.Discard, c1) }()
	if err := <-errc; !errors.Is(err, ErrRefused) {
		t.Fatalf("acceptor: %v, want ErrRefused", err)
	}
}

// Frames that were tampered with, replayed or reordered are refused.
func TestFrameIntegrity(t *testing.T) {
	var buf bytes.Buffer
	w := newFrameConn(fakeConn{&buf}, testKey)
	for i := range 3 {
		if err := w.write(msgHeartbeat, position{Seq: uint64(i)}.appendBinary(nil)); err != nil {
			t.Fatal(err)
		}
	}
	wire := buf.Bytes()
	flen := len(wire) / 3
	frames := [][]byte{wire[4:flen], wire[flen+4 : 2*flen], wire[2*flen+4:]}

	r := newFrameConn(nil, testKey)
	if _, _, err := r.open(frames[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.open(frames[0]); !errors.Is(err, ErrSequence) {
		t.Fatalf("replay: %v, want ErrSequence", err)
	}
	if _, _, err := r.open(frames[2]); !errors.Is(err, ErrSequence) {
		t.Fatalf("skip: %v, want ErrSequence", err)
	}
	bad := append([]byte(nil), frames[1]...)
	bad[len(bad)-40] ^= 1
	if _, _, err := r.open(bad); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered: %v, want ErrAuth", err)
	}
	if _, _, err := r.open(frames[1]); err != nil {
		t.Fatal(err)
	}
	other := newFrameConn(nil, []byte("another key, quite different...."))
	if _, _, err := other.open(frames[0]); !errors.Is(err, ErrAuth) {
		t.Fatalf("other key: %v, want ErrAuth", err)
	}
}

type fakeConn struct{ *bytes.Buffer }

func (fakeConn) Close() error                     { return nil }
func (fakeConn) LocalAddr() net.Addr              { return nil }
func (fakeConn) RemoteAddr() net.Addr             { return nil }
func (fakeConn) SetDeadline(time.Time) error      { return nil }
func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (f fakeConn) Read(b []byte) (int, error)     { return f.Buffer.Read(b) }
func (f fakeConn) Write(b []byte) (int, error)    { return f.Buffer.Write(b) }

// trickleConn is a stream that reads without waiting (as spx.Conn's
// TryRead), handing out at most step bytes of what was written at a time.
type trickleConn struct {
	fakeConn
	step int
	eof  bool
}

func (c *trickleConn) TryRead(b []byte) (int, error) {
	if c.Len() == 0 {
		if c.eof {
			return 0, io.EOF
		}
		return 0, nil
	}
	return c.Buffer.Read(b[:min(len(b), c.step)])
}

// tryRead returns whole frames as they complete, whatever the chunks the
// stream hands out, starting with those the handshake's buffered reader
// already took; a stream ending inside a frame is an error.
func TestFrameTryRead(t *testing.T) {
	for _, step := range []int{1, 7, 64, 1 << 16} {
		var wire bytes.Buffer
		w := newFrameConn(fakeConn{&wire}, testKey)
		const frames = 5
		for i := range frames {
			if err := w.write(msgHeartbeat, position{Seq: uint64(i)}.appendBinary(nil)); err != nil {
				t.Fatal(err)
			}
		}
		w.write(msgAck, position{Seq: 99}.appendBinary(nil))
		all := wire.Bytes()
		whole := all[:len(all)-5] // the last frame cut short
		flen := len(all) / (frames + 1)
		// The reader's bufio holds the first frame and a half, as after a
		// handshake; the rest trickles in.
		c := &trickleConn{fakeConn: fakeConn{bytes.NewBuffer(append([]byte(nil), whole[:flen+flen/2]...))}, step: step}
		r := newFrameConn(c, testKey)
		if _, err := r.r.Peek(flen + flen/2); err != nil {
			t.Fatal(err)
		}
		c.Write(whole[flen+flen/2:])
		var got []uint64
		for range 100 {
			typ, body, ok, err := r.tryRead()
			if err != nil {
				t.Fatalf("step %d: frame %d: %v", step, len(got), err)
			}
			if !ok {
				if c.Len() == 0 {
					break
				}
				continue
			}
			var p position
			if typ != msgHeartbeat || p.unmarshal(body) != nil {
				t.Fatalf("step %d: frame %d: %v %x", step, len(got), typ, body)
			}
			got = append(got, p.Seq)
		}
		if len(got) != frames || got[frames-1] != frames-1 {
			t.Fatalf("step %d: read %v, want %d frames in order", step, got, frames)
		}
		c.eof = true
		if _, _, ok, err := r.tryRead(); ok || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("step %d: end inside a frame: ok %v, err %v; want io.ErrUnexpectedEOF", step, ok, err)
		}
	}
}

// BenchmarkFrameAuth measures what authenticating one mirrored request's
// MSL messages costs: sealing and opening, an HMAC-SHA-256 each, the
// event frame of one put (BenchmarkLatencyRatio's) and the ack frame.
// One op is a seal and an open.
func BenchmarkFrameAuth(b *testing.B) {
	ev := wireEvent{Seq: 1, Client: 1, ID: 1, From: ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 9}, Socket: 0x4000},
		Data: []byte("\x02\x03key\x05value")} // mirrortest.Put("key", "value")
	for _, m := range []struct {
		name string
		t    msgType
		body []byte
	}{
		{"event", msgEvents, appendEvents(nil, 1, []wireEvent{ev})},
		{"ack", msgAck, position{Epoch: 1, Seq: 1}.appendBinary(nil)},
	} {
		b.Run(m.name, func(b *testing.B) {
			w, r := newFrameConn(nil, testKey), newFrameConn(nil, testKey)
			b.ReportAllocs()
			for range b.N {
				f, err := w.seal(m.t, m.body)
				if err != nil {
					b.Fatal(err)
				}
				w.wcount++
				if _, _, err := r.open(f[4:]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(m.body)+mslHeader-4), "mac-bytes")
		})
	}
}
