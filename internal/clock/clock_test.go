package clock

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestNowTracksTimeNow: Now agrees with time.Now to within the time
// between the reads, and never goes backwards.
func TestNowTracksTimeNow(t *testing.T) {
	prev := Now()
	for range 1000 {
		before := time.Now()
		n := Now()
		after := time.Now()
		if n.Before(before) || n.After(after) {
			t.Fatalf("Now %v outside [%v, %v]", n, before, after)
		}
		if n.Before(prev) {
			t.Fatalf("Now went back from %v to %v", prev, n)
		}
		prev = n
	}
}

// TestNowInBubble: inside a synctest bubble Now is the fake clock, and
// differences between Now and time.Now readings measure fake time.
func TestNowInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start, startSince := Now(), Since()
		if !start.Equal(time.Now()) {
			t.Fatalf("Now %v, time.Now %v", start, time.Now())
		}
		time.Sleep(3 * time.Second)
		if d := Now().Sub(start); d != 3*time.Second {
			t.Fatalf("Now advanced %v over a 3s sleep", d)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("time.Since(Now()) = %v after a 3s sleep", d)
		}
		if d := Since() - startSince; d != 3*time.Second {
			t.Fatalf("Since advanced %v over a 3s sleep", d)
		}
		deadline := Now().Add(time.Second)
		if !time.Now().Before(deadline) {
			t.Fatal("a deadline a second ahead has passed")
		}
		time.Sleep(time.Second)
		if time.Now().Before(deadline) {
			t.Fatal("a deadline a second ahead has not passed a second later")
		}
	})
}

// BenchmarkNow compares Now with time.Now; see BENCHMARKS.md.
func BenchmarkNow(b *testing.B) {
	var sink time.Time
	b.Run("time.Now", func(b *testing.B) {
		for range b.N {
			sink = time.Now()
		}
	})
	b.Run("clock.Now", func(b *testing.B) {
		for range b.N {
			sink = Now()
		}
	})
	_ = sink
}
