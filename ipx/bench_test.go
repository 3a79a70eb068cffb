package ipx

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// The benchmarks decode frames of the same size: 108 bytes, that is an
// Ethernet II header, an IPX header and 64 bytes of data, against an
// Ethernet II header, IPv4 and UDP headers and 66 bytes of data.
const benchPayload = 64

func benchIPXFrame(b *testing.B) []byte {
	f := Frame{Type: FrameEthernetII, Dst: testEthDst, Src: testEthSrc,
		Packet: Packet{Header: testHeader, Payload: make([]byte, benchPayload)}}
	out, err := f.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func benchUDPFrame(b *testing.B) []byte {
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(testEthSrc[:]), DstMAC: net.HardwareAddr(testEthDst[:]), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 4001}
	udp.SetNetworkLayerForChecksum(ip)
	payload := gopacket.Payload(make([]byte, benchPayload+HeaderLen-20-8))
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, payload); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkHeaderDecode decodes a 30-byte IPX header.
func BenchmarkHeaderDecode(b *testing.B) {
	var h Header
	b.ReportAllocs()
	for b.Loop() {
		if err := h.UnmarshalBinary(testHeaderBytes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeaderAppend encodes a header into a buffer with room.
func BenchmarkHeaderAppend(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = testHeader.AppendBinary(buf[:0])
	}
}

// BenchmarkFrameDecode decodes a whole Ethernet frame, framing detection
// and packet length checks included (no checksum: 0xFFFF).
func BenchmarkFrameDecode(b *testing.B) {
	frame := benchIPXFrame(b)
	var f Frame
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := f.UnmarshalBinary(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrameDecodeChecksum is BenchmarkFrameDecode with a checksum
// to verify.
func BenchmarkFrameDecodeChecksum(b *testing.B) {
	frame := benchIPXFrame(b)
	PutChecksum(frame[ethHeaderLen:])
	var f Frame
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := f.UnmarshalBinary(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLayersDecode decodes the same frame through our gopacket
// layers with a DecodingLayerParser (EthernetIPX, IPX, Payload).
func BenchmarkLayersDecode(b *testing.B) {
	frame := benchIPXFrame(b)
	var (
		eth     EthernetIPX
		x       IPX
		payload gopacket.Payload
		decoded = make([]gopacket.LayerType, 0, 4)
	)
	p := gopacket.NewDecodingLayerParser(LayerTypeEthernetIPX, &eth, &x, &payload)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.DecodeLayers(frame, &decoded); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineGopacketUDP is baseline A: gopacket's
// DecodingLayerParser over Ethernet, IPv4, UDP on a frame of the same size.
func BenchmarkBaselineGopacketUDP(b *testing.B) {
	frame := benchUDPFrame(b)
	if len(frame) != len(benchIPXFrame(b)) {
		b.Fatalf("UDP frame %d bytes, IPX frame %d", len(frame), len(benchIPXFrame(b)))
	}
	var (
		eth     layers.Ethernet
		ip      layers.IPv4
		udp     layers.UDP
		payload gopacket.Payload
		decoded = make([]gopacket.LayerType, 0, 4)
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &udp, &payload)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.DecodeLayers(frame, &decoded); err != nil {
			b.Fatal(err)
		}
	}
}

// floorHeader and floorDecode are baseline B: the least work that turns
// 30 big-endian bytes into a struct, with no checks beyond the length.
type floorHeader struct {
	checksum, length uint16
	tc, typ          uint8
	dnet, snet       uint32
	dnode, snode     [6]byte
	dsocket, ssocket uint16
}

func floorDecode(h *floorHeader, b []byte) bool {
	if len(b) < 30 {
		return false
	}
	h.checksum = binary.BigEndian.Uint16(b[0:])
	h.length = binary.BigEndian.Uint16(b[2:])
	h.tc, h.typ = b[4], b[5]
	h.dnet = binary.BigEndian.Uint32(b[6:])
	copy(h.dnode[:], b[10:16])
	h.dsocket = binary.BigEndian.Uint16(b[16:])
	h.snet = binary.BigEndian.Uint32(b[18:])
	copy(h.snode[:], b[22:28])
	h.ssocket = binary.BigEndian.Uint16(b[28:])
	return true
}

// BenchmarkBaselineFloor is baseline B.
func BenchmarkBaselineFloor(b *testing.B) {
	var h floorHeader
	b.ReportAllocs()
	for b.Loop() {
		if !floorDecode(&h, testHeaderBytes) {
			b.Fatal("short")
		}
	}
}
