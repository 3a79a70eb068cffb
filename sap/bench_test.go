package sap

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/google/gopacket"

	"github.com/ipxkit/ipxkit/ipx"
)

func fullResponse(b *testing.B) (*Message, []byte) {
	b.Helper()
	m := &Message{Op: OpGeneralResponse}
	for i := range MaxEntries {
		m.Entries = append(m.Entries, Entry{
			Type: TypeFileServer, Name: MustName(fmt.Sprintf("SERVER-NUMBER-%02d-OF-THE-ENGINEERING-DEPT", i)),
			Addr: ipx.Addr{Net: ipx.Network(i + 1), Node: node1, Socket: ipx.SocketNCP}, Hops: uint16(i),
		})
	}
	wire, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return m, wire
}

// BenchmarkDecode decodes a full 7-entry response (450 bytes) with name
// validation.
func BenchmarkDecode(b *testing.B) {
	_, wire := fullResponse(b)
	m := NewMessage()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.UnmarshalBinary(wire); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend encodes the same response into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	m, wire := fullResponse(b)
	buf := make([]byte, 0, len(wire))
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeLayer decodes it through gopacket's DecodingLayerParser.
func BenchmarkDecodeLayer(b *testing.B) {
	_, wire := fullResponse(b)
	var s SAP
	parser := gopacket.NewDecodingLayerParser(LayerTypeSAP, &s)
	decoded := make([]gopacket.LayerType, 0, 1)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if err := parser.DecodeLayers(wire, &decoded); err != nil {
			b.Fatal(err)
		}
	}
}

// rawEntryFields is the floor: the fields copied out with no checks.
type rawEntryFields struct {
	typ    uint16
	name   [48]byte
	net    uint32
	node   [6]byte
	socket uint16
	hops   uint16
}

// rawDecode copies the fields out by hand without validating anything.
//
//go:noinline
func rawDecode(wire []byte, es *[MaxEntries]rawEntryFields) {
	body := wire[2:]
	n := len(body) / EntryLen
	for i := 0; i < n; i++ {
		e := body[i*EntryLen:]
		es[i].typ = binary.BigEndian.Uint16(e)
		copy(es[i].name[:], e[2:50])
		es[i].net = binary.BigEndian.Uint32(e[50:])
		copy(es[i].node[:], e[54:60])
		es[i].socket = binary.BigEndian.Uint16(e[60:])
		es[i].hops = binary.BigEndian.Uint16(e[62:])
	}
}

// BenchmarkBaselineRaw decodes the same bytes into fixed structs by hand,
// without validating anything: the floor our decoder is compared with.
func BenchmarkBaselineRaw(b *testing.B) {
	_, wire := fullResponse(b)
	var es [MaxEntries]rawEntryFields
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		rawDecode(wire, &es)
	}
}

// BenchmarkDecodeRatio alternates our decoder and the floor in every
// iteration, timing each, and reports their ratio: machine load hits both
// alike.
func BenchmarkDecodeRatio(b *testing.B) {
	_, wire := fullResponse(b)
	var es [MaxEntries]rawEntryFields
	m := NewMessage()
	const batch = 64
	var ours, floor time.Duration
	for b.Loop() {
		start := time.Now()
		for range batch {
			if err := m.UnmarshalBinary(wire); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range batch {
			rawDecode(wire, &es)
		}
		ours += mid.Sub(start)
		floor += time.Since(mid)
	}
	b.ReportMetric(float64(ours)/float64(floor), "decode/floor")
}

func benchEntries(n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Type: TypeFileServer, Name: MustName(fmt.Sprintf("SERVER-%05d", i)), Addr: ipx.Addr{Net: ipx.Network(i), Node: node1, Socket: ipx.SocketNCP}, Hops: 2}
	}
	return es
}

// BenchmarkTableRefresh applies a periodic broadcast that changes nothing
// to a table of 1000 services, per entry.
func BenchmarkTableRefresh(b *testing.B) {
	es := benchEntries(1000)
	tab, _ := NewTable(TableConfig{})
	for _, e := range es {
		tab.Update(t0, e, 1, nodeA)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := tab.Update(t0, es[i%len(es)], 1, nodeA); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBaselineMap stores the same entries in a plain map keyed the
// same way, with no lock, origin rules or counters: the floor for a table.
func BenchmarkBaselineMap(b *testing.B) {
	es := benchEntries(1000)
	m := make(map[key]Service, len(es))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := es[i%len(es)]
		m[key{e.Type, e.Name}] = Service{Entry: e, Link: 1, From: nodeA, Updated: t0}
		i++
	}
}
