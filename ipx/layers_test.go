package ipx

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// layerFrame encodes a frame of type ft carrying testHeader with the
// given sockets, packet type and payload.
func layerFrame(t testing.TB, ft FrameType, dst, src Socket, typ PacketType, payload []byte) []byte {
	t.Helper()
	f := Frame{Type: ft, Dst: testEthDst, Src: testEthSrc, Packet: Packet{Header: testHeader, Payload: payload}}
	f.Packet.Header.Dst.Socket, f.Packet.Header.Src.Socket, f.Packet.Header.Type = dst, src, typ
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLayerNewPacket(t *testing.T) {
	payload := []byte("hello, netware")
	for _, first := range []gopacket.LayerType{layers.LayerTypeEthernet, LayerTypeEthernetIPX} {
		for _, ft := range allFrameTypes {
			t.Run(fmt.Sprintf("%v/%v", first, ft), func(t *testing.T) {
				b := layerFrame(t, ft, 0x4001, 0x4002, TypePEP, payload)
				pkt := gopacket.NewPacket(b, first, gopacket.Default)
				if el := pkt.ErrorLayer(); el != nil {
					t.Fatalf("decode error: %v\n%v", el.Error(), pkt)
				}
				l := pkt.Layer(LayerTypeIPX)
				if l == nil {
					t.Fatalf("no IPX layer in %v", pkt)
				}
				x := l.(*IPX)
				want := testHeader
				want.Dst.Socket, want.Src.Socket, want.Type = 0x4001, 0x4002, TypePEP
				want.Length = uint16(HeaderLen + len(payload))
				if x.Header != want {
					t.Errorf("header %+v, want %+v", x.Header, want)
				}
				if !bytes.Equal(x.LayerPayload(), payload) || len(x.LayerContents()) != HeaderLen {
					t.Errorf("contents %d bytes, payload %q", len(x.LayerContents()), x.LayerPayload())
				}
				if app := pkt.ApplicationLayer(); app == nil || !bytes.Equal(app.Payload(), payload) {
					t.Errorf("application layer %v", app)
				}
				if err := x.VerifyChecksum(); err != nil {
					t.Errorf("VerifyChecksum: %v", err)
				}
				if first == LayerTypeEthernetIPX {
					e := pkt.LinkLayer().(*EthernetIPX)
					if e.Type != ft || e.Dst != testEthDst || e.Src != testEthSrc || len(e.Contents) != ft.headerLen() {
						t.Errorf("EthernetIPX %v %v %v contents %d", e.Type, e.Dst, e.Src, len(e.Contents))
					}
					if got := e.LinkFlow().String(); got != "02:00:00:00:00:09->ff:ff:ff:ff:ff:ff" {
						t.Errorf("LinkFlow %s", got)
					}
				}
			})
		}
	}
}

func TestLayerNonIPXLLC(t *testing.T) {
	// Other 802.3 frames still reach gopacket's own LLC decoding: here a
	// spanning-tree BPDU (DSAP = SSAP = 0x42).
	b := make([]byte, 60)
	copy(b, []byte{0x01, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 38, 0x42, 0x42, 0x03})
	pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if pkt.Layer(layers.LayerTypeLLC) == nil || pkt.Layer(layers.LayerTypeSTP) == nil {
		t.Errorf("BPDU decoded as %v", pkt)
	}
	if pkt.Layer(LayerTypeIPX) != nil {
		t.Error("BPDU decoded as IPX")
	}
	// And EthernetIPX refuses it.
	var e EthernetIPX
	if err := e.DecodeFromBytes(b, gopacket.NilDecodeFeedback); !errors.Is(err, ErrUnknownFrame) {
		t.Errorf("EthernetIPX on a BPDU: %v", err)
	}
}

func TestLayerNextLayerType(t *testing.T) {
	tests := []struct {
		name     string
		dst, src Socket
		typ      PacketType
		payload  []byte
		want     int // layer number, or 0 for Payload
	}{
		{"RIP by dst", SocketRIP, 0x4001, TypeRIP, []byte{0, 1}, LayerNumberRIP},
		{"RIP by src, any type", 0x4001, SocketRIP, TypeUnknown, []byte{0, 2}, LayerNumberRIP},
		{"SAP type 0", SocketSAP, SocketSAP, TypeUnknown, []byte{0, 1}, LayerNumberSAP},
		{"SAP type 4", SocketSAP, 0x4001, TypePEP, []byte{0, 1}, LayerNumberSAP},
		{"SAP type 17 by src", 0x4001, SocketSAP, TypeNCP, []byte{0, 2}, LayerNumberSAP},
		{"SAP socket with SPX type", SocketSAP, 0x4001, TypeSPX, []byte{0, 1}, LayerNumberSAP},
		{"dst RIP beats src SAP", SocketRIP, SocketSAP, 0, []byte{0, 1}, LayerNumberRIP},
		{"dst SAP beats src RIP", SocketSAP, SocketRIP, 0, []byte{0, 1}, LayerNumberSAP},
		{"SPX", 0x4001, 0x4002, TypeSPX, make([]byte, 12), LayerNumberSPX},
		{"NCP", SocketNCP, 0x4002, TypeNCP, []byte{1}, 0},
		{"RIP type elsewhere", 0x4001, 0x4002, TypeRIP, []byte{0, 1}, 0},
	}
	// Whether the upper packages are linked into this test binary decides
	// the answer; check both ways by forcing the cached state.
	defer func() {
		for i := range upperState {
			upperState[i].Store(stateUnknown)
		}
	}()
	for _, linked := range []bool{false, true} {
		for i := range upperState {
			if linked {
				upperState[i].Store(stateRegistered)
			} else {
				upperState[i].Store(stateAbsent)
			}
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("linked=%v/%s", linked, tt.name), func(t *testing.T) {
				b := layerFrame(t, FrameEthernetII, tt.dst, tt.src, tt.typ, tt.payload)
				var x IPX
				if err := x.DecodeFromBytes(b[14:], gopacket.NilDecodeFeedback); err != nil {
					t.Fatal(err)
				}
				want := gopacket.LayerTypePayload
				if linked && tt.want != 0 {
					want = gopacket.LayerType(tt.want)
				}
				if got := x.NextLayerType(); got != want {
					t.Errorf("NextLayerType = %v, want %v", got, want)
				}
			})
		}
	}
	// An empty packet has no next layer.
	var x IPX
	b := layerFrame(t, FrameEthernetII, 0x4001, 0x4002, 0, nil)
	if err := x.DecodeFromBytes(b[14:], gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if got := x.NextLayerType(); got != gopacket.LayerTypeZero {
		t.Errorf("empty packet: NextLayerType = %v", got)
	}
}

func TestLayerRegisteredLookup(t *testing.T) {
	// The real lookup agrees with gopacket, whatever is linked in.
	for i := range upperState {
		upperState[i].Store(stateUnknown)
	}
	for n := LayerNumberSPX; n <= LayerNumberSAP; n++ {
		want := gopacket.LayerType(n).String() != strconv.Itoa(n)
		for range 2 { // second time from the cache
			if _, got := registered(n); got != want {
				t.Errorf("registered(%d) = %v, want %v", n, got, want)
			}
		}
	}
}

func TestLayerDecodeErrors(t *testing.T) {
	good := layerFrame(t, FrameEthernetII, 0x4001, 0x4002, 0, []byte{1, 2, 3})[14:]
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"short", good[:29], ErrShortBuffer},
		{"length below 30", append([]byte{0xff, 0xff, 0, 29}, good[4:]...), ErrBadLength},
		{"length beyond data", good[:32], ErrBadLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := IPX{Header: testHeader}
			if err := x.DecodeFromBytes(tt.in, gopacket.NilDecodeFeedback); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if x.Header != testHeader || x.Contents != nil {
				t.Error("layer changed on error")
			}
			// Through NewPacket the error shows as an error layer.
			pkt := gopacket.NewPacket(tt.in, LayerTypeIPX, gopacket.Default)
			if pkt.ErrorLayer() == nil {
				t.Errorf("NewPacket: no error layer in %v", pkt)
			}
		})
	}
	// A bad checksum still decodes; VerifyChecksum reports it.
	bad := bytes.Clone(good)
	bad[0], bad[1] = 0x12, 0x34
	var x IPX
	if err := x.DecodeFromBytes(bad, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if err := x.VerifyChecksum(); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("VerifyChecksum = %v, want ErrBadChecksum", err)
	}
	var empty IPX
	if err := empty.VerifyChecksum(); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("VerifyChecksum before decode = %v", err)
	}
}

func TestLayerSerialize(t *testing.T) {
	payload := []byte("serialize me")
	for _, ft := range allFrameTypes {
		for _, sum := range []bool{false, true} {
			if ft == Frame8023Raw && sum {
				continue
			}
			t.Run(fmt.Sprintf("%v/checksum=%v", ft, sum), func(t *testing.T) {
				h := testHeader
				h.Length = 0 // fixed by FixLengths
				if sum {
					h.Checksum = 0 // anything but 0xFFFF asks for one
				}
				x := &IPX{Header: h}
				e := &EthernetIPX{Type: ft, Dst: testEthDst, Src: testEthSrc}
				buf := gopacket.NewSerializeBuffer()
				opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
				if err := gopacket.SerializeLayers(buf, opts, e, x, gopacket.Payload(payload)); err != nil {
					t.Fatal(err)
				}
				if x.Header != h {
					t.Error("SerializeTo modified the layer")
				}
				f := Frame{Type: ft, Dst: testEthDst, Src: testEthSrc, Packet: Packet{Header: testHeader, Payload: payload}}
				want, _ := f.MarshalBinary()
				if sum {
					PutChecksum(want[ft.headerLen():])
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("serialized\n got % x\nwant % x", buf.Bytes(), want)
				}
			})
		}
	}
	// Without FixLengths the length field is written as given.
	buf := gopacket.NewSerializeBuffer()
	x := &IPX{Header: testHeader}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, x, gopacket.Payload{1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes()[:HeaderLen], testHeaderBytes) {
		t.Errorf("header % x", buf.Bytes()[:HeaderLen])
	}
}

func TestLayerSerializeErrors(t *testing.T) {
	tests := []struct {
		name string
		e    EthernetIPX
		h    Header
		n    int
		want error
	}{
		{"unknown framing", EthernetIPX{}, testHeader, 0, ErrUnknownFrame},
		{"raw 802.3 with checksum", EthernetIPX{Type: Frame8023Raw}, Header{Checksum: 0x1234}, 0, ErrBadChecksum},
		{"too large", EthernetIPX{Type: FrameSNAP}, testHeader, 1500 - HeaderLen - 7, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := gopacket.NewSerializeBuffer()
			err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, &tt.e, &IPX{Header: tt.h}, gopacket.Payload(make([]byte, tt.n)))
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, &IPX{}, gopacket.Payload(make([]byte, 0x10000-HeaderLen)))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("65536-byte packet: %v", err)
	}
}

func TestLayerDecodingLayerParserAllocs(t *testing.T) {
	var (
		eth     layers.Ethernet
		llc     layers.LLC
		snap    layers.SNAP
		ethIPX  EthernetIPX
		x       IPX
		payload gopacket.Payload
		decoded = make([]gopacket.LayerType, 0, 8)
	)
	viaEthernet := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &llc, &snap, &x, &payload)
	viaEthIPX := gopacket.NewDecodingLayerParser(LayerTypeEthernetIPX, &ethIPX, &x, &payload)
	tests := []struct {
		name   string
		parser *gopacket.DecodingLayerParser
		ft     FrameType
		want   []gopacket.LayerType
	}{
		{"Ethernet/Ethernet_II", viaEthernet, FrameEthernetII, []gopacket.LayerType{layers.LayerTypeEthernet, LayerTypeIPX, gopacket.LayerTypePayload}},
		{"Ethernet/SNAP", viaEthernet, FrameSNAP, []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeLLC, layers.LayerTypeSNAP, LayerTypeIPX, gopacket.LayerTypePayload}},
		{"EthernetIPX/Ethernet_II", viaEthIPX, FrameEthernetII, []gopacket.LayerType{LayerTypeEthernetIPX, LayerTypeIPX, gopacket.LayerTypePayload}},
		{"EthernetIPX/802.3", viaEthIPX, Frame8023Raw, []gopacket.LayerType{LayerTypeEthernetIPX, LayerTypeIPX, gopacket.LayerTypePayload}},
		{"EthernetIPX/802.2", viaEthIPX, Frame8022, []gopacket.LayerType{LayerTypeEthernetIPX, LayerTypeIPX, gopacket.LayerTypePayload}},
		{"EthernetIPX/SNAP", viaEthIPX, FrameSNAP, []gopacket.LayerType{LayerTypeEthernetIPX, LayerTypeIPX, gopacket.LayerTypePayload}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := layerFrame(t, tt.ft, SocketNCP, 0x4002, TypeNCP, []byte("0123456789"))
			if err := tt.parser.DecodeLayers(b, &decoded); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(decoded) != fmt.Sprint(tt.want) {
				t.Fatalf("decoded %v, want %v", decoded, tt.want)
			}
			if x.Header.Dst.Socket != SocketNCP || string(payload) != "0123456789" {
				t.Errorf("header %+v payload %q", x.Header, payload)
			}
			allocs := testing.AllocsPerRun(200, func() {
				if err := tt.parser.DecodeLayers(b, &decoded); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("DecodeLayers: %v allocs, want 0", allocs)
			}
		})
	}
}

func TestLayerWrong8023Length(t *testing.T) {
	// A raw 802.3 frame whose length field (40) is below the IPX length
	// (50): EthernetIPX trusts the IPX length; gopacket's Ethernet layer
	// cuts the payload at 40 bytes, so its IPX layer reports the length.
	b := layerFrame(t, Frame8023Raw, 0x4001, 0x4002, 0, make([]byte, 20))
	b[12], b[13] = 0, 40
	pkt := gopacket.NewPacket(b, LayerTypeEthernetIPX, gopacket.Default)
	if x, ok := pkt.Layer(LayerTypeIPX).(*IPX); !ok || x.Header.Length != 50 || len(x.Payload) != 20 {
		t.Errorf("EthernetIPX path: %v", pkt)
	}
	pkt = gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el == nil || !errors.Is(el.Error(), ErrBadLength) {
		t.Errorf("Ethernet path: %v", pkt)
	}
}
