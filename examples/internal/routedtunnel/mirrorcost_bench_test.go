package routedtunnel_test

// Issue 12, item 8: what mirroring costs a request, on the loopback UDP
// tunnel (and on memlan, through the same harness): one client's request
// latency (clients=1, ns/op) and the throughput of 32 concurrent clients
// (clients=32, req/s), mirrored against the same engine unmirrored (a
// primary alone). Compare the sub-benchmarks of one run.
//
//	go test ./examples/internal/routedtunnel -run '^$' -bench MirrorCost -benchtime 2s -count 3

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

func BenchmarkMirrorCost(b *testing.B) {
	for _, kind := range []string{"udp", "udp-tcpmsl", "memlan"} {
		for _, clients := range []int{1, 32} {
			for _, mode := range []string{"alone", "mirrored"} {
				b.Run(fmt.Sprintf("%s/clients=%d/%s", kind, clients, mode), func(b *testing.B) {
					p := newBenchPair(b, kind, mirrortest.NewKV(), clients)
					defer p.close()
					if mode == "mirrored" {
						sb := startBenchServer(b, p.net, peerNode, p.a.link.Node(), mirror.RoleSecondary, mirrortest.NewKV())
						defer sb.close()
						if !waitUntil(30*time.Second, func() bool { return mirroredBoth(p.a, sb) }) {
							b.Fatalf("not mirrored: A %+v, B %+v", p.a.srv.Status(), sb.srv.Status())
						}
					}
					b.ResetTimer()
					start := time.Now()
					if err := mirrortest.Puts(context.Background(), p.cls, b.N); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
					if st := p.a.srv.Stats(); st.Batches > 0 {
						b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/frame")
					}
				})
			}
		}
	}
}

// BenchmarkMirrorLatencyRatio measures one client's request latency
// mirrored and alone in alternating rounds, on two pairs side by side,
// so that both see the same machine (see mirror's BenchmarkLatencyRatio);
// ns/op counts one request to each.
//
//	go test ./examples/internal/routedtunnel -run '^$' -bench MirrorLatencyRatio -benchtime 2s -count 5
func BenchmarkMirrorLatencyRatio(b *testing.B) {
	for _, kind := range []string{"udp", "udp-tcpmsl", "memlan"} {
		b.Run(kind, func(b *testing.B) {
			alone := newBenchPair(b, kind, mirrortest.NewKV(), 1)
			defer alone.close()
			mirrored := newBenchPair(b, kind, mirrortest.NewKV(), 1)
			defer mirrored.close()
			sb := startBenchServer(b, mirrored.net, peerNode, mirrored.a.link.Node(), mirror.RoleSecondary, mirrortest.NewKV())
			defer sb.close()
			if !waitUntil(30*time.Second, func() bool { return mirroredBoth(mirrored.a, sb) }) {
				b.Fatalf("not mirrored: A %+v, B %+v", mirrored.a.srv.Status(), sb.srv.Status())
			}
			req := mirrortest.Put("key", "value")
			// Rounds of 500 requests, about 20 ms each on the tunnel:
			// shorter ones flatter the ratio (see RatioBench).
			mirrortest.RatioBench(b, b.N, 500, false, mirrortest.Repeat(alone.cls[0], req), mirrortest.Repeat(mirrored.cls[0], req))
		})
	}
}

// BenchmarkMirrorThroughputRatio measures the requests per second of 32
// concurrent clients mirrored and alone in alternating rounds, on two
// pairs side by side (see BenchmarkMirrorLatencyRatio).
//
//	go test ./examples/internal/routedtunnel -run '^$' -bench MirrorThroughputRatio -benchtime 2s -count 5
func BenchmarkMirrorThroughputRatio(b *testing.B) {
	const clients = 32
	for _, kind := range []string{"udp", "udp-tcpmsl", "memlan"} {
		b.Run(kind, func(b *testing.B) {
			alone := newBenchPair(b, kind, mirrortest.NewKV(), clients)
			defer alone.close()
			mirrored := newBenchPair(b, kind, mirrortest.NewKV(), clients)
			defer mirrored.close()
			sb := startBenchServer(b, mirrored.net, peerNode, mirrored.a.link.Node(), mirror.RoleSecondary, mirrortest.NewKV())
			defer sb.close()
			if !waitUntil(30*time.Second, func() bool { return mirroredBoth(mirrored.a, sb) }) {
				b.Fatalf("not mirrored: A %+v, B %+v", mirrored.a.srv.Status(), sb.srv.Status())
			}
			run := func(p *benchPair) func(int) error {
				return func(n int) error { return mirrortest.Puts(context.Background(), p.cls, n) }
			}
			// Rounds of 100 requests per client, about 35 ms each on the
			// tunnel (see RatioBench).
			mirrortest.RatioBench(b, b.N, 100*clients, true, run(alone), run(mirrored))
		})
	}
}
