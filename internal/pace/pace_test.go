package pace

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestWaker(t *testing.T) {
	w := NewWaker()
	select {
	case <-w.C():
		t.Fatal("a new Waker is pending")
	default:
	}
	w.Wake()
	w.Wake() // merges into the pending one, without blocking
	<-w.C()
	select {
	case <-w.C():
		t.Fatal("two wake-ups pending")
	default:
	}
}

// fired reports whether the channel timer has fired, after the bubble's
// due timers ran.
func fired(tm *Timer) bool {
	synctest.Wait()
	select {
	case <-tm.C():
		return true
	default:
		return false
	}
}

func TestTimerReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := NewTimer()
		defer tm.Stop()
		time.Sleep(time.Hour)
		if fired(&tm) {
			t.Fatal("a new Timer fired")
		}
		start := time.Now()
		tm.Reset(start.Add(time.Second))
		time.Sleep(time.Second - time.Nanosecond)
		if fired(&tm) {
			t.Fatal("fired early")
		}
		time.Sleep(time.Nanosecond)
		if !fired(&tm) {
			t.Fatal("did not fire at its deadline")
		}
		// A deadline passed, the zero one included, fires at once.
		tm.Reset(time.Time{})
		if !fired(&tm) {
			t.Fatal("zero deadline did not fire at once")
		}
		// A later deadline replaces an earlier one, which never fires,
		// even if it has passed while its value was not taken.
		tm.Reset(time.Now().Add(time.Second))
		time.Sleep(time.Second)
		tm.Reset(time.Now().Add(time.Minute))
		if fired(&tm) {
			t.Fatal("fired for a replaced deadline")
		}
		time.Sleep(time.Minute)
		if !fired(&tm) {
			t.Fatal("did not fire at the new deadline")
		}
		tm.Reset(time.Now().Add(time.Second))
		tm.Stop()
		time.Sleep(time.Hour)
		if fired(&tm) {
			t.Fatal("fired after Stop")
		}
	})
}

func TestTimerArm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex // the Timer's owner's lock
		var at []time.Duration
		start := time.Now()
		var tm Timer
		tm = AfterFunc(func() {
			mu.Lock()
			defer mu.Unlock()
			tm.Fired()
			at = append(at, time.Since(start))
		})
		fires := func() []time.Duration {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			f := at
			at = nil
			return f
		}
		defer tm.Stop()
		arm := func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			tm.Arm(start.Add(d))
		}
		mu.Lock()
		tm.Arm(time.Time{}) // no deadline
		mu.Unlock()
		time.Sleep(time.Hour)
		if got := fires(); len(got) != 0 {
			t.Fatalf("fired without a deadline, at %v", got)
		}
		start = time.Now()
		arm(2 * time.Second)
		arm(3 * time.Second) // later: the earlier stays
		arm(time.Second)     // earlier: replaces
		time.Sleep(10 * time.Second)
		if got := fires(); !slices.Equal(got, []time.Duration{time.Second}) {
			t.Fatalf("fired at %v, want once at 1s", got)
		}
		// After Fired, a later deadline is armed.
		start = time.Now()
		arm(5 * time.Second)
		time.Sleep(10 * time.Second)
		if got := fires(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
			t.Fatalf("fired at %v, want once at 5s", got)
		}
		// Stop forgets the deadline: a later one is armed next.
		start = time.Now()
		arm(time.Second)
		mu.Lock()
		tm.Stop()
		mu.Unlock()
		arm(2 * time.Second)
		time.Sleep(10 * time.Second)
		if got := fires(); !slices.Equal(got, []time.Duration{2 * time.Second}) {
			t.Fatalf("fired at %v, want once at 2s", got)
		}
		if tm.C() != nil {
			t.Fatal("an AfterFunc Timer has a channel")
		}
	})
}

// source is a Source whose jobs are named by strings, by link*10+kind;
// its timers run every period from its start.
type source struct {
	jobs   map[int][][]string
	links  []int
	period time.Duration
	next   time.Time
	ticks  []time.Time
}

func (s *source) Tick(now time.Time) {
	s.ticks = append(s.ticks, now)
	for !s.next.After(now) {
		s.next = s.next.Add(s.period)
	}
}

func (s *source) Deadline() time.Time { return s.next }

func (s *source) Links(dst []int) []int { return append(dst, s.links...) }

func (s *source) Next(link, kind int) []string {
	q := s.jobs[link*10+kind]
	if len(q) == 0 {
		return nil
	}
	s.jobs[link*10+kind] = q[1:]
	return q[0]
}

func TestPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const gap = 55 * time.Millisecond
		start := time.Now()
		src := &source{
			jobs: map[int][][]string{
				10: {{"1a0", "1a1", "1a2"}, {"1b0"}},
				11: {{"1c0", "1c1"}},
				20: {{"2a0"}},
			},
			links:  []int{1, 2},
			period: time.Hour,
			next:   start,
		}
		p := NewPacer[int, string](src, gap, 2)
		var got [][]string
		var wakes []time.Duration
		for range 8 {
			ready, wake := p.Poll(time.Now())
			got = append(got, slices.Clone(ready))
			wakes = append(wakes, wake.Sub(start))
			time.Sleep(time.Until(wake))
		}
		// Link 1 alternates kinds 0 and 1, one item per gap; link 2
		// sends its item at once, then has nothing. Then the
		// timers are the next thing due.
		want := [][]string{{"1a0", "2a0"}, {"1c0"}, {"1a1"}, {"1c1"}, {"1a2"}, {"1b0"}, {}, {}}
		if len(got) != len(want) {
			t.Fatalf("got %q", got)
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("poll %d: got %q, want %q (all: %q)", i, got[i], want[i], got)
			}
		}
		for i, w := range wakes[:6] {
			if w != time.Duration(i+1)*gap {
				t.Fatalf("wake %d at %v, want %v (all %v)", i, w, time.Duration(i+1)*gap, wakes)
			}
		}
		if wakes[6] != time.Hour || wakes[7] != 2*time.Hour {
			t.Fatalf("idle pacer wakes at %v, want the timers", wakes[6:])
		}
		if want := []time.Time{start, start.Add(time.Hour)}; !slices.Equal(src.ticks, want) {
			t.Fatalf("ticks at %v, want %v", src.ticks, want)
		}

		// Within the gap, nothing more goes, even with work waiting.
		src.jobs[10] = [][]string{{"x", "y"}}
		ready, _ := p.Poll(time.Now())
		if !slices.Equal(ready, []string{"x"}) {
			t.Fatalf("got %q, want x", ready)
		}
		ready, wake := p.Poll(time.Now())
		if len(ready) != 0 || time.Until(wake) != gap {
			t.Fatalf("within the gap: got %q, wake in %v", ready, time.Until(wake))
		}
		// A link gone is forgotten with its job: back, it starts afresh.
		src.links = nil
		p.Poll(time.Now())
		src.links = []int{1}
		if ready, _ := p.Poll(time.Now()); len(ready) != 0 {
			t.Fatalf("a forgotten link sent %q", ready)
		}

		// TickBy brings the timers forward, never back.
		src.ticks = nil
		p.TickBy(time.Now().Add(3 * time.Hour))
		p.TickBy(time.Now().Add(time.Minute))
		_, wake = p.Poll(time.Now())
		if time.Until(wake) != time.Minute || len(src.ticks) != 0 {
			t.Fatalf("wake in %v after TickBy(1m), ticks %v", time.Until(wake), src.ticks)
		}
		p.TickBy(time.Time{})
		p.Poll(time.Now())
		if len(src.ticks) != 1 {
			t.Fatalf("TickBy(zero): ticks %v, want one now", src.ticks)
		}
	})
}

func TestPacerNoGap(t *testing.T) {
	now := time.Now()
	src := &source{jobs: map[int][][]string{10: {{"a", "b"}}}, links: []int{1}, period: time.Hour, next: now}
	p := NewPacer[int, string](src, -time.Second, 1)
	for _, want := range []string{"a", "b"} {
		ready, wake := p.Poll(now)
		if !slices.Equal(ready, []string{want}) || !wake.Equal(now.Add(time.Hour)) {
			t.Fatalf("got %q, wake %v; want %q", ready, wake, want)
		}
	}
}

type item struct {
	link int
	name string
}

func TestDrain(t *testing.T) {
	items := []item{{1, "a0"}, {2, "b0"}, {1, "a1"}, {1, "a2"}, {2, "b1"}}
	linkOf := func(it *item) int { return it.link }
	run := func(ctx context.Context, stop <-chan struct{}, gap time.Duration) map[string]time.Duration {
		sent := make(map[string]time.Duration)
		start := time.Now()
		Drain(ctx, stop, gap, items, linkOf, func(it *item) { sent[it.name] = time.Since(start) })
		return sent
	}
	const gap = 55 * time.Millisecond
	t.Run("paced", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			got := run(context.Background(), nil, gap)
			want := map[string]time.Duration{"a0": 0, "b0": 0, "a1": gap, "b1": gap, "a2": 2 * gap}
			if len(got) != len(want) {
				t.Fatalf("sent %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("sent %v, want %v", got, want)
				}
			}
		})
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Three rounds within 30 ms: 10 ms apart.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			got := run(ctx, nil, gap)
			if len(got) != 5 || got["a2"] != 20*time.Millisecond {
				t.Fatalf("sent %v, want all, the last at 20ms", got)
			}
		})
	})
	t.Run("cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(gap+gap/2, cancel)
			got := run(ctx, nil, gap)
			if _, ok := got["a2"]; ok || len(got) != 4 {
				t.Fatalf("sent %v, want two rounds, none after the context ended", got)
			}
		})
	})
	t.Run("stopped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			stop := make(chan struct{})
			time.AfterFunc(gap/2, func() { close(stop) })
			got := run(context.Background(), stop, gap)
			if len(got) != 2 {
				t.Fatalf("sent %v, want the first round only", got)
			}
		})
	})
	t.Run("no gap", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			got := run(context.Background(), nil, -1)
			for k, v := range got {
				if v != 0 {
					t.Fatalf("%s sent at %v", k, v)
				}
			}
			if len(got) != 5 {
				t.Fatalf("sent %v", got)
			}
		})
	})
}
