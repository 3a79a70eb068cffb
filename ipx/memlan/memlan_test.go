package memlan_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

func node(i byte) ipx.Node { return ipx.Node{0x02, 0, 0, 0, 0, i} }

// attach puts nodes 1..n on seg and closes them at the end of the test.
func attach(t *testing.T, seg *memlan.Segment, n int) []*memlan.Link {
	t.Helper()
	links := make([]*memlan.Link, n)
	for i := range links {
		l, err := seg.Attach(node(byte(i + 1)))
		if err != nil {
			t.Fatalf("Attach(%d): %v", i+1, err)
		}
		t.Cleanup(func() { l.Close() })
		links[i] = l
	}
	return links
}

type recv struct {
	data string
	from ipx.Node
	at   time.Duration
}

// collect reads from l in a goroutine until it is closed, recording
// packets with their arrival time since start.
func collect(l *memlan.Link, start time.Time) <-chan []recv {
	out := make(chan []recv, 1)
	go func() {
		var got []recv
		buf := make([]byte, 2000)
		for {
			n, from, err := l.ReadPacket(buf)
			if err != nil {
				out <- got
				return
			}
			got = append(got, recv{string(buf[:n]), from, time.Since(start)})
		}
	}()
	return out
}

// drain returns what l has received once every goroutine of the bubble
// is idle, and closes l.
func drain(t *testing.T, l *memlan.Link) []recv {
	t.Helper()
	ch := collect(l, time.Now())
	synctest.Wait()
	l.Close()
	return <-ch
}

func TestUnicastBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		ls := attach(t, seg, 3)
		if err := ls[0].WritePacket([]byte("to2"), node(2)); err != nil {
			t.Fatal(err)
		}
		if err := ls[1].WritePacket([]byte("bcast"), ipx.NodeBroadcast); err != nil {
			t.Fatal(err)
		}
		if err := ls[2].WritePacket([]byte("self"), node(3)); err != nil {
			t.Fatal(err)
		}
		if err := ls[2].WritePacket([]byte("nobody"), node(9)); err != nil {
			t.Fatal(err)
		}
		want := [][]recv{
			{{"bcast", node(2), 0}},
			{{"to2", node(1), 0}},
			{{"bcast", node(2), 0}},
		}
		for i, l := range ls {
			got := drain(t, l)
			if fmt.Sprint(got) != fmt.Sprint(want[i]) {
				t.Errorf("node %d got %v, want %v", i+1, got, want[i])
			}
		}
		st := seg.Stats()
		if st.Sent != 4 || st.Delivered != 3 || st.NoNode != 1 {
			t.Errorf("stats %+v, want Sent 4 Delivered 3 NoNode 1", st)
		}
	})
}

func TestWriteCopiesAndReadTruncates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		ls := attach(t, seg, 2)
		p := []byte("hello")
		ls[0].WritePacket(p, node(2))
		copy(p, "XXXXX")
		b := make([]byte, 3)
		n, from, err := ls[1].ReadPacket(b)
		if err != nil || n != 3 || string(b) != "hel" || from != node(1) {
			t.Fatalf("ReadPacket = %d %q %v %v, want 3 \"hel\" %v", n, b, from, err, node(1))
		}
	})
}

func TestAttachErrors(t *testing.T) {
	seg := memlan.NewSegment(memlan.Config{})
	l, err := seg.Attach(node(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		node ipx.Node
		want error
	}{
		{"duplicate", node(1), memlan.ErrNodeInUse},
		{"zero", ipx.NodeZero, memlan.ErrBadNode},
		{"broadcast", ipx.NodeBroadcast, memlan.ErrBadNode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := seg.Attach(tt.node); !errors.Is(err, tt.want) {
				t.Errorf("Attach(%v) = %v, want %v", tt.node, err, tt.want)
			}
		})
	}
	l.Close()
	l2, err := seg.Attach(node(1))
	if err != nil {
		t.Fatalf("Attach after Close: %v", err)
	}
	l2.Close()
}

func TestTooLarge(t *testing.T) {
	seg := memlan.NewSegment(memlan.Config{MTU: 576})
	ls := attach(t, seg, 2)
	if ls[0].MTU() != 576 {
		t.Errorf("MTU = %d, want 576", ls[0].MTU())
	}
	if err := ls[0].WritePacket(make([]byte, 577), node(2)); !errors.Is(err, ipx.ErrTooLarge) {
		t.Errorf("WritePacket(577 bytes) = %v, want ErrTooLarge", err)
	}
	if err := ls[0].WritePacket(make([]byte, 576), node(2)); err != nil {
		t.Errorf("WritePacket(576 bytes) = %v", err)
	}
}

func TestCloseUnblocksReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		l, _ := seg.Attach(node(1))
		errc := make(chan error)
		go func() {
			_, _, err := l.ReadPacket(make([]byte, 10))
			errc <- err
		}()
		synctest.Wait() // reader durably blocked
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadPacket after Close = %v, want net.ErrClosed", err)
		}
		if err := l.WritePacket([]byte("x"), node(2)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WritePacket after Close = %v, want net.ErrClosed", err)
		}
		if err := l.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %v, want net.ErrClosed", err)
		}
		if seg.Link(node(1)) != nil {
			t.Error("closed link still attached")
		}
	})
}

func TestQueueFullDropsNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{QueueLen: 4})
		ls := attach(t, seg, 2)
		for i := range 6 {
			ls[0].WritePacket([]byte{byte('a' + i)}, node(2))
		}
		got := drain(t, ls[1])
		if s := fmt.Sprint(got); s != fmt.Sprint([]recv{{"a", node(1), 0}, {"b", node(1), 0}, {"c", node(1), 0}, {"d", node(1), 0}}) {
			t.Errorf("got %v, want a..d", s)
		}
		if st := seg.Stats(); st.QueueFull != 2 || st.Delivered != 4 {
			t.Errorf("stats %+v, want QueueFull 2 Delivered 4", st)
		}
	})
}

func TestNoAllocs(t *testing.T) {
	seg := memlan.NewSegment(memlan.Config{QueueLen: 8})
	ls := attach(t, seg, 2)
	p := make([]byte, 576)
	b := make([]byte, 1500)
	// Warm every queue slot up: each gets its buffer on first use.
	for range 8 {
		ls[0].WritePacket(p, node(2))
		ls[1].ReadPacket(b)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := ls[0].WritePacket(p, node(2)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ls[1].ReadPacket(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}

// TestWritePackets sends batches: in order to one node, counted like
// single packets; across a partition, to nobody; and, with impairments
// set, packet by packet, so that loss acts on each.
func TestWritePackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 9})
		ls := attach(t, seg, 3)
		batch := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
		if n, err := ls[0].WritePackets(batch, node(2)); n != 3 || err != nil {
			t.Fatalf("WritePackets = %d, %v", n, err)
		}
		if n, err := ls[0].WritePackets(batch[:1], node(9)); n != 1 || err != nil {
			t.Fatalf("to nobody: %d, %v", n, err)
		}
		if _, err := ls[0].WritePackets([][]byte{make([]byte, 1501)}, node(2)); !errors.Is(err, ipx.ErrTooLarge) {
			t.Fatalf("oversize batch: %v", err)
		}
		got := drain(t, ls[1])
		if want := []recv{{"one", node(1), 0}, {"two", node(1), 0}, {"three", node(1), 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("node 2 got %v, want %v", got, want)
		}
		if st := seg.Stats(); st.Sent != 4 || st.Delivered != 3 || st.NoNode != 1 {
			t.Fatalf("stats %+v, want Sent 4 Delivered 3 NoNode 1", st)
		}

		// Across a partition a batch reaches nobody.
		seg.Partition([]ipx.Node{node(1)}, []ipx.Node{node(2), node(3)})
		if n, err := ls[0].WritePackets(batch, node(3)); n != 3 || err != nil {
			t.Fatalf("across a partition: %d, %v", n, err)
		}
		if st := seg.Stats(); st.Unreachable != 3 || st.Delivered != 3 {
			t.Fatalf("across a partition: stats %+v", st)
		}
		seg.Partition() // node 3's queue holds only what follows

		// Half the packets lost: a batch of 100 loses some, not all or none.
		seg.SetImpairments(memlan.Impairments{Loss: 0.5})
		many := make([][]byte, 100)
		for i := range many {
			many[i] = []byte{byte(i)}
		}
		if n, err := ls[0].WritePackets(many, node(3)); n != 100 || err != nil {
			t.Fatalf("impaired WritePackets = %d, %v", n, err)
		}
		arrived := len(drain(t, ls[2]))
		if arrived == 0 || arrived == 100 || seg.Stats().Lost != uint64(100-arrived) {
			t.Fatalf("%d of 100 arrived, stats %+v", arrived, seg.Stats())
		}
	})
}
