package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/ipxkit/ipxkit/internal/tsharktest"
	"github.com/ipxkit/ipxkit/ipx"
)

var update = flag.Bool("update", false, "rewrite testdata/sample.pcap")

// fakeUpper marks the upper layer numbers this test registered itself,
// because the package owning them is not linked into the test binary.
var fakeUpper = map[int]bool{}

// fakeLayer stands in for an upper layer whose package is not linked in,
// so the Summarizer path is tested either way.
type fakeLayer struct {
	layers.BaseLayer
	lt gopacket.LayerType
}

func (f *fakeLayer) LayerType() gopacket.LayerType { return f.lt }
func (f *fakeLayer) Summary() string               { return fmt.Sprintf("fake %d bytes", len(f.Contents)) }

func TestMain(m *testing.M) {
	// Before any decoding (ipx caches what is registered on first use).
	for n := ipx.LayerNumberSPX; n <= ipx.LayerNumberSAP; n++ {
		if gopacket.LayerType(n).String() != strconv.Itoa(n) {
			continue // the real package is linked in through import_*.go
		}
		lt := gopacket.LayerType(n)
		gopacket.RegisterLayerType(n, gopacket.LayerTypeMetadata{
			Name: "fake" + strconv.Itoa(n),
			Decoder: gopacket.DecodeFunc(func(data []byte, p gopacket.PacketBuilder) error {
				p.AddLayer(&fakeLayer{BaseLayer: layers.BaseLayer{Contents: data}, lt: lt})
				return nil
			}),
		})
		fakeUpper[n] = true
	}
	os.Exit(m.Run())
}

var (
	nodeA  = ipx.Node{0x02, 0, 0, 0, 0, 0x01}
	nodeR  = ipx.Node{0x02, 0, 0, 0, 0, 0x02}
	nodeFS = ipx.Node{0, 0, 0, 0, 0, 0x01}
)

// sampleFrame is one frame of the sample capture and the line ipxdump
// prints for it, up to any upper-layer summary.
type sampleFrame struct {
	frame []byte
	line  string
	upper int // upper layer number whose summary follows, or 0
}

func mustFrame(ft ipx.FrameType, dst, src ipx.Node, h ipx.Header, payload []byte, checksum bool) []byte {
	p := ipx.Packet{Header: h, Payload: payload}
	b, err := p.MarshalBinary()
	if err != nil {
		panic(err)
	}
	if checksum {
		ipx.PutChecksum(b)
		p.Header.Checksum = binary.BigEndian.Uint16(b)
	}
	f := ipx.Frame{Type: ft, Dst: dst, Src: src, Packet: p}
	out, err := f.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return out
}

func sapName(s string) []byte {
	b := make([]byte, 48)
	copy(b, s)
	return b
}

// sampleFrames is a small NetWare conversation: RIP, SAP, SPX, NCP, in
// all four framings, plus one frame that is not IPX.
func sampleFrames() []sampleFrame {
	bcast := ipx.NodeBroadcast
	a := func(n ipx.Network, node ipx.Node, s ipx.Socket) ipx.Addr {
		return ipx.Addr{Net: n, Node: node, Socket: s}
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	fs := []sampleFrame{
		{
			frame: mustFrame(ipx.FrameEthernetII, bcast, nodeA, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypeRIP,
				Dst: a(1, bcast, ipx.SocketRIP), Src: a(1, nodeA, ipx.SocketRIP)},
				cat(be16(1), be32(0xFFFFFFFF), be16(0xFFFF), be16(0xFFFF)), false),
			line:  "12:00:00.000000 Ethernet_II 00000001:020000000001:0453 > 00000001:ffffffffffff:0453: RIP len 40 hops 0",
			upper: ipx.LayerNumberRIP,
		},
		{
			frame: mustFrame(ipx.FrameEthernetII, nodeA, nodeR, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypeRIP,
				Dst: a(1, nodeA, ipx.SocketRIP), Src: a(1, nodeR, ipx.SocketRIP)},
				cat(be16(2), be32(2), be16(1), be16(2), be32(0x00C0FFEE), be16(2), be16(3)), false),
			line:  "12:00:00.010000 Ethernet_II 00000001:020000000002:0453 > 00000001:020000000001:0453: RIP len 48 hops 0",
			upper: ipx.LayerNumberRIP,
		},
		{
			frame: mustFrame(ipx.Frame8022, bcast, nodeA, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypeUnknown,
				Dst: a(0, bcast, ipx.SocketSAP), Src: a(1, nodeA, 0x4001)},
				cat(be16(1), be16(4)), false),
			line:  "12:00:00.020000 802.2 00000001:020000000001:4001 > 00000000:ffffffffffff:0452: SAP len 34 hops 0",
			upper: ipx.LayerNumberSAP,
		},
		{
			frame: mustFrame(ipx.Frame8022, nodeA, nodeR, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypePEP,
				Dst: a(1, nodeA, 0x4001), Src: a(1, nodeR, ipx.SocketSAP)},
				cat(be16(2), be16(4), sapName("FS1"), be32(0x00C0FFEE), nodeFS[:], be16(0x0451), be16(2)), false),
			line:  "12:00:00.030000 802.2 00000001:020000000002:0452 > 00000001:020000000001:4001: SAP len 96 hops 0",
			upper: ipx.LayerNumberSAP,
		},
		{
			frame: mustFrame(ipx.FrameSNAP, bcast, nodeA, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypePEP,
				Dst: a(0, bcast, ipx.SocketSAP), Src: a(1, nodeA, 0x4002)},
				cat(be16(3), be16(4)), false),
			line:  "12:00:00.040000 SNAP 00000001:020000000001:4002 > 00000000:ffffffffffff:0452: SAP len 34 hops 0",
			upper: ipx.LayerNumberSAP,
		},
		{
			// SPX connect request: system + send ack, no destination id yet.
			frame: mustFrame(ipx.FrameEthernetII, nodeR, nodeA, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypeSPX,
				Dst: a(0x00C0FFEE, nodeFS, 0x8104), Src: a(1, nodeA, 0x4003)},
				cat([]byte{0xC0, 0x00}, be16(0x1234), be16(0xFFFF), be16(0), be16(0), be16(3)), false),
			line:  "12:00:00.050000 Ethernet_II 00000001:020000000001:4003 > 00c0ffee:000000000001:8104: SPX len 42 hops 0",
			upper: ipx.LayerNumberSPX,
		},
		{
			// SPX data with end of message, checksummed, one hop away.
			frame: mustFrame(ipx.FrameSNAP, nodeA, nodeR, ipx.Header{Checksum: 0, TransportControl: 1, Type: ipx.TypeSPX,
				Dst: a(1, nodeA, 0x4003), Src: a(0x00C0FFEE, nodeFS, 0x8104)},
				cat([]byte{0x50, 0x00}, be16(0x5678), be16(0x1234), be16(0), be16(1), be16(4), []byte("hello")), true),
			line:  "12:00:00.060000 SNAP 00c0ffee:000000000001:8104 > 00000001:020000000001:4003: SPX len 47 hops 1 cksum ok",
			upper: ipx.LayerNumberSPX,
		},
		{
			frame: mustFrame(ipx.Frame8023Raw, nodeR, nodeA, ipx.Header{Checksum: 0xFFFF, Type: ipx.TypeNCP,
				Dst: a(0x00C0FFEE, nodeFS, ipx.SocketNCP), Src: a(1, nodeA, 0x4004)},
				[]byte{0x11, 0x11, 0x00, 0xff, 0x00, 0x00}, false),
			line: "12:00:00.070000 802.3 00000001:020000000001:4004 > 00c0ffee:000000000001:0451: NCP len 36 hops 0",
		},
		{
			frame: mustFrame(ipx.FrameEthernetII, nodeA, nodeR, ipx.Header{Checksum: 0xFFFF, TransportControl: 2, Type: ipx.TypeEcho,
				Dst: a(1, nodeA, 0x4005), Src: a(0x00C0FFEE, nodeFS, ipx.SocketEcho)},
				[]byte("ping reply"), false),
			line: "12:00:00.080000 Ethernet_II 00c0ffee:000000000001:0002 > 00000001:020000000001:4005: echo len 40 hops 2",
		},
	}
	// A frame that is not IPX (an ARP request), skipped.
	arp := make([]byte, 60)
	copy(arp, bcast[:])
	copy(arp[6:], nodeA[:])
	arp[12], arp[13] = 0x08, 0x06
	fs = append(fs, sampleFrame{frame: arp})
	return fs
}

// sampleTime is the capture time of frame i.
func sampleTime(i int) time.Time {
	return time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 10 * time.Millisecond)
}

func writeSample(t *testing.T, path string, fs []sampleFrame) {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, f := range fs {
		ci := gopacket.CaptureInfo{Timestamp: sampleTime(i), CaptureLength: len(f.frame), Length: len(f.frame)}
		if err := w.WritePacket(ci, f.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkLines compares ipxdump's output with the frames' expected lines:
// each line starts with the expected text, and has a summary after it
// exactly when an upper layer is decoded.
func checkLines(t *testing.T, out string, fs []sampleFrame) {
	t.Helper()
	var want []sampleFrame
	for _, f := range fs {
		if f.line != "" {
			want = append(want, f)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, f := range want {
		got := lines[i]
		if !strings.HasPrefix(got, f.line) {
			t.Errorf("line %d:\n got %s\nwant %s", i, got, f.line)
			continue
		}
		rest := got[len(f.line):]
		switch {
		case f.upper == 0:
			if rest != "" {
				t.Errorf("line %d: unexpected suffix %q", i, rest)
			}
		case fakeUpper[f.upper]:
			if want := fmt.Sprintf(": fake %d bytes", len(f.frame)); !strings.HasPrefix(rest, ": fake ") {
				t.Errorf("line %d: suffix %q, want %q", i, rest, want)
			}
		default: // the real package's summary
			if !strings.HasPrefix(rest, ": ") || len(rest) < 4 || strings.HasPrefix(rest, ": [") {
				t.Errorf("line %d: suffix %q, want a summary", i, rest)
			}
		}
	}
}

func TestGenerateSample(t *testing.T) {
	path := filepath.Join("testdata", "sample.pcap")
	fs := sampleFrames()
	if *update {
		writeSample(t, path, fs)
	}
	fresh := filepath.Join(t.TempDir(), "sample.pcap")
	writeSample(t, fresh, fs)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./examples/ipxdump -run TestGenerateSample -update)", err)
	}
	want, _ := os.ReadFile(fresh)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale; run go test ./examples/ipxdump -run TestGenerateSample -update", path)
	}
}

func TestDumpSample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-r", filepath.Join("testdata", "sample.pcap")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	checkLines(t, stdout.String(), sampleFrames())
	if got := stderr.String(); got != "ipxdump: 9 IPX packets, 1 other frame skipped\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestDumpPcapng(t *testing.T) {
	fs := sampleFrames()
	path := filepath.Join(t.TempDir(), "x.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i, fr := range fs {
		ci := gopacket.CaptureInfo{Timestamp: sampleTime(i), CaptureLength: len(fr.frame), Length: len(fr.frame), InterfaceIndex: 0}
		if err := w.WritePacket(ci, fr.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-r", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	checkLines(t, stdout.String(), fs)
}

func TestDumpMalformedAndCount(t *testing.T) {
	fs := sampleFrames()
	good := fs[0].frame
	badLen := bytes.Clone(good)
	badLen[14+2], badLen[14+3] = 0, 20 // IPX length 20
	badSum := bytes.Clone(fs[6].frame)
	badSum[22+31] ^= 0xFF // a payload byte of the checksummed SPX frame
	short := good[:20]
	frames := [][]byte{badLen, badSum, short, good, good}
	path := tsharktest.WritePcap(t, frames)

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-r", path, "-c", "4"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("-c 4 printed %d lines:\n%s", len(lines), stdout.String())
	}
	wantSub := []string{
		"Ethernet_II malformed IPX: ipx: length 20 below header size",
		"cksum 0x",
		"Ethernet_II malformed IPX:",
		"Ethernet_II 00000001:020000000001:0453 > 00000001:ffffffffffff:0453: RIP len 40",
	}
	for i, w := range wantSub {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[1], "SPX len 47 hops 1 cksum 0x") || !strings.Contains(lines[1], " bad") {
		t.Errorf("line 1 = %q, want the checksum marked bad", lines[1])
	}
	// The summary line comes whatever was skipped.
	if got := stderr.String(); got != "ipxdump: 4 IPX packets, 0 other frames skipped\n" {
		t.Errorf("stderr %q", got)
	}
}

// TestDumpUpperError prints a SAP packet too short for its layer: the
// summary is replaced by the layer's decode error (or, without the sap
// package, the fake layer's summary).
func TestDumpUpperError(t *testing.T) {
	h := ipx.Header{Checksum: ipx.ChecksumNone, Type: ipx.TypeUnknown,
		Dst: ipx.Addr{Net: 1, Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP},
		Src: ipx.Addr{Net: 1, Node: nodeA, Socket: 0x4001}}
	frame := mustFrame(ipx.FrameEthernetII, ipx.NodeBroadcast, nodeA, h, []byte{0}, false)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-r", tsharktest.WritePcap(t, [][]byte{frame})}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := strings.TrimSuffix(stdout.String(), "\n")
	prefix := "00:00:00.000000 Ethernet_II 00000001:020000000001:4001 > 00000001:ffffffffffff:0452: SAP len 31 hops 0: "
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	rest := got[len(prefix):]
	if fakeUpper[ipx.LayerNumberSAP] {
		if rest != "fake 1 bytes" {
			t.Errorf("suffix %q, want the fake summary", rest)
		}
	} else if !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
		t.Errorf("suffix %q, want [decode error]", rest)
	}
}

func TestUsageAndErrors(t *testing.T) {
	notIPX := filepath.Join(t.TempDir(), "tr.pcap")
	{
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if err := w.WriteFileHeader(65535, layers.LinkTypeTokenRing); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(notIPX, buf.Bytes(), 0o644)
	}
	junk := filepath.Join(t.TempDir(), "junk.pcap")
	os.WriteFile(junk, []byte("this is not a capture file"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string // on stderr
	}{
		{"help", []string{"-h"}, 0, "usage: ipxdump"},
		{"no source", nil, 2, "ipxdump: give exactly one of -r FILE and -ether IFACE\nRun 'ipxdump -h' for usage.\n"},
		{"both sources", []string{"-r", "x", "-ether", "lo"}, 2, "exactly one"},
		{"extra argument", []string{"-r", "x", "y"}, 2, "unexpected argument"},
		{"bad flag", []string{"-z"}, 2, "ipxdump: flag provided but not defined: -z\n"},
		{"negative count", []string{"-r", "x", "-c", "-1"}, 2, "-c -1: must not be negative"},
		{"missing file", []string{"-r", filepath.Join(t.TempDir(), "none.pcap")}, 1, "no such file"},
		{"not a capture", []string{"-r", junk}, 1, junk},
		{"link type not read", []string{"-r", notIPX}, 1, "link type"},
		{"no such interface", []string{"-ether", "ipxdump-none0"}, 1, "ipxdump-none0"},
		{"no such interface, -i", []string{"-i", "ipxdump-none0"}, 1, "ipxdump-none0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
			if tt.code == 2 && strings.Count(stderr.String(), "ipxdump:") != 1 {
				t.Errorf("usage error told more than once: %q", stderr.String())
			}
			if tt.code == 1 && !strings.Contains(stderr.String(), "ipxdump: 0 IPX packets, 0 other frames skipped\n") {
				t.Errorf("no summary line: %q", stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

// TestTruncated reads captures cut inside a record header and inside a
// record: both are reported as truncated, after the packets before.
func TestTruncated(t *testing.T) {
	whole, err := os.ReadFile(filepath.Join("testdata", "sample.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	first := 24 + 16 + len(sampleFrames()[0].frame) // file header, one record
	for _, cut := range []struct {
		name string
		n    int
	}{{"in a record header", first + 5}, {"in a record", first + 16 + 10}} {
		t.Run(cut.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.pcap")
			os.WriteFile(path, whole[:cut.n], 0o644)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"-r", path}, &stdout, &stderr); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			want := "ipxdump: 1 IPX packet, 0 other frames skipped; capture truncated after 1 record (" + path + " ends inside a record)\n"
			if stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
			if strings.Count(stdout.String(), "\n") != 1 {
				t.Errorf("stdout %q, want the first packet", stdout.String())
			}
		})
	}
}

// tunnelPacket is an IPX packet as the DOSBox tunnel carries it: the
// whole packet, checksum off, in one UDP datagram.
func tunnelPacket(t *testing.T, h ipx.Header, payload []byte) []byte {
	t.Helper()
	p := ipx.Packet{Header: h, Payload: payload}
	p.Header.Checksum = ipx.ChecksumNone
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// udpFrame wraps payload in UDP from sport to dport over IPv4, in
// Ethernet when eth is set, else as a raw IP packet.
func udpFrame(t *testing.T, eth bool, sport, dport layers.UDPPort, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: []byte{192, 168, 1, 10}, DstIP: []byte{192, 168, 1, 1}}
	u := &layers.UDP{SrcPort: sport, DstPort: dport}
	u.SetNetworkLayerForChecksum(ip)
	ls := []gopacket.SerializableLayer{ip, u, gopacket.Payload(payload)}
	if eth {
		ls = append([]gopacket.SerializableLayer{&layers.Ethernet{
			SrcMAC: nodeA.HardwareAddr(), DstMAC: nodeR.HardwareAddr(), EthernetType: layers.EthernetTypeIPv4}}, ls...)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTunnelCapture decodes a DOSBox tunnel captured on a port other than
// 213, in Ethernet and raw IP captures: a registration and a SAP query
// sent with packet type 0. Other UDP traffic is skipped.
func TestTunnelCapture(t *testing.T) {
	reg := tunnelPacket(t, ipx.Header{Dst: ipx.Addr{Socket: 2}, Src: ipx.Addr{Socket: 2}}, nil)
	query := tunnelPacket(t, ipx.Header{Type: ipx.TypeUnknown,
		Dst: ipx.Addr{Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP},
		Src: ipx.Addr{Node: ipx.Node{0xc0, 0xa8, 1, 10, 0x4e, 0x20}, Socket: 0x4001}},
		[]byte{0, 1, 0, 4})
	dns := []byte("not ipx, a DNS query perhaps, long enough to be looked at")
	for _, tt := range []struct {
		name string
		lt   layers.LinkType
		eth  bool
	}{{"ethernet", layers.LinkTypeEthernet, true}, {"raw IP", layers.LinkTypeRaw, false}} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := pcapgo.NewWriter(&buf)
			if err := w.WriteFileHeader(65535, tt.lt); err != nil {
				t.Fatal(err)
			}
			for i, f := range [][]byte{
				udpFrame(t, tt.eth, 20000, 19900, reg),
				udpFrame(t, tt.eth, 20000, 19900, query),
				udpFrame(t, tt.eth, 20001, 53, dns),
			} {
				ci := gopacket.CaptureInfo{Timestamp: sampleTime(i), CaptureLength: len(f), Length: len(f)}
				if err := w.WritePacket(ci, f); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "tunnel.pcap")
			os.WriteFile(path, buf.Bytes(), 0o644)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"-r", path}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			want := []string{
				"12:00:00.000000 UDP 192.168.1.10:20000 > 192.168.1.1:19900 00000000:000000000000:0002 > 00000000:000000000000:0002: unknown len 30 hops 0\n",
				"12:00:00.010000 UDP 192.168.1.10:20000 > 192.168.1.1:19900 00000000:c0a8010a4e20:4001 > 00000000:ffffffffffff:0452: SAP len 34 hops 0: SAP general query type 0004\n",
			}
			if got := stdout.String(); got != strings.Join(want, "") {
				t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, ""))
			}
			if got := stderr.String(); got != "ipxdump: 2 IPX packets, 1 other frame skipped\n" {
				t.Errorf("stderr %q", got)
			}
		})
	}
}
