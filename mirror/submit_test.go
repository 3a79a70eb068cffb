package mirror

import (
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

// An MSL frame submitted while more than a batch of inputs waits is
// handled after every frame queued before it: frames apply in order.
func TestSubmitKeepsFrameOrder(t *testing.T) {
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Server{cfg: Config{Stack: st, MaxBatch: 8}, log: slog.New(slog.DiscardHandler),
		in: make(chan input, 64), poke: make(chan struct{}, 1), queued: make(chan struct{}, 1)}
	l := newLoop(s)
	s.loop = l
	c1, c2 := net.Pipe()
	defer c2.Close()
	sess := newSession(1, newFrameConn(c1, testKey), hello{})
	defer sess.close()
	l.role, l.peer, l.epoch, l.sess = RolePrimary, PeerMirrored, 1, sess
	l.st.seq = 10
	ack := func(seq uint64) input {
		return input{frame: &frameIn{sess: sess, t: msgAck, body: position{Epoch: 1, Seq: seq}.appendBinary(nil)}}
	}
	// More inputs than one batch, then the first ack, all queued.
	for range 2 * s.cfg.MaxBatch {
		s.in <- input{dialErr: errors.New("no peer")}
	}
	s.in <- ack(4)
	if !s.submit(ack(5), false) {
		t.Fatal("submit refused")
	}
	for len(s.in) > 0 {
		l.drain() // what the loop goroutine would do next
	}
	if n := s.c.mslRefused.Load(); n != 0 || l.sess != sess || l.acked != 5 {
		t.Fatalf("after acks 4 then 5: %d refused, acked %d, session kept %v", n, l.acked, l.sess == sess)
	}
}
