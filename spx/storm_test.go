package spx

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// TestMaxConns: a listener holds at most Config.MaxConns connections;
// requests beyond are refused and counted, and room frees as they end.
func TestMaxConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{})
		ln, err := ListenConfig(n.b, 0x5000, Config{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addr := ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}
		dial := func() (*Conn, error) {
			return DialConfig(context.Background(), n.a, addr, Config{RetryLimit: 2})
		}
		var conns []*Conn
		for range 2 {
			c, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		if _, err := dial(); !errors.Is(err, ErrConnRefused) {
			t.Fatalf("third Dial = %v, want ErrConnRefused", err)
		}
		if st := ln.Stats(); st.Refused != 3 { // the request and its 2 retries
			t.Errorf("Refused = %d, want 3", st.Refused)
		}
		// One ends: there is room again.
		s, err := ln.AcceptSPX()
		if err != nil {
			t.Fatal(err)
		}
		conns[0].Close()
		s.Close()
		synctest.Wait()
		c, err := dial()
		if err != nil {
			t.Fatalf("Dial after one ended: %v", err)
		}
		c.Close()
		conns[1].Close()
	})
}

// TestPlainSPXMaxData: a plain SPX connection takes at most 534 bytes of
// data per packet, whatever the link carries.
func TestPlainSPXMaxData(t *testing.T) {
	for _, plain := range []bool{true, false} {
		t.Run(fmt.Sprint("plain=", plain), func(t *testing.T) {
			p := newPipe(t, Config{PlainSPX: plain})
			for _, size := range []int{534, 535, 1400} {
				h := Header{SrcID: p.a.localID, DstID: p.b.localID, Seq: p.b.rcvNxt, Ack: p.b.sndUna, Alloc: p.a.advAlloc}
				before := p.b.rcvNxt
				p.b.input(&h, make([]byte, size), fixed(p.now))
				took := p.b.rcvNxt != before
				if want := size <= 534 || !plain; took != want {
					t.Errorf("%d bytes: taken %v, want %v", size, took, want)
				}
			}
			if want := map[bool]uint64{true: 2, false: 0}[plain]; p.b.stats.Oversize != want {
				t.Errorf("Oversize = %d, want %d", p.b.stats.Oversize, want)
			}
		})
	}
}

// BenchmarkListenerRequest measures the handling of a repeated
// connection request, with none and with 30,000 other connections on the
// listener's socket.
func BenchmarkListenerRequest(b *testing.B) {
	for _, conns := range []int{0, 30000} {
		b.Run(fmt.Sprint("conns=", conns), func(b *testing.B) {
			n := newTestNet(b, memlan.Config{})
			ln, err := ListenConfig(n.b, 0x5000, Config{MaxConns: 0xFFFE, Backlog: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			m := ln.m
			peer := func(i int) ipx.Addr {
				return ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Socket: 0x4000}
			}
			m.mu.Lock()
			for i := range conns {
				id, _ := m.newID()
				c := newConn(m, id, peer(i), time.Now())
				c.peerID = 1
				m.addLocked(c)
			}
			m.mu.Unlock()
			h := Header{Control: ControlSystem | ControlSendAck, SrcID: 1, DstID: IDUnknown}
			pkt := make([]byte, 0, HeaderLen)
			info := &ipx.RecvInfo{Header: ipx.Header{Type: ipx.TypeSPX, Src: peer(conns + 1)}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				// A new peer each time: after the first, which fills
				// the backlog, each is looked up and dropped.
				h.SrcID = uint16(i%0xFFF0) + 1
				pkt, _ = h.AppendBinary(pkt[:0])
				m.handle(pkt, info)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"Window", Config{Window: 0x4001}, false},
		{"RetryLimit", Config{RetryLimit: -1}, false},
		{"RTO", Config{MinRTO: time.Second, MaxRTO: time.Millisecond}, false},
		{"AbortTimeout", Config{AbortTimeout: time.Second, VerifyInterval: 2 * time.Second}, false},
		{"Backlog", Config{Backlog: -1}, false},
		{"MaxConns", Config{MaxConns: 0x10000}, false},
		{"MaxPacket", Config{MaxPacket: 0x10000}, false},
		{"Linger negative", Config{Linger: -1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate = %v, want ok %v or ErrBadConfig", err, tt.ok)
			}
		})
	}
}

// TestLingerBounded: at most MaxConns connections linger after a clean
// end; beyond, they leave at once.
func TestLingerBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{})
		ln, err := ListenConfig(n.b, 0x5000, Config{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addr := ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}
		for range 5 {
			c, err := Dial(context.Background(), n.a, addr)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ln.AcceptSPX()
			if err != nil {
				t.Fatal(err)
			}
			c.Close() // s reads the end: it lingers once closed
			s.Close()
		}
		m := ln.m
		m.mu.Lock()
		conns, lingering := len(m.conns), m.nLinger
		m.mu.Unlock()
		if conns != 2 || lingering != 2 {
			t.Errorf("%d connections, %d lingering; want 2 and 2", conns, lingering)
		}
	})
}
