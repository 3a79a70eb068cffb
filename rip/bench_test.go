package rip

import (
	"runtime"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

const benchRoutes = 10000

// fullUpdate is a full table of benchRoutes routes as 200 packets' worth
// of entries.
func fullUpdate(hops uint16) []Entry {
	e := make([]Entry, benchRoutes)
	for i := range e {
		e[i] = Entry{Network: ipx.Network(0x10000 + i), Hops: hops, Ticks: hops + 1}
	}
	return e
}

// applyPackets applies entries in packets of MaxEntries, as they arrive.
func applyPackets(tb *Table, now time.Time, entries []Entry, events []Event) []Event {
	for p := range Split(OpResponse, entries) {
		events = tb.Apply(now, 1, nodeA, p.Entries, events[:0])
	}
	return events
}

// BenchmarkApplyFullUpdate applies a full update of 10 000 routes: the
// periodic refresh of known routes (steady state), a first update into an
// empty table, and a baseline that only stores the same entries in a plain
// map, the least any table must do.
func BenchmarkApplyFullUpdate(b *testing.B) {
	entries := fullUpdate(2)
	b.Run("baseline-map", func(b *testing.B) {
		m := make(map[ipx.Network]Entry, benchRoutes)
		b.ReportAllocs()
		for b.Loop() {
			for p := range Split(OpResponse, entries) {
				for _, e := range p.Entries {
					m[e.Network] = e
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRoutes), "ns/route")
	})
	b.Run("refresh", func(b *testing.B) {
		tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
		events := make([]Event, 0, MaxEntries)
		applyPackets(tb, t0, entries, events)
		b.ReportAllocs()
		for b.Loop() {
			events = applyPackets(tb, t0, entries, events)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRoutes), "ns/route")
	})
	b.Run("metric-change", func(b *testing.B) {
		tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
		other := fullUpdate(3)
		events := make([]Event, 0, MaxEntries)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if i%2 == 0 {
				events = applyPackets(tb, t0, other, events)
			} else {
				events = applyPackets(tb, t0, entries, events)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRoutes), "ns/route")
	})
	b.Run("into-empty", func(b *testing.B) {
		events := make([]Event, 0, MaxEntries)
		b.ReportAllocs()
		for b.Loop() {
			tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
			events = applyPackets(tb, t0, entries, events)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRoutes), "ns/route")
	})
}

// BenchmarkLookupRoute looks up a next hop in a table of 10 000 routes,
// against ipx.StaticRoutes holding the same routes (a map under an
// RWMutex) as baseline.
func BenchmarkLookupRoute(b *testing.B) {
	entries := fullUpdate(2)
	b.Run("baseline-static", func(b *testing.B) {
		var s ipx.StaticRoutes
		for _, e := range entries {
			s.Set(e.Network, ipx.Route{Link: 1, NextHop: nodeA, Hops: e.Hops, Ticks: e.Ticks})
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := s.LookupRoute(entries[i%benchRoutes].Network); !ok {
				b.Fatal("no route")
			}
			i++
		}
	})
	b.Run("table", func(b *testing.B) {
		tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
		applyPackets(tb, t0, entries, nil)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := tb.LookupRoute(entries[i%benchRoutes].Network); !ok {
				b.Fatal("no route")
			}
			i++
		}
	})
	b.Run("table-parallel", func(b *testing.B) {
		tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
		applyPackets(tb, t0, entries, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				tb.LookupRoute(entries[i%benchRoutes].Network)
				i++
			}
		})
	})
}

// heapPerRoute measures the live heap that fill adds, per route.
func heapPerRoute(fill func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(after.HeapAlloc-before.HeapAlloc) / benchRoutes
}

// BenchmarkBytesPerRoute reports the memory a table of 10 000 routes
// holds per route, against a plain map of ipx.Route as baseline. The
// time per op is that of building the table.
func BenchmarkBytesPerRoute(b *testing.B) {
	entries := fullUpdate(2)
	b.Run("baseline-map", func(b *testing.B) {
		var per float64
		for b.Loop() {
			per = heapPerRoute(func() any {
				m := make(map[ipx.Network]ipx.Route)
				for _, e := range entries {
					m[e.Network] = ipx.Route{Link: 1, NextHop: nodeA, Hops: e.Hops, Ticks: e.Ticks}
				}
				return m
			})
		}
		b.ReportMetric(per, "B/route")
	})
	b.Run("table", func(b *testing.B) {
		var per float64
		for b.Loop() {
			per = heapPerRoute(func() any {
				tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
				applyPackets(tb, t0, entries, nil)
				return tb
			})
		}
		b.ReportMetric(per, "B/route")
	})
}

// BenchmarkCodec encodes and decodes a full 50-entry response.
func BenchmarkCodec(b *testing.B) {
	p := Packet{Operation: OpResponse, Entries: fullEntries()}
	wire, _ := p.MarshalBinary()
	buf := make([]byte, 0, MaxLen)
	dec := Packet{Entries: make([]Entry, 0, MaxEntries)}
	b.Run("append", func(b *testing.B) {
		b.SetBytes(int64(len(wire)))
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = p.AppendBinary(buf[:0])
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(wire)))
		b.ReportAllocs()
		for b.Loop() {
			if err := dec.UnmarshalBinary(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRatio interleaves the table and its baseline in every
// iteration and reports table time / baseline time, which stays
// meaningful on a loaded machine where separate runs drift apart:
// refresh-vs-map is a full 10 000-route refresh against storing the same
// entries in a plain map; lookup-vs-static is 10 000 next-hop lookups
// against ipx.StaticRoutes.
func BenchmarkRatio(b *testing.B) {
	entries := fullUpdate(2)
	tb, _ := NewTable(TableConfig{MaxPerNeighbour: DefaultMaxRoutes})
	events := make([]Event, 0, MaxEntries)
	applyPackets(tb, t0, entries, events)
	m := make(map[ipx.Network]Entry, benchRoutes)
	var static ipx.StaticRoutes
	for _, e := range entries {
		static.Set(e.Network, ipx.Route{Link: 1, NextHop: nodeA, Hops: e.Hops, Ticks: e.Ticks})
	}
	b.Run("refresh-vs-map", func(b *testing.B) {
		var base, table time.Duration
		b.ReportAllocs()
		for b.Loop() {
			s := time.Now()
			for p := range Split(OpResponse, entries) {
				for _, e := range p.Entries {
					m[e.Network] = e
				}
			}
			base += time.Since(s)
			s = time.Now()
			events = applyPackets(tb, t0, entries, events)
			table += time.Since(s)
		}
		b.ReportMetric(float64(table)/float64(base), "ratio")
		b.ReportMetric(float64(table.Nanoseconds())/float64(b.N*benchRoutes), "table-ns/route")
		b.ReportMetric(float64(base.Nanoseconds())/float64(b.N*benchRoutes), "map-ns/route")
	})
	b.Run("lookup-vs-static", func(b *testing.B) {
		var base, table time.Duration
		b.ReportAllocs()
		for b.Loop() {
			s := time.Now()
			for _, e := range entries {
				static.LookupRoute(e.Network)
			}
			base += time.Since(s)
			s = time.Now()
			for _, e := range entries {
				tb.LookupRoute(e.Network)
			}
			table += time.Since(s)
		}
		b.ReportMetric(float64(table)/float64(base), "ratio")
		b.ReportMetric(float64(table.Nanoseconds())/float64(b.N*benchRoutes), "table-ns/lookup")
		b.ReportMetric(float64(base.Nanoseconds())/float64(b.N*benchRoutes), "static-ns/lookup")
	})
}
