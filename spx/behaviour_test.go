package spx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

func TestNegotiation(t *testing.T) {
	tests := []struct {
		name         string
		client, srv  Config
		spx2         bool
		wantMaxData  int
		wantCloseErr error
	}{
		{"both SPX II", Config{}, Config{}, true, 1500 - ipx.HeaderLen - HeaderLen2, nil},
		{"plain listener", Config{}, Config{PlainSPX: true}, false, 534, ErrNotSPX2},
		{"plain dialler", Config{PlainSPX: true}, Config{}, false, 534, ErrNotSPX2},
		{"SPX II capped by MaxPacket", Config{MaxPacket: 1000}, Config{}, true, 1000 - ipx.HeaderLen - HeaderLen2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newTestNet(t, memlan.Config{Seed: 1})
				c, s, _ := n.connect(t, tt.client, tt.srv)
				// One exchange each way lets both ends learn the other's size.
				c.Write([]byte("x"))
				s.Read(make([]byte, 1))
				s.Write([]byte("y"))
				c.Read(make([]byte, 1))
				synctest.Wait()
				for _, x := range []*Conn{c, s} {
					if x.SPX2() != tt.spx2 {
						t.Errorf("SPX2() = %v, want %v", x.SPX2(), tt.spx2)
					}
					if got := x.MaxData(); got != tt.wantMaxData {
						t.Errorf("MaxData() = %d, want %d", got, tt.wantMaxData)
					}
				}
				// A transfer uses packets of that size.
				data := bytes.Repeat([]byte{0xA5}, 100*tt.wantMaxData)
				go c.Write(data)
				got := make([]byte, len(data))
				if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("transfer: %v", err)
				}
				if st := s.Stats(); st.PacketsReceived > 110 {
					t.Errorf("%d packets received for 100 full ones", st.PacketsReceived)
				}
				if err := c.CloseWrite(); !errors.Is(err, tt.wantCloseErr) {
					t.Errorf("CloseWrite: %v, want %v", err, tt.wantCloseErr)
				}
			})
		})
	}
}

func TestMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		c, s, _ := n.connect(t, Config{}, Config{})
		msgs := [][]byte{[]byte("short"), bytes.Repeat([]byte("L"), 4000), {}, []byte("after")}
		go func() {
			for _, m := range msgs {
				if _, err := c.WriteMessage(m); err != nil {
					t.Error(err)
				}
			}
			c.WriteAttention([]byte{'!'})
			c.Write([]byte("stream"))
			c.Close()
		}()
		buf := make([]byte, 1000)
		for i, m := range msgs {
			var got []byte
			for {
				k, info, err := s.ReadMessage(buf)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if info.Attention {
					t.Fatalf("message %d flagged attention", i)
				}
				got = append(got, buf[:k]...)
				if info.EOM {
					break
				}
			}
			if !bytes.Equal(got, m) {
				t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(m))
			}
		}
		k, info, err := s.ReadMessage(buf)
		if err != nil || !info.Attention || !info.EOM || string(buf[:k]) != "!" {
			t.Fatalf("attention: %q %+v %v", buf[:k], info, err)
		}
		rest, err := io.ReadAll(s)
		if err != nil || string(rest) != "stream" {
			t.Fatalf("stream after messages: %q %v", rest, err)
		}
	})
}

func TestTermination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		c, s, _ := n.connect(t, Config{}, Config{})
		c.Write([]byte("last words"))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "last words" {
			t.Fatalf("ReadAll: %q %v", got, err)
		}
		if _, err := s.Write([]byte("too late")); !errors.Is(err, ErrTerminated) {
			t.Errorf("Write after peer ended: %v, want ErrTerminated", err)
		}
		s.Close()
		synctest.Wait()
	})
}

func TestOrderlyRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		c, s, _ := n.connect(t, Config{}, Config{})
		c.Write([]byte("request"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, ErrWriteClosed) {
			t.Errorf("Write after CloseWrite: %v", err)
		}
		req, err := io.ReadAll(s)
		if err != nil || string(req) != "request" {
			t.Fatalf("server read %q %v", req, err)
		}
		// The other direction still works.
		if _, err := s.Write([]byte("response")); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		// The server closes at once, before its release is acknowledged,
		// so an end of connection follows the release: both ends must
		// still finish cleanly, without retransmitting.
		s.Close()
		resp, err := io.ReadAll(c)
		if err != nil || string(resp) != "response" {
			t.Fatalf("client read %q %v", resp, err)
		}
		c.Close()
		time.Sleep(time.Minute)
		for _, x := range []*Conn{c, s} {
			x.mu.Lock()
			state, err, removed := x.ep.state, x.ep.err, x.removed
			x.mu.Unlock()
			if state != stDone || err != nil || !removed {
				t.Errorf("end state %v, err %v, removed %v", state, err, removed)
			}
			if st := x.Stats(); st.Retransmits != 0 || st.OutOfWindow != 0 {
				t.Errorf("stats %+v", st)
			}
		}
	})
}

func TestDialNoListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		_, err := DialConfig(context.Background(), n.a, ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}, Config{RetryLimit: 3})
		if !errors.Is(err, ErrConnRefused) {
			t.Fatalf("err %v, want ErrConnRefused", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = Dial(ctx, n.a, ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestPeerSilent(t *testing.T) {
	tests := []struct {
		name  string
		write bool
		want  error
	}{
		{"idle", false, ErrPeerSilent},
		{"sending", true, ErrRetryLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newTestNet(t, memlan.Config{Seed: 1})
				cfg := Config{RetryLimit: 4}
				c, s, _ := n.connect(t, cfg, cfg)
				// A minute of idleness is fine: keep-alives flow.
				time.Sleep(time.Minute)
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(s, make([]byte, 4)); err != nil {
					t.Fatal(err)
				}
				if c.Stats().KeepAlives == 0 {
					t.Error("no keep-alives in a minute of silence")
				}
				n.seg.Partition([]ipx.Node{n.nodeA}, []ipx.Node{n.nodeB})
				start := time.Now()
				if tt.write {
					c.Write([]byte("into the void"))
				}
				_, err := c.Read(make([]byte, 10))
				if !errors.Is(err, tt.want) {
					t.Fatalf("read error %v, want %v", err, tt.want)
				}
				if el := time.Since(start); el > DefaultAbortTimeout+time.Second {
					t.Errorf("failure took %v", el)
				}
				if !tt.write {
					if _, err := s.Read(make([]byte, 10)); !errors.Is(err, ErrPeerSilent) {
						t.Errorf("acceptor read error %v, want ErrPeerSilent", err)
					}
				}
			})
		})
	}
}

func TestReceiveWindowBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		cfg := Config{Window: 4}
		c, s, _ := n.connect(t, cfg, cfg)
		// Nobody reads s: the writer stops after filling the receiver's
		// window and its own send buffer.
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		data := bytes.Repeat([]byte{7}, 100*c.MaxData())
		k, err := c.Write(data)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write: %v", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("error %v is not a net.Error timeout", err)
		}
		if max := 8 * c.MaxData(); k > max {
			t.Errorf("wrote %d bytes with nobody reading, want at most %d", k, max)
		}
		s.mu.Lock()
		held := s.ep.readyq.len()
		s.mu.Unlock()
		if held > 4 {
			t.Errorf("receiver holds %d packets, window 4", held)
		}
		// Reading reopens the window and the rest follows.
		c.SetWriteDeadline(time.Time{})
		go func() {
			c.Write(data[k:])
			c.Close()
		}()
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, %v", len(got), err)
		}
	})
}

// rawPeer is a third node that speaks raw IPX to the listener.
func rawPeer(t *testing.T, n *testNet) *ipx.Conn {
	t.Helper()
	st, _ := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(0xc), ipxtest.On{Seg: n.seg, Net: 1})
	pc, err := st.Listen(0x4444)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func TestBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		ln, err := ListenConfig(n.b, 0x5000, Config{Backlog: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		pc := rawPeer(t, n)
		lnAddr := ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}
		send := func(h Header, data []byte, typ ipx.PacketType) {
			b, _ := h.AppendBinary(nil)
			pc.WriteMsg(append(b, data...), lnAddr, ipx.WriteOptions{Type: typ})
		}
		// A flood of connection requests: only the backlog is kept.
		for id := uint16(1); id <= 20; id++ {
			send(Header{Control: ControlSystem | ControlSendAck, SrcID: id, DstID: IDUnknown}, nil, ipx.TypeSPX)
		}
		// A repeated request is answered again, not accepted twice.
		send(Header{Control: ControlSystem | ControlSendAck, SrcID: 1, DstID: IDUnknown}, nil, ipx.TypeSPX)
		// Junk: short, wrong type, unknown connection, request without
		// the system bit.
		pc.WriteMsg([]byte{0x80, 0, 1}, lnAddr, ipx.WriteOptions{Type: ipx.TypeSPX})
		send(Header{Control: ControlSystem, SrcID: 1, DstID: IDUnknown}, nil, ipx.TypePEP)
		send(Header{SrcID: 9, DstID: 0x7777, Seq: 0}, []byte("data"), ipx.TypeSPX)
		send(Header{SrcID: 9, DstID: IDUnknown}, []byte("data"), ipx.TypeSPX)
		synctest.Wait()
		st := ln.Stats()
		want := ListenerStats{Requests: 21, BacklogDrops: 17, Malformed: 1, NotSPX: 1, UnknownConn: 2}
		if st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
		replies := 0
		buf := make([]byte, 100)
		for {
			pc.SetReadDeadline(time.Now().Add(time.Millisecond))
			k, _, err := pc.ReadMsg(buf)
			if err != nil {
				break
			}
			var h Header
			if h.UnmarshalBinary(buf[:k]) == nil && h.Control&ControlSystem != 0 && h.DstID == 1 {
				replies++
			}
		}
		if replies != 2 {
			t.Errorf("%d replies to connection 1's two requests, want 2", replies)
		}
		// The three accepted connections come out of Accept; the raw
		// peer never answers, so they die of silence later.
		for range 3 {
			c, err := ln.AcceptSPX()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	})
}

func TestEndpointIgnoresBogusAck(t *testing.T) {
	p := newPipe(t, Config{})
	p.a.write([]byte("hello"), false, false, fixed(p.now))
	p.collect()
	before := p.a.sndUna
	h := Header{Control: ControlSystem, SrcID: p.b.localID, DstID: p.a.localID, Ack: 500, Alloc: 600}
	p.a.input(&h, nil, fixed(p.now))
	if p.a.sndUna != before || p.a.stats.BogusAcks != 1 || p.a.sendq.len() != 1 {
		t.Fatalf("bogus ack applied: sndUna %d, bogus %d, queued %d", p.a.sndUna, p.a.stats.BogusAcks, p.a.sendq.len())
	}
	p.run()
	if p.gotB.String() != "hello" {
		t.Fatalf("b got %q", p.gotB.String())
	}
}

func TestEndpointReorderAndDuplicates(t *testing.T) {
	p := newPipe(t, Config{Window: 16})
	for i := range 10 {
		p.a.write([]byte{byte('0' + i)}, true, false, fixed(p.now))
	}
	p.collect()
	// Deliver b's packets in reverse order, each twice.
	pk := p.toB
	p.toB = nil
	for i := len(pk) - 1; i >= 0; i-- {
		p.b.input(&pk[i].h, pk[i].data, fixed(p.now))
		p.b.input(&pk[i].h, pk[i].data, fixed(p.now))
	}
	p.drain()
	p.collect()
	p.run()
	if got := p.gotB.String(); got != "0123456789" {
		t.Fatalf("b got %q", got)
	}
	// b's nine gap acks are evidence of reordering, not of loss: packet
	// 0 arrives within the reordering window, so a resends nothing.
	st := p.b.statsSnapshot()
	if st.OutOfOrder != 9 || st.Duplicates != 10 {
		t.Errorf("stats %+v, want 9 out of order and 10 duplicates", st)
	}
	if st := p.a.statsSnapshot(); st.FastRetransmits != 0 || st.Retransmits != 0 {
		t.Errorf("sender stats %+v, want no retransmission", st)
	}
}

func TestSequenceWrap(t *testing.T) {
	p := newPipe(t, Config{Window: 8})
	// Start both directions just below the wrap.
	start := uint16(0xFFF0)
	p.a.sndUna, p.b.rcvNxt, p.b.advAlloc, p.a.peerAlloc = start, start, start+7, start+7
	var want []byte
	for i := range 64 {
		b := []byte{byte(i)}
		want = append(want, b...)
		for {
			n, _ := p.a.write(b, false, false, fixed(p.now))
			p.collect()
			p.step(time.Millisecond)
			if n == 1 {
				break
			}
		}
	}
	p.run()
	if !bytes.Equal(p.gotB.Bytes(), want) {
		t.Fatalf("b got % x", p.gotB.Bytes())
	}
	if end := start + 0x40; p.b.rcvNxt != end {
		t.Errorf("rcvNxt %#x, want %#x", p.b.rcvNxt, end)
	}
}

// TestLateRead reads long after the peer ended the connection: the data
// and then io.EOF are still there, not a keep-alive failure.
func TestLateRead(t *testing.T) {
	for _, release := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			n := newTestNet(t, memlan.Config{Seed: 1})
			c, s, _ := n.connect(t, Config{}, Config{})
			c.Write([]byte("goodbye"))
			if release {
				c.CloseWrite()
				s.CloseWrite()
			}
			c.Close()
			time.Sleep(5 * time.Minute)
			got, err := io.ReadAll(s)
			if err != nil || string(got) != "goodbye" {
				t.Fatalf("release %v: read %q, %v", release, got, err)
			}
			if st := s.Stats(); st.KeepAlives != 0 {
				t.Errorf("release %v: %d keep-alives to a peer that has gone", release, st.KeepAlives)
			}
			s.Close()
		})
	}
}

// TestLoopback dials a listener on the same Stack.
func TestLoopback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		ln, err := Listen(n.a, 0x5000)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.AcceptSPX()
			if err != nil {
				return
			}
			c.Write([]byte("self"))
			c.Close()
		}()
		c, err := Dial(context.Background(), n.a, ipx.Addr{Net: 1, Node: n.nodeA, Socket: 0x5000})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "self" {
			t.Fatalf("got %q, %v", got, err)
		}
		c.Close()
	})
}

// TestListenerClose: closing the Listener unblocks Accept and leaves
// accepted connections working; closing the Stack fails everything.
func TestListenerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		c, s, ln := n.connect(t, Config{}, Config{})
		accErr := make(chan error, 1)
		go func() {
			_, err := ln.Accept()
			accErr <- err
		}()
		synctest.Wait()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-accErr; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
		// The accepted connection goes on.
		c.Write([]byte("still here"))
		buf := make([]byte, 10)
		if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "still here" {
			t.Fatalf("after listener close: %q %v", buf, err)
		}
		// New connections are not taken.
		_, err := DialConfig(context.Background(), n.a, ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}, Config{RetryLimit: 2})
		if !errors.Is(err, ErrConnRefused) {
			t.Errorf("dial a closed listener: %v", err)
		}
		// Closing the Stack ends the connections on it.
		readErr := make(chan error, 1)
		go func() {
			_, err := s.Read(buf)
			readErr <- err
		}()
		synctest.Wait()
		n.b.Close()
		if err := <-readErr; !errors.Is(err, net.ErrClosed) {
			t.Errorf("read on a closed stack: %v", err)
		}
	})
}
