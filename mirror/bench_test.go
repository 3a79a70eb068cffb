package mirror_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// benchPair starts a pair, mirrored or alone, and waits until it serves.
func benchPair(b *testing.B, clients int, alone bool) *mirrortest.Pair {
	p := mirrortest.NewPair(b, mirrortest.PairConfig{Clients: clients, Alone: alone})
	if !p.WaitMirrored(10*time.Second) || !p.WaitRoutes(10*time.Second) {
		b.Fatal("pair not ready")
	}
	return p
}

// BenchmarkRequest measures one client's request latency, mirrored (the
// primary replies once the secondary holds the event) against the same
// engine unmirrored (a primary alone), on memlan. Compare the
// sub-benchmarks of one run. (A plain DOSBox tunnel cannot carry it: its
// relay forwards by the header's destination node, which for the
// internal network is no tunnel client.)
func BenchmarkRequest(b *testing.B) {
	{
		for _, mode := range []struct {
			name  string
			alone bool
		}{{"alone", true}, {"mirrored", false}} {
			b.Run(mode.name, func(b *testing.B) {
				p := benchPair(b, 1, mode.alone)
				c := p.Clients[0]
				req := mirrortest.Put("key", "value")
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				for range b.N {
					if _, err := c.Do(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu)
			})
		}
	}
}

// BenchmarkLatencyRatio measures one client's request latency mirrored
// and alone, as BenchmarkRequest does, but in alternating rounds of
// requests to two pairs that live side by side, so that both see the
// same machine: on a shared VM the speed drifts by a fifth between
// sub-benchmarks run one after the other. It reports each's time per
// request and their ratio; ns/op counts one request to each.
func BenchmarkLatencyRatio(b *testing.B) {
	alone, mirrored := benchPair(b, 1, true), benchPair(b, 1, false)
	req := mirrortest.Put("key", "value")
	// Rounds of 5,000 requests, about 20 ms each: shorter ones flatter
	// the ratio (see RatioBench).
	mirrortest.RatioBench(b, b.N, 5000, false,
		mirrortest.Repeat(alone.Clients[0], req), mirrortest.Repeat(mirrored.Clients[0], req))
}

// BenchmarkThroughput measures requests per second from 32 concurrent
// clients, mirrored against alone, on memlan.
func BenchmarkThroughput(b *testing.B) {
	const clients = 32
	{
		for _, mode := range []struct {
			name  string
			alone bool
		}{{"alone", true}, {"mirrored", false}} {
			b.Run(mode.name, func(b *testing.B) {
				p := benchPair(b, clients, mode.alone)
				b.ResetTimer()
				start, cpu := time.Now(), cpuTime()
				if err := mirrortest.Puts(context.Background(), p.Clients, b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
				reportCPU(b, cpu)
				if st := p.A.Stats(); st.Batches > 0 {
					b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/frame")
				}
			})
		}
	}
}

// BenchmarkThroughputRatio measures the requests per second of 32
// concurrent clients mirrored and alone, as BenchmarkThroughput does, but
// in alternating rounds on two pairs side by side (see
// BenchmarkLatencyRatio); ns/op counts one request to each.
func BenchmarkThroughputRatio(b *testing.B) {
	const clients = 32
	alone, mirrored := benchPair(b, clients, true), benchPair(b, clients, false)
	run := func(p *mirrortest.Pair) func(int) error {
		return func(n int) error { return mirrortest.Puts(context.Background(), p.Clients, n) }
	}
	// Rounds of 400 requests per client, about 40 ms each (see RatioBench).
	mirrortest.RatioBench(b, b.N, 400*clients, true, run(alone), run(mirrored))
	if st := mirrored.A.Stats(); st.Batches > 0 {
		b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/frame")
	}
}

// reportCPU reports the process's CPU time per request since cpu (both
// cores, every goroutine: clients and servers).
func reportCPU(b *testing.B, cpu time.Duration) {
	if d := cpuTime() - cpu; cpu > 0 && d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// TestFailoverTime crashes the primary 50 times, each time in a new pair
// with another seed, and measures on the fake clock the time from the
// crash to the client's first successful reply. The median and the worst
// stay within 1.3 times MSL timeout + probe timeout, and under 1 s.
func TestFailoverTime(t *testing.T) {
	const runs = 50
	var times []time.Duration
	for seed := range uint64(runs) {
		synctest.Test(t, func(t *testing.T) {
			p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: 1, Seed: seed})
			if !p.WaitMirrored(5*time.Second) || !p.WaitRoutes(5*time.Second) {
				t.Fatal("pair not ready")
			}
			c := p.Clients[0]
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.Do(ctx, mirrortest.Put("a", "1")); err != nil {
				t.Fatal(err)
			}
			// Crash at a point of the heartbeat cycle that the seed picks.
			time.Sleep(time.Duration(seed%10) * 10 * time.Millisecond)
			crash := time.Now()
			p.Crash(p.A)
			if _, err := c.Do(ctx, mirrortest.Put("b", "2")); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(crash))
		})
	}
	slices.Sort(times)
	bound := mirror.DefaultMSLTimeout + mirror.DefaultProbeTimeout
	median, worst := times[len(times)/2], times[len(times)-1]
	t.Logf("failover over %d crashes: median %v (%.2fx), worst %v (%.2fx) of MSL timeout + probe timeout %v",
		runs, median, float64(median)/float64(bound), worst, float64(worst)/float64(bound), bound)
	if float64(worst) > 1.3*float64(bound) || worst >= time.Second {
		t.Fatalf("worst failover %v, want within 1.3x %v and under 1 s", worst, bound)
	}
}
