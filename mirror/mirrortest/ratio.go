package mirrortest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Doer sends a request and waits for its reply: a mirror.Client.
type Doer interface {
	Do(ctx context.Context, req []byte) ([]byte, error)
}

// Puts has the clients put n values in all, shared out evenly, each
// under a key of its own, all clients at once; it returns the first
// error.
func Puts[C Doer](ctx context.Context, cls []C, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(cls))
	for i, c := range cls {
		each := n / len(cls)
		if i < n%len(cls) {
			each++
		}
		wg.Go(func() {
			for j := range each {
				if _, err := c.Do(ctx, Put(fmt.Sprint("k", i), fmt.Sprint(j))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// B is what RatioBench needs of a *testing.B (this package is linked
// into the example programs, which need no testing package).
type B interface {
	ResetTimer()
	Fatal(args ...any)
	ReportMetric(n float64, unit string)
}

// Repeat returns a function that sends req n times, one after the
// other, for RatioBench.
func Repeat[C Doer](c C, req []byte) func(n int) error {
	return func(n int) error {
		for range n {
			if _, err := c.Do(context.Background(), req); err != nil {
				return err
			}
		}
		return nil
	}
}

// RatioBench measures n operations (b.N) of each of two systems, unmirrored
// (alone) and mirrored, in alternating rounds of up to round operations,
// and reports the time per operation of each and their ratio (throughput,
// with perSecond, as requests per second and alone's time over
// mirrored's). Two systems compared side by side see the same machine,
// whose speed on a shared VM drifts by a fifth between benchmarks run
// one after the other. run performs n operations on one system.
//
// Rounds must be long, tens of milliseconds: each switch from one system
// to the other costs the round that follows it (caches cold, the other
// system's timers and leftover work), and that cost weighs more in the
// shorter alone round, which flatters the ratio. Measured on memlan,
// rounds of 100 one-client requests gave a latency ratio of 2.10 where
// rounds of 2,000 and 10,000 both gave 2.20, and the two systems
// benchmarked apart 2.26.
func RatioBench(b B, n, round int, perSecond bool, alone, mirrored func(n int) error) {
	var ta, tm time.Duration
	b.ResetTimer()
	done := 0
	for done < n {
		k := min(round, n-done)
		for _, s := range []struct {
			run func(int) error
			t   *time.Duration
		}{{alone, &ta}, {mirrored, &tm}} {
			start := time.Now()
			if err := s.run(k); err != nil {
				b.Fatal(err)
			}
			*s.t += time.Since(start)
		}
		done += k
	}
	if done == 0 {
		return
	}
	if perSecond {
		b.ReportMetric(float64(done)/ta.Seconds(), "alone-req/s")
		b.ReportMetric(float64(done)/tm.Seconds(), "mirrored-req/s")
		b.ReportMetric(float64(ta)/float64(tm), "ratio")
		return
	}
	b.ReportMetric(float64(ta.Nanoseconds())/float64(done), "alone-ns/req")
	b.ReportMetric(float64(tm.Nanoseconds())/float64(done), "mirrored-ns/req")
	b.ReportMetric(float64(tm)/float64(ta), "ratio")
}
