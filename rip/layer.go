package rip

import (
	"strconv"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipxkit/ipxkit/ipx"
)

// LayerTypeRIP is the gopacket layer type of RIP, decoded after IPX on
// socket 0x0453 (the IPX layer chooses it), under the number package ipx
// reserves for it (ipx.LayerNumberRIP, 1372).
var LayerTypeRIP = gopacket.RegisterLayerType(ipx.LayerNumberRIP, gopacket.LayerTypeMetadata{
	Name:    "RIP",
	Decoder: gopacket.DecodeFunc(decodeRIP),
})

// RIP is the gopacket layer of a RIP packet. It implements
// gopacket.DecodingLayer and gopacket.SerializableLayer. Decoding reuses
// the layer's own room for MaxEntries entries, so a DecodingLayerParser
// decodes without allocation; the Entries of one decode are overwritten
// by the next. Contents aliases the decoded data, as gopacket expects.
type RIP struct {
	layers.BaseLayer
	Packet
	room [MaxEntries]Entry
}

var (
	_ gopacket.DecodingLayer     = (*RIP)(nil)
	_ gopacket.SerializableLayer = (*RIP)(nil)
	_ ipx.Summarizer             = (*RIP)(nil)
)

// LayerType returns LayerTypeRIP.
func (r *RIP) LayerType() gopacket.LayerType { return LayerTypeRIP }

// CanDecode returns LayerTypeRIP.
func (r *RIP) CanDecode() gopacket.LayerClass { return LayerTypeRIP }

// NextLayerType returns gopacket.LayerTypeZero: nothing follows RIP.
func (r *RIP) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// DecodeFromBytes decodes data as a RIP packet; see Packet.UnmarshalBinary.
func (r *RIP) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if r.Entries == nil {
		r.Entries = r.room[:0]
	}
	if err := r.Packet.UnmarshalBinary(data); err != nil {
		return err
	}
	r.Contents = data
	r.Payload = nil
	return nil
}

// SerializeTo writes the packet into b; see Packet.AppendBinary.
func (r *RIP) SerializeTo(b gopacket.SerializeBuffer, opts gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(r.length())
	if err != nil {
		return err
	}
	_, err = r.Packet.AppendBinary(buf[:0])
	return err
}

// Summary gives a one-line description for packet dumps, for example
// "RIP response 2 routes: 00000002/1/2 00000003/16/5".
func (r *RIP) Summary() string {
	b := make([]byte, 0, 32+len(r.Entries)*16)
	b = append(b, "RIP "...)
	b = append(b, r.Operation.String()...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(r.Entries)), 10)
	if len(r.Entries) == 1 {
		b = append(b, " route"...)
	} else {
		b = append(b, " routes"...)
	}
	for i, e := range r.Entries {
		if i == 0 {
			b = append(b, ':')
		}
		b = append(b, ' ')
		b = append(b, e.Network.String()...)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(e.Hops), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(e.Ticks), 10)
	}
	return string(b)
}

func decodeRIP(data []byte, p gopacket.PacketBuilder) error {
	r := &RIP{}
	if err := r.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(r)
	return nil
}
