package memlan_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// run sends n numbered packets from node 1 to node 2, one every gap, with
// the given impairments on the segment, and returns what node 2 received
// with arrival times. It runs in its own synctest bubble, so timing is
// exact and a leaked goroutine fails the test.
func run(t *testing.T, seed uint64, im memlan.Impairments, n int, gap time.Duration) ([]recv, memlan.Stats) {
	t.Helper()
	var got []recv
	var st memlan.Stats
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: seed, QueueLen: 4 * n})
		seg.SetImpairments(im)
		ls := attach(t, seg, 2)
		start := time.Now()
		ch := collect(ls[1], start)
		for i := range n {
			if err := ls[0].WritePacket(fmt.Appendf(nil, "%d", i), node(2)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(gap)
		}
		time.Sleep(im.Delay + im.Jitter + im.ReorderDelay + memlan.DefaultReorderDelay)
		synctest.Wait()
		ls[1].Close()
		got = <-ch
		st = seg.Stats()
	})
	return got, st
}

func TestLossRate(t *testing.T) {
	for _, loss := range []float64{0, 0.1, 0.5, 1} {
		t.Run(fmt.Sprint(loss), func(t *testing.T) {
			const n = 4000
			got, st := run(t, 7, memlan.Impairments{Loss: loss}, n, 0)
			rate := 1 - float64(len(got))/n
			// 4 standard deviations of a binomial proportion.
			tol := 4*math.Sqrt(loss*(1-loss)/n) + 1e-9
			if math.Abs(rate-loss) > tol {
				t.Errorf("loss rate %.4f, want %.2f ± %.4f", rate, loss, tol)
			}
			if st.Lost+st.Delivered != n {
				t.Errorf("Lost %d + Delivered %d != %d", st.Lost, st.Delivered, n)
			}
		})
	}
}

func TestDuplicate(t *testing.T) {
	const n = 2000
	got, st := run(t, 3, memlan.Impairments{Duplicate: 0.25}, n, 0)
	if len(got) != n+int(st.Duplicated) {
		t.Errorf("received %d, want %d + %d duplicates", len(got), n, st.Duplicated)
	}
	if d := float64(st.Duplicated) / n; math.Abs(d-0.25) > 0.04 {
		t.Errorf("duplicate rate %.3f, want 0.25", d)
	}
}

var faulty = memlan.Impairments{
	Loss: 0.2, Duplicate: 0.1, Delay: 5 * time.Millisecond,
	Jitter: 3 * time.Millisecond, Reorder: 0.1, ReorderDelay: 4 * time.Millisecond,
}

func TestReplaySameSeed(t *testing.T) {
	a, _ := run(t, 42, faulty, 300, time.Millisecond)
	b, _ := run(t, 42, faulty, 300, time.Millisecond)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different runs:\n%v\n%v", a, b)
	}
	c, _ := run(t, 43, faulty, 300, time.Millisecond)
	if slices.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same run")
	}
}

// TestReplayIndependentOfInterleaving has two senders race; each one's
// draws depend only on its own sends, so what arrives from each replays.
func TestReplayIndependentOfInterleaving(t *testing.T) {
	trace := func(order int) map[ipx.Node][]string {
		out := map[ipx.Node][]string{}
		synctest.Test(t, func(t *testing.T) {
			seg := memlan.NewSegment(memlan.Config{Seed: 9, QueueLen: 1000})
			seg.SetImpairments(memlan.Impairments{Loss: 0.3, Duplicate: 0.2})
			ls := attach(t, seg, 3)
			ch := collect(ls[2], time.Now())
			senders := []*memlan.Link{ls[0], ls[1]}
			if order == 1 {
				senders[0], senders[1] = senders[1], senders[0]
			}
			for _, s := range senders {
				for i := range 200 {
					s.WritePacket(fmt.Appendf(nil, "%d", i), node(3))
				}
			}
			synctest.Wait()
			ls[2].Close()
			for _, r := range <-ch {
				out[r.from] = append(out[r.from], r.data)
			}
		})
		return out
	}
	a, b := trace(0), trace(1)
	for _, n := range []ipx.Node{node(1), node(2)} {
		if !slices.Equal(a[n], b[n]) {
			t.Errorf("from %v: order changed what arrived:\n%v\n%v", n, a[n], b[n])
		}
	}
}

func TestDelayJitter(t *testing.T) {
	im := memlan.Impairments{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}
	const gap = 50 * time.Millisecond // wider than the jitter: no reordering
	got, _ := run(t, 1, im, 200, gap)
	if len(got) != 200 {
		t.Fatalf("received %d of 200", len(got))
	}
	var lo, hi time.Duration = time.Hour, 0
	for i, r := range got {
		if r.data != fmt.Sprint(i) {
			t.Fatalf("packet %d is %q: reordered", i, r.data)
		}
		d := r.at - time.Duration(i)*gap
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < im.Delay || hi > im.Delay+im.Jitter {
		t.Errorf("delays in [%v, %v], want within [%v, %v]", lo, hi, im.Delay, im.Delay+im.Jitter)
	}
	if hi-lo < im.Jitter/2 {
		t.Errorf("delays in [%v, %v]: jitter barely applied", lo, hi)
	}
}

func TestReorder(t *testing.T) {
	im := memlan.Impairments{Reorder: 0.2, ReorderDelay: 5 * time.Millisecond}
	got, st := run(t, 5, im, 500, time.Millisecond)
	if len(got) != 500 {
		t.Fatalf("received %d of 500", len(got))
	}
	inversions := 0
	prev := -1
	for _, r := range got {
		var i int
		fmt.Sscan(r.data, &i)
		if i < prev {
			inversions++
		}
		prev = max(prev, i)
	}
	if inversions == 0 || st.Reordered == 0 {
		t.Errorf("no reordering: %d inversions, Reordered %d", inversions, st.Reordered)
	}
	if int(st.Reordered) < inversions {
		t.Errorf("%d inversions but only %d held back", inversions, st.Reordered)
	}
}

func TestPerLinkImpairmentsWin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		seg.SetImpairments(memlan.Impairments{Loss: 1})
		ls := attach(t, seg, 3)
		ls[0].SetImpairments(memlan.Impairments{}) // perfect despite the segment
		ls[0].WritePacket([]byte("a"), node(3))
		ls[1].WritePacket([]byte("b"), node(3))
		ls[0].ClearImpairments()
		ls[0].WritePacket([]byte("c"), node(3))
		got := drain(t, ls[2])
		if len(got) != 1 || got[0].data != "a" {
			t.Errorf("got %v, want only a", got)
		}
	})
}

func TestPartitionHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		ls := attach(t, seg, 4)
		send := func() []string {
			chs := make([]<-chan []recv, len(ls))
			for i, l := range ls {
				chs[i] = collect(l, time.Now())
			}
			for _, l := range ls {
				l.WritePacket([]byte(l.Node().String()[11:]), ipx.NodeBroadcast)
			}
			synctest.Wait()
			var out []string
			for i, l := range ls {
				l.Close() // ends collect; reattached below
				var heard []string
				for _, r := range <-chs[i] {
					heard = append(heard, r.data)
				}
				slices.Sort(heard)
				out = append(out, fmt.Sprint(heard))
				nl, err := seg.Attach(l.Node())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { nl.Close() })
				ls[i] = nl
			}
			return out
		}
		tests := []struct {
			name  string
			setup func()
			want  []string
		}{
			{"whole", func() {}, []string{"[2 3 4]", "[1 3 4]", "[1 2 4]", "[1 2 3]"}},
			{"split", func() { seg.Partition([]ipx.Node{node(1), node(2)}) }, []string{"[2]", "[1]", "[4]", "[3]"}},
			{"healed", seg.Heal, []string{"[2 3 4]", "[1 3 4]", "[1 2 4]", "[1 2 3]"}},
			{"one way", func() { seg.SetReachable(node(1), node(2), false) }, []string{"[2 3 4]", "[3 4]", "[1 2 4]", "[1 2 3]"}},
			{"back", func() { seg.SetReachable(node(1), node(2), true) }, []string{"[2 3 4]", "[1 3 4]", "[1 2 4]", "[1 2 3]"}},
		}
		for _, tt := range tests {
			tt.setup()
			if got := send(); !slices.Equal(got, tt.want) {
				t.Errorf("%s: heard %v, want %v", tt.name, got, tt.want)
			}
		}
	})
}

func TestCrashRestore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		seg.SetImpairments(memlan.Impairments{Delay: time.Millisecond})
		ls := attach(t, seg, 2)
		ls[0].WritePacket([]byte("queued"), node(2))
		ls[0].WritePacket([]byte("in flight"), node(2))
		time.Sleep(time.Millisecond)
		ls[0].WritePacket([]byte("in flight"), node(2))
		ls[1].Crash()
		if !ls[1].Crashed() {
			t.Fatal("Crashed() false after Crash")
		}
		ls[0].WritePacket([]byte("while down"), node(2))
		ls[1].WritePacket([]byte("from crashed"), node(1))
		time.Sleep(5 * time.Millisecond)
		ls[1].Restore()
		ls[0].WritePacket([]byte("after"), node(2))
		time.Sleep(5 * time.Millisecond)
		if got := drain(t, ls[1]); len(got) != 1 || got[0].data != "after" {
			t.Errorf("crashed node got %v, want only after", got)
		}
		if got := drain(t, ls[0]); len(got) != 0 {
			t.Errorf("crashed node sent %v", got)
		}
		if st := seg.Stats(); st.Crashed != 5 {
			t.Errorf("Crashed = %d, want 5 (2 queued, 1 in flight, 1 to, 1 from)", st.Crashed)
		}
	})
}

func TestImpairedQueueBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{QueueLen: 4})
		seg.SetImpairments(memlan.Impairments{Delay: time.Second})
		ls := attach(t, seg, 2)
		for range 10 {
			ls[0].WritePacket([]byte("x"), node(2))
		}
		time.Sleep(2 * time.Second)
		if got := drain(t, ls[1]); len(got) != 4 {
			t.Errorf("received %d, want 4", len(got))
		}
		if st := seg.Stats(); st.QueueFull != 6 {
			t.Errorf("QueueFull = %d, want 6", st.QueueFull)
		}
	})
}

// TestCloseWithPacketsInFlight closes a link with delayed packets on
// their way: nothing is delivered after Close, and (this runs in a
// bubble) no goroutine or timer callback outlives the test.
func TestCloseWithPacketsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		seg.SetImpairments(memlan.Impairments{Delay: time.Second, Jitter: time.Second})
		ls := attach(t, seg, 2)
		ch := collect(ls[1], time.Now())
		for range 10 {
			ls[0].WritePacket([]byte("x"), node(2))
		}
		time.Sleep(500 * time.Millisecond)
		ls[1].Close()
		if got := <-ch; len(got) != 0 {
			t.Errorf("received %v before the delay", got)
		}
		time.Sleep(3 * time.Second)
		if st := seg.Stats(); st.Delivered != 0 {
			t.Errorf("Delivered = %d after Close, want 0", st.Delivered)
		}
	})
}
