package mirrortest

import (
	"errors"
	"slices"
	"testing"
)

// fakeB records what RatioBench reports.
type fakeB struct {
	metrics map[string]float64
	fatal   []any
}

func (b *fakeB) ResetTimer() {}
func (b *fakeB) Fatal(args ...any) {
	b.fatal = args
}
func (b *fakeB) ReportMetric(n float64, unit string) {
	if b.metrics == nil {
		b.metrics = map[string]float64{}
	}
	b.metrics[unit] = n
}

// TestRatioBenchRounds checks that RatioBench runs exactly n operations
// of each system, in alternating rounds of at most round, the last one
// cut short, and reports both systems and their ratio.
func TestRatioBenchRounds(t *testing.T) {
	for _, tc := range []struct {
		n, round int
		want     []int // round sizes, each run by alone then mirrored
	}{
		{n: 10, round: 4, want: []int{4, 4, 2}},
		{n: 8, round: 4, want: []int{4, 4}},
		{n: 3, round: 100, want: []int{3}},
		{n: 1, round: 1, want: []int{1}},
	} {
		var calls []string
		var sizes []int
		run := func(name string) func(int) error {
			return func(k int) error {
				calls = append(calls, name)
				if name == "alone" {
					sizes = append(sizes, k)
				}
				return nil
			}
		}
		for _, perSecond := range []bool{false, true} {
			calls, sizes = nil, nil
			b := new(fakeB)
			RatioBench(b, tc.n, tc.round, perSecond, run("alone"), run("mirrored"))
			if !slices.Equal(sizes, tc.want) {
				t.Errorf("n %d round %d: rounds %v, want %v", tc.n, tc.round, sizes, tc.want)
			}
			for i, c := range calls {
				if want := []string{"alone", "mirrored"}[i%2]; c != want {
					t.Fatalf("n %d round %d: call %d ran %s, want %s (calls %v)", tc.n, tc.round, i, c, want, calls)
				}
			}
			units := []string{"alone-ns/req", "mirrored-ns/req", "ratio"}
			if perSecond {
				units = []string{"alone-req/s", "mirrored-req/s", "ratio"}
			}
			for _, u := range units {
				if _, ok := b.metrics[u]; !ok {
					t.Errorf("n %d round %d perSecond %v: no %q metric in %v", tc.n, tc.round, perSecond, u, b.metrics)
				}
			}
		}
	}
}

// TestRatioBenchFails checks that a failing operation fails the
// benchmark.
func TestRatioBenchFails(t *testing.T) {
	boom := errors.New("boom")
	b := new(fakeB)
	ok := func(int) error { return nil }
	RatioBench(b, 4, 2, false, ok, func(int) error { return boom })
	if len(b.fatal) == 0 || b.fatal[0] != boom {
		t.Fatalf("Fatal got %v, want the mirrored system's error", b.fatal)
	}
}
