package sap

import (
	"errors"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipxkit/ipxkit/ipx"
)

// LayerTypeSAP is the gopacket layer type of SAP, number
// ipx.LayerNumberSAP (1373). The ipx layer hands it the payload of any
// packet to or from socket 0x0452, whatever the packet type.
var LayerTypeSAP = gopacket.RegisterLayerType(ipx.LayerNumberSAP, gopacket.LayerTypeMetadata{
	Name:    "SAP",
	Decoder: gopacket.DecodeFunc(decodeSAP),
})

// SAP is the gopacket layer of a SAP message. It implements
// gopacket.DecodingLayer (decoding without allocation, its Entries backed
// by an array inside the layer) and gopacket.SerializableLayer.
type SAP struct {
	layers.BaseLayer
	Message
	entries [MaxEntries]Entry
}

var (
	_ gopacket.DecodingLayer     = (*SAP)(nil)
	_ gopacket.SerializableLayer = (*SAP)(nil)
	_ gopacket.ApplicationLayer  = (*SAP)(nil)
	_ ipx.Summarizer             = (*SAP)(nil)
)

func decodeSAP(data []byte, p gopacket.PacketBuilder) error {
	s := &SAP{}
	if err := s.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(s)
	p.SetApplicationLayer(s)
	return nil
}

// LayerType returns LayerTypeSAP.
func (s *SAP) LayerType() gopacket.LayerType { return LayerTypeSAP }

// CanDecode returns LayerTypeSAP.
func (s *SAP) CanDecode() gopacket.LayerClass { return LayerTypeSAP }

// NextLayerType returns gopacket.LayerTypeZero: SAP carries nothing
// further.
func (s *SAP) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// Payload returns the bytes after the message (a query's padding), for
// gopacket.ApplicationLayer.
func (s *SAP) Payload() []byte { return s.BaseLayer.Payload }

// DecodeFromBytes decodes a SAP message; see Message.UnmarshalBinary.
// Contents alias data; Entries use the layer's own array.
func (s *SAP) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if cap(s.Entries) < MaxEntries {
		s.Entries = s.entries[:0]
	}
	if err := s.Message.UnmarshalBinary(data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			df.SetTruncated()
		}
		return err
	}
	n := min(s.length(), len(data))
	s.Contents, s.BaseLayer.Payload = data[:n], data[n:]
	return nil
}

// SerializeTo writes the message to b (prepending, as gopacket does).
func (s *SAP) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(s.length())
	if err != nil {
		return err
	}
	_, err = s.Message.AppendBinary(buf[:0])
	return err
}

// Summary describes the message in one line, for ipxdump.
func (s *SAP) Summary() string { return s.Message.String() }
