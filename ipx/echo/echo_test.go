package echo_test

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// pair builds a pinging stack (node 1) and a responding stack (node 2) on
// one memlan segment, network 0x10, and returns the client, the
// responder and the responder's address. Everything closes in Cleanup,
// before synctest checks for leaked goroutines.
func pair(t *testing.T, seg *memlan.Segment) (*echo.Client, *echo.Responder, ipx.Addr) {
	t.Helper()
	mk := func(n byte) *ipx.Stack {
		s, _ := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(n), ipxtest.On{Seg: seg, Net: 0x10})
		return s
	}
	cs, rs := mk(1), mk(2)
	cc, err := cs.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rs.Listen(echo.Socket)
	if err != nil {
		t.Fatal(err)
	}
	r := echo.NewResponder(rc)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Serve(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(func() {
		cs.Close()
		rs.Close()
		wg.Wait()
	})
	return echo.NewClient(cc), r, rc.Addr()
}

func TestPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		seg.SetImpairments(memlan.Impairments{Delay: 5 * time.Millisecond})
		c, r, dst := pair(t, seg)
		for id := range uint16(3) {
			rep, err := c.Ping(dst, id, 46, time.Second)
			if err != nil {
				t.Fatalf("Ping %d: %v", id, err)
			}
			if rep.RTT != 10*time.Millisecond || rep.From != dst || rep.Len != 56 || rep.Hops != 0 {
				t.Errorf("Ping %d = %+v, want RTT 10ms from %v, 56 bytes, 0 hops", id, rep, dst)
			}
		}
		if st := r.Stats(); st.Requests != 3 || st.Replies != 3 {
			t.Errorf("responder stats %+v, want 3 requests, 3 replies", st)
		}
	})
}

func TestPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		c, _, dst := pair(t, seg)
		seg.Link(dst.Node).Crash()
		start := time.Now()
		_, err := c.Ping(dst, 1, 0, 300*time.Millisecond)
		if !echo.IsTimeout(err) {
			t.Fatalf("Ping to crashed node = %v, want timeout", err)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Errorf("timed out after %v, want 300ms", d)
		}
		seg.Link(dst.Node).Restore()
		if _, err := c.Ping(dst, 2, 0, time.Second); err != nil {
			t.Errorf("Ping after Restore: %v", err)
		}
	})
}

// TestPingSkipsLateReply: a reply to an earlier id that arrives while
// waiting for the next must not be taken for it.
func TestPingSkipsLateReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		c, _, dst := pair(t, seg)
		seg.SetImpairments(memlan.Impairments{Delay: 100 * time.Millisecond})
		if _, err := c.Ping(dst, 1, 0, 50*time.Millisecond); !echo.IsTimeout(err) {
			t.Fatalf("Ping 1 = %v, want timeout", err)
		}
		seg.SetImpairments(memlan.Impairments{Delay: 80 * time.Millisecond})
		rep, err := c.Ping(dst, 2, 0, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if rep.RTT != 160*time.Millisecond {
			t.Errorf("RTT %v, want 160ms (the late reply to 1 came at 180ms)", rep.RTT)
		}
	})
}

func TestResponderIgnoresJunk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		_, r, dst := pair(t, seg)
		l, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 9})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()
		s.AddLink(l, 0x10)
		junk, _ := s.Listen(0)
		for i, p := range [][]byte{nil, []byte("Pong......"), []byte("Ping\x01\x01\x00\x01\x01\x00")} {
			if _, err := junk.WriteMsg(p, dst, ipx.WriteOptions{Type: echo.PacketType}); err != nil {
				t.Fatalf("junk %d: %v", i, err)
			}
		}
		bc := dst
		bc.Node = ipx.NodeBroadcast
		req, _ := (&echo.Message{Version: 1}).MarshalBinary()
		junk.WriteMsg(req, bc, ipx.WriteOptions{})
		synctest.Wait()
		if st := r.Stats(); st.Malformed != 4 || st.Replies != 0 {
			t.Errorf("stats %+v, want 4 malformed, 0 replies", st)
		}
	})
}

func Example() {
	seg := memlan.NewSegment(memlan.Config{})
	stack := func(n byte) *ipx.Stack {
		l, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, n})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		s.AddLink(l, 0x10)
		return s
	}
	server, client := stack(1), stack(2)
	defer server.Close()
	defer client.Close()

	rc, _ := server.Listen(echo.Socket)
	go echo.NewResponder(rc).Serve()

	cc, _ := client.Listen(0)
	rep, err := echo.NewClient(cc).Ping(rc.Addr(), 1, 46, time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes from %v\n", rep.Len, rep.From)
	// Output: 56 bytes from 00000010:020000000001:9086
}
