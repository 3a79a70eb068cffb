package deadline

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fired reports whether ch is closed, after letting the bubble's timers
// that are due run.
func fired(ch <-chan struct{}) bool {
	synctest.Wait()
	return isClosed(ch)
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *Deadline)
	}{
		{"unset never fires", func(t *testing.T, d *Deadline) {
			ch := d.Wait()
			time.Sleep(24 * time.Hour)
			if fired(ch) || d.Exceeded() {
				t.Fatal("unset deadline fired")
			}
		}},
		{"set fires at its time", func(t *testing.T, d *Deadline) {
			start := time.Now()
			d.Set(start.Add(time.Second))
			ch := d.Wait()
			time.Sleep(time.Second - time.Nanosecond)
			if fired(ch) {
				t.Fatal("fired early")
			}
			<-ch
			if got := time.Since(start); got != time.Second {
				t.Fatalf("fired after %v, want 1s", got)
			}
			if !d.Exceeded() {
				t.Fatal("Exceeded false after firing")
			}
		}},
		{"extend while waiting", func(t *testing.T, d *Deadline) {
			start := time.Now()
			d.Set(start.Add(time.Second))
			ch := d.Wait()
			time.Sleep(500 * time.Millisecond)
			d.Set(start.Add(3 * time.Second))
			time.Sleep(time.Second)
			if fired(ch) {
				t.Fatal("old time fired after extension")
			}
			<-ch // the waiter's channel carries the new time
			if got := time.Since(start); got != 3*time.Second {
				t.Fatalf("fired after %v, want 3s", got)
			}
		}},
		{"shorten while waiting", func(t *testing.T, d *Deadline) {
			start := time.Now()
			d.Set(start.Add(time.Hour))
			ch := d.Wait()
			d.Set(start.Add(time.Second))
			<-ch
			if got := time.Since(start); got != time.Second {
				t.Fatalf("fired after %v, want 1s", got)
			}
		}},
		{"clear while waiting", func(t *testing.T, d *Deadline) {
			d.Set(time.Now().Add(time.Second))
			ch := d.Wait()
			d.Set(time.Time{})
			time.Sleep(time.Hour)
			if fired(ch) || d.Exceeded() {
				t.Fatal("cleared deadline fired")
			}
		}},
		{"past deadline fires at once", func(t *testing.T, d *Deadline) {
			d.Set(time.Now().Add(-time.Second))
			if !isClosed(d.Wait()) {
				t.Fatal("past deadline not exceeded at once")
			}
			d.Set(time.Now()) // now is not in the future either
			if !d.Exceeded() {
				t.Fatal("deadline of now not exceeded")
			}
		}},
		{"clear after firing", func(t *testing.T, d *Deadline) {
			d.Set(time.Now().Add(-time.Second))
			old := d.Wait()
			d.Set(time.Time{})
			if d.Exceeded() {
				t.Fatal("exceeded after clearing")
			}
			if !isClosed(old) {
				t.Fatal("a closed channel reopened")
			}
		}},
		{"rearm after firing", func(t *testing.T, d *Deadline) {
			d.Set(time.Now().Add(time.Second))
			<-d.Wait()
			start := time.Now()
			d.Set(start.Add(2 * time.Second))
			ch := d.Wait()
			if fired(ch) {
				t.Fatal("rearmed deadline exceeded at once")
			}
			<-ch
			if got := time.Since(start); got != 2*time.Second {
				t.Fatalf("fired after %v, want 2s", got)
			}
		}},
		{"set after the timer fired unobserved", func(t *testing.T, d *Deadline) {
			d.Set(time.Now().Add(time.Second))
			time.Sleep(2 * time.Second) // fires; nobody waits
			d.Set(time.Now().Add(time.Second))
			if d.Exceeded() {
				t.Fatal("new deadline exceeded at once")
			}
			time.Sleep(time.Second)
			if !fired(d.Wait()) {
				t.Fatal("new deadline did not fire")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { tt.run(t, New()) })
		})
		t.Run(tt.name+"/zero value", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { tt.run(t, new(Deadline)) })
		})
	}
}

// TestConcurrent sets and waits from several goroutines at once, for the
// race detector.
func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d Deadline
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				for j := range 50 {
					d.Set(time.Now().Add(time.Duration(i*j%7-3) * time.Millisecond))
					select {
					case <-d.Wait():
					case <-time.After(time.Millisecond):
					}
				}
			})
		}
		wg.Wait()
		d.Set(time.Time{})
		if d.Exceeded() {
			t.Fatal("exceeded after clearing")
		}
	})
}
