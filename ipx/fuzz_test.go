package ipx

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func FuzzHeader(f *testing.F) {
	f.Add(testHeaderBytes)
	f.Add(testHeaderBytes[:29])
	f.Add(vectorPacket)
	f.Add(make([]byte, 30))
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := h.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrShortBuffer) && !errors.Is(err, ErrBadLength) {
				t.Fatalf("unexpected error class: %v", err)
			}
			if h != (Header{}) {
				t.Fatal("header set on error")
			}
			return
		}
		enc, err := h.AppendBinary(make([]byte, 0, HeaderLen))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, b[:HeaderLen]) {
			t.Fatalf("re-encoded % x, input % x", enc, b[:HeaderLen])
		}
		var h2 Header
		if err := h2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if h2 != h {
			t.Fatalf("re-decoded %+v, want %+v", h2, h)
		}
		// A whole packet either decodes, or fails with a sentinel.
		var p Packet
		if err := p.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrBadLength) && !errors.Is(err, ErrBadChecksum) {
				t.Fatalf("packet: unexpected error class: %v", err)
			}
			return
		}
		pb, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(pb) != p.length() || !bytes.Equal(pb, b[:h.Length]) {
			t.Fatalf("packet re-encoded % x, input % x", pb, b[:h.Length])
		}
	})
}

func FuzzFrame(f *testing.F) {
	for _, ft := range allFrameTypes {
		fr := Frame{Type: ft, Dst: testEthDst, Src: testEthSrc, Packet: Packet{Header: testHeader, Payload: []byte("seed")}}
		b, _ := fr.MarshalBinary()
		f.Add(b)
		pkt, _ := fr.Packet.MarshalBinary()
		f.Add(handFrame(ft, testEthDst, testEthSrc, pkt)) // unpadded
	}
	f.Add([]byte{})
	f.Add(make([]byte, 60))

	var (
		eth     EthernetIPX
		x       IPX
		decoded []gopacket.LayerType
	)
	parser := gopacket.NewDecodingLayerParser(LayerTypeEthernetIPX, &eth, &x)
	parser.IgnoreUnsupported = true
	parser.IgnorePanic = true // let a panic fail the fuzz run
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		err := fr.UnmarshalBinary(b)

		// The gopacket layers agree with the codec on framing and header.
		x = IPX{}
		perr := parser.DecodeLayers(b, &decoded)
		// The parser stops quietly where a layer leaves no payload.
		if perr == nil && (len(decoded) < 2 || decoded[1] != LayerTypeIPX) {
			perr = errors.New("no IPX layer")
		}
		if err == nil {
			if perr != nil {
				t.Fatalf("codec decoded, gopacket layers: %v", perr)
			}
			if eth.Type != fr.Type || x.Header != fr.Packet.Header || !bytes.Equal(x.Payload, fr.Packet.Payload) {
				t.Fatalf("layers %v %+v, codec %v %+v", eth.Type, x.Header, fr.Type, fr.Packet.Header)
			}
		}
		// The layer ignores the checksum; otherwise they fail alike.
		if err != nil && perr == nil && !errors.Is(err, ErrBadChecksum) {
			t.Fatalf("codec: %v, gopacket layers decoded", err)
		}
		// gopacket's own Ethernet path must not panic either.
		gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.NoCopy)

		if err != nil {
			for _, sentinel := range []error{ErrShortBuffer, ErrBadLength, ErrBadChecksum, ErrUnknownFrame} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("unexpected error class: %v", err)
		}
		enc, err := fr.AppendBinary(nil)
		if errors.Is(err, ErrTooLarge) && fr.Packet.length() > 1500-(fr.Type.headerLen()-ethHeaderLen) {
			return // decodable but larger than Ethernet allows
		}
		if err != nil {
			t.Fatalf("encode %+v: %v", fr, err)
		}
		if len(enc) != fr.length() {
			t.Fatalf("encoded %d bytes, length() %d", len(enc), fr.length())
		}
		var fr2 Frame
		if err := fr2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if fr2.Type != fr.Type || fr2.Dst != fr.Dst || fr2.Src != fr.Src || fr2.Packet.Header != fr.Packet.Header ||
			!bytes.Equal(fr2.Packet.Payload, fr.Packet.Payload) {
			t.Fatalf("re-decoded %+v, want %+v", fr2, fr)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{
		"00000001:0a0b0c0d0e0f:0451", "1:0a:0b:0c:0d:0e:0f:2", "ffffffff:ff-ff-ff-ff-ff-ff:ffff",
		"", ":", "::", "0:0:0", "+1:000000000000:1", "1:0a0b0c0d0e0f:-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddr) {
				t.Fatalf("ParseAddr(%q): unexpected error %v", s, err)
			}
			return
		}
		str := a.String()
		b, err := ParseAddr(str)
		if err != nil {
			t.Fatalf("ParseAddr(%q) (from %q): %v", str, s, err)
		}
		if b != a {
			t.Fatalf("ParseAddr(%q) = %v, ParseAddr(String()) = %v", s, a, b)
		}
		if b.String() != str {
			t.Fatalf("String not stable: %q, %q", str, b.String())
		}
	})
}
