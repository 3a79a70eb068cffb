package ipx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
)

var (
	testEthDst = Node{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	testEthSrc = Node{0x02, 0x00, 0x00, 0x00, 0x00, 0x09}
)

// handFrame builds a frame byte by byte, without the Frame encoder, for
// framing t around the encoded packet pkt, unpadded.
func handFrame(t FrameType, dst, src Node, pkt []byte) []byte {
	b := append(append([]byte(nil), dst[:]...), src[:]...)
	switch t {
	case FrameEthernetII:
		b = append(b, 0x81, 0x37)
	case Frame8023Raw:
		b = binary.BigEndian.AppendUint16(b, uint16(len(pkt)))
	case Frame8022:
		b = binary.BigEndian.AppendUint16(b, uint16(len(pkt)+3))
		b = append(b, 0xe0, 0xe0, 0x03)
	case FrameSNAP:
		b = binary.BigEndian.AppendUint16(b, uint16(len(pkt)+8))
		b = append(b, 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x81, 0x37)
	}
	return append(b, pkt...)
}

func pad60(b []byte) []byte {
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

var allFrameTypes = []FrameType{FrameEthernetII, Frame8023Raw, Frame8022, FrameSNAP}

func TestFrameRoundTrip(t *testing.T) {
	for _, ft := range allFrameTypes {
		for _, n := range []int{0, 5, 100, 1500 - HeaderLen - (ft.headerLen() - 14)} {
			t.Run(fmt.Sprintf("%v/%d", ft, n), func(t *testing.T) {
				payload := bytes.Repeat([]byte{0xa5}, n)
				f := Frame{Type: ft, Dst: testEthDst, Src: testEthSrc, Packet: Packet{Header: testHeader, Payload: payload}}
				b, err := f.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				pkt, _ := f.Packet.MarshalBinary()
				want := pad60(handFrame(ft, testEthDst, testEthSrc, pkt))
				if !bytes.Equal(b, want) {
					t.Fatalf("MarshalBinary:\n got % x\nwant % x", b, want)
				}
				if len(b) != f.length() {
					t.Errorf("length() = %d, encoded %d", f.length(), len(b))
				}
				gt, off, err := DetectFrame(b)
				if err != nil || gt != ft || off != ft.headerLen() {
					t.Errorf("DetectFrame = %v, %d, %v", gt, off, err)
				}
				var g Frame
				if err := g.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
				if g.Type != ft || g.Dst != testEthDst || g.Src != testEthSrc {
					t.Errorf("decoded framing %v %v %v", g.Type, g.Dst, g.Src)
				}
				if !bytes.Equal(g.Packet.Payload, payload) || g.Packet.Header.Length != uint16(HeaderLen+n) {
					t.Errorf("decoded packet length %d payload %d bytes", g.Packet.Header.Length, len(g.Packet.Payload))
				}
				again, err := g.MarshalBinary()
				if err != nil || !bytes.Equal(again, b) {
					t.Errorf("re-encoded differs: %v", err)
				}
			})
		}
	}
}

func TestFrameUnpadded(t *testing.T) {
	// Frames may arrive unpadded (from a tap, or a link that strips the
	// padding) or with a wrong 802.3 length; the IPX length decides.
	pkt, _ := (&Packet{Header: testHeader, Payload: []byte{1, 2, 3}}).MarshalBinary()
	for _, ft := range allFrameTypes {
		t.Run(ft.String(), func(t *testing.T) {
			b := handFrame(ft, testEthDst, testEthSrc, pkt)
			for _, in := range [][]byte{b, pad60(b), append(bytes.Clone(b), 0xde, 0xad)} {
				var f Frame
				if err := f.UnmarshalBinary(in); err != nil {
					t.Fatalf("%d bytes: %v", len(in), err)
				}
				if f.Type != ft || !bytes.Equal(f.Packet.Payload, []byte{1, 2, 3}) {
					t.Errorf("%d bytes: type %v payload % x", len(in), f.Type, f.Packet.Payload)
				}
			}
			if ft != FrameEthernetII {
				bad := bytes.Clone(b)
				binary.BigEndian.PutUint16(bad[12:], 46) // lies
				var f Frame
				if err := f.UnmarshalBinary(bad); err != nil || len(f.Packet.Payload) != 3 {
					t.Errorf("wrong 802.3 length: %v, %d bytes", err, len(f.Packet.Payload))
				}
			}
		})
	}
}

func TestFrameEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		want error
	}{
		{"zero type", Frame{Packet: Packet{Header: testHeader}}, ErrUnknownFrame},
		{"type 9", Frame{Type: 9, Packet: Packet{Header: testHeader}}, ErrUnknownFrame},
		{"raw 802.3 with checksum", Frame{Type: Frame8023Raw, Packet: Packet{Header: Header{Checksum: 0x1234}}}, ErrBadChecksum},
		{"raw 802.3 with checksum 0", Frame{Type: Frame8023Raw, Packet: Packet{Header: Header{Checksum: 0}}}, ErrBadChecksum},
		{"Ethernet II too large", Frame{Type: FrameEthernetII, Packet: Packet{Header: testHeader, Payload: make([]byte, 1500-HeaderLen+1)}}, ErrTooLarge},
		{"SNAP too large", Frame{Type: FrameSNAP, Packet: Packet{Header: testHeader, Payload: make([]byte, 1500-HeaderLen-8+1)}}, ErrTooLarge},
		{"802.2 too large", Frame{Type: Frame8022, Packet: Packet{Header: testHeader, Payload: make([]byte, 1500-HeaderLen-3+1)}}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pre := []byte{7}
			b, err := tt.f.AppendBinary(pre)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(b, pre) {
				t.Errorf("AppendBinary returned % x on error", b)
			}
		})
	}
	// Other framings may carry a checksum.
	for _, ft := range []FrameType{FrameEthernetII, Frame8022, FrameSNAP} {
		f := Frame{Type: ft, Packet: Packet{Header: testHeader}}
		f.Packet.Header.Checksum = 0x1234
		if _, err := f.MarshalBinary(); err != nil {
			t.Errorf("%v with checksum: %v", ft, err)
		}
	}
}

func TestFrameDecodeErrors(t *testing.T) {
	pkt, _ := (&Packet{Header: testHeader, Payload: []byte{1, 2, 3}}).MarshalBinary()
	snap := pad60(handFrame(FrameSNAP, testEthDst, testEthSrc, pkt))
	llc := pad60(handFrame(Frame8022, testEthDst, testEthSrc, pkt))
	eth := pad60(handFrame(FrameEthernetII, testEthDst, testEthSrc, pkt))
	mod := func(b []byte, f func([]byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"15 bytes", eth[:15], ErrShortBuffer},
		{"IPv4", mod(eth, func(b []byte) { b[12], b[13] = 0x08, 0x00 }), ErrUnknownFrame},
		{"type 0x0600", mod(eth, func(b []byte) { b[12], b[13] = 0x06, 0x00 }), ErrUnknownFrame},
		{"other LLC", mod(llc, func(b []byte) { b[14], b[15] = 0x42, 0x42 }), ErrUnknownFrame},
		{"LLC DSAP only", mod(llc, func(b []byte) { b[15] = 0x42 }), ErrUnknownFrame},
		{"LLC control", mod(llc, func(b []byte) { b[16] = 0x13 }), ErrUnknownFrame},
		{"LLC cut", llc[:16], ErrShortBuffer},
		{"SNAP control", mod(snap, func(b []byte) { b[16] = 0x13 }), ErrUnknownFrame},
		{"SNAP OUI", mod(snap, func(b []byte) { b[19] = 0x0c }), ErrUnknownFrame},
		{"SNAP type", mod(snap, func(b []byte) { b[21] = 0x00 }), ErrUnknownFrame},
		{"SNAP cut", snap[:20], ErrShortBuffer},
		{"raw 802.3 cut", handFrame(Frame8023Raw, testEthDst, testEthSrc, pkt)[:30], ErrShortBuffer},
		{"IPX cut", eth[:14+HeaderLen+2], ErrBadLength},
		{"IPX length 10", mod(eth, func(b []byte) { b[17] = 10 }), ErrBadLength},
		{"bad checksum", mod(eth, func(b []byte) { b[14], b[15] = 0x12, 0x34 }), ErrBadChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Frame{Type: FrameSNAP, Dst: testEthDst}
			err := f.UnmarshalBinary(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if f.Type != FrameSNAP || f.Dst != testEthDst || f.Src != (Node{}) || f.Packet.Payload != nil {
				t.Errorf("frame changed on error: %+v", f)
			}
		})
	}
}

func TestFrameTypeString(t *testing.T) {
	want := map[FrameType]string{
		FrameEthernetII: "Ethernet_II", Frame8023Raw: "802.3", Frame8022: "802.2", FrameSNAP: "SNAP",
		0: "frame(0)", 5: "frame(5)",
	}
	for ft, s := range want {
		if ft.String() != s {
			t.Errorf("FrameType(%d).String() = %q, want %q", ft, ft.String(), s)
		}
	}
}

func TestFrameAllocs(t *testing.T) {
	for _, ft := range allFrameTypes {
		src, _ := (&Frame{Type: ft, Dst: testEthDst, Src: testEthSrc, Packet: Packet{Header: testHeader, Payload: []byte("data")}}).MarshalBinary()
		if allocs := codecAllocs(t, &Frame{}, src); allocs != 0 {
			t.Errorf("%v decode+append: %v allocs, want 0", ft, allocs)
		}
	}
}
