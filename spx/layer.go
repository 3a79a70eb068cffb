package spx

import (
	"strconv"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipxkit/ipxkit/ipx"
)

// LayerTypeSPX is the gopacket layer type of SPX, decoded after an IPX
// header of packet type 5 (the IPX layer chooses it), under the number
// package ipx reserves for it (ipx.LayerNumberSPX, 1371).
var LayerTypeSPX = gopacket.RegisterLayerType(ipx.LayerNumberSPX, gopacket.LayerTypeMetadata{
	Name:    "SPX",
	Decoder: gopacket.DecodeFunc(decodeSPX),
})

// SPX is the gopacket layer of an SPX header. It implements
// gopacket.DecodingLayer and gopacket.SerializableLayer; Contents and
// Payload alias the decoded data, as gopacket expects.
type SPX struct {
	layers.BaseLayer
	Header
}

var (
	_ gopacket.DecodingLayer     = (*SPX)(nil)
	_ gopacket.SerializableLayer = (*SPX)(nil)
	_ ipx.Summarizer             = (*SPX)(nil)
)

// LayerType returns LayerTypeSPX.
func (s *SPX) LayerType() gopacket.LayerType { return LayerTypeSPX }

// CanDecode returns LayerTypeSPX.
func (s *SPX) CanDecode() gopacket.LayerClass { return LayerTypeSPX }

// NextLayerType returns gopacket.LayerTypePayload: the data is the
// application's.
func (s *SPX) NextLayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

// DecodeFromBytes decodes the SPX header at the start of data; the rest
// is the payload.
func (s *SPX) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := s.Header.UnmarshalBinary(data); err != nil {
		return err
	}
	n := s.Header.length()
	s.Contents = data[:n]
	s.Payload = data[n:]
	return nil
}

// SerializeTo prepends the header to b.
func (s *SPX) SerializeTo(b gopacket.SerializeBuffer, opts gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(s.Header.length())
	if err != nil {
		return err
	}
	_, err = s.Header.AppendBinary(buf[:0])
	return err
}

// Summary describes the header and the data length in one line, for
// packet dumps.
func (s *SPX) Summary() string {
	sum := s.Header.Summary()
	if len(s.Payload) > 0 {
		sum += " data " + strconv.Itoa(len(s.Payload))
	}
	return sum
}

func decodeSPX(data []byte, p gopacket.PacketBuilder) error {
	s := &SPX{}
	if err := s.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(s)
	return p.NextDecoder(s.NextLayerType())
}
