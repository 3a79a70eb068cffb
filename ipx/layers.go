package ipx

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// gopacket layer numbers of ipxkit. gopacket reserves 0–999 for itself and
// recommends 1000–1999 for applications; ipxkit uses 1370–1374. The rip,
// sap and spx packages register their numbers themselves, for example
//
//	var LayerTypeRIP = gopacket.RegisterLayerType(ipx.LayerNumberRIP, ...)
//
// so an IPX layer hands over to them only when they are linked in.
const (
	// LayerNumberIPX is the number of LayerTypeIPX.
	LayerNumberIPX = 1370
	// LayerNumberSPX is reserved for the spx package's layer.
	LayerNumberSPX = 1371
	// LayerNumberRIP is reserved for the rip package's layer.
	LayerNumberRIP = 1372
	// LayerNumberSAP is reserved for the sap package's layer.
	LayerNumberSAP = 1373
	// LayerNumberEthernetIPX is the number of LayerTypeEthernetIPX.
	LayerNumberEthernetIPX = 1374
)

// gopacket layer types registered by this package.
var (
	// LayerTypeIPX is the IPX header. gopacket reaches it from Ethernet II
	// (EtherType 0x8137), from SNAP (type 0x8137) and, through this
	// package's LLC hook, from 802.2 (DSAP 0xE0) and raw 802.3. gopacket's
	// Ethernet layer cuts 802.3 frames to their length field, so an IPX
	// length beyond a wrong 802.3 length fails there; LayerTypeEthernetIPX
	// trusts the IPX length alone.
	LayerTypeIPX = gopacket.RegisterLayerType(LayerNumberIPX, gopacket.LayerTypeMetadata{
		Name: "IPX", Decoder: gopacket.DecodeFunc(decodeIPX),
	})
	// LayerTypeEthernetIPX is an Ethernet frame carrying IPX in any of the
	// four framings, detected from the frame itself. Use it as the first
	// decoder where gopacket's own Ethernet layer would not do, for
	// example gopacket.NewDecodingLayerParser(ipx.LayerTypeEthernetIPX, ...).
	LayerTypeEthernetIPX = gopacket.RegisterLayerType(LayerNumberEthernetIPX, gopacket.LayerTypeMetadata{
		Name: "EthernetIPX", Decoder: gopacket.DecodeFunc(decodeEthernetIPX),
	})
)

// origLLC is gopacket's decoder for 802.3 frames, which hookLLC falls back
// to for everything that is not IPX.
var origLLC gopacket.Decoder

func init() {
	// gopacket routes EtherTypes through a table it exports for this
	// purpose, but an 802.3 frame always goes to its LLC decoder, which
	// knows nothing of DSAP 0xE0 or of Novell's raw 802.3. Wrap that one
	// entry; SNAP needs nothing, since it looks up its type (0x8137) in the
	// same EtherType table.
	layers.EthernetTypeMetadata[EtherType] = layers.EnumMetadata{
		DecodeWith: LayerTypeIPX, Name: "IPX", LayerType: LayerTypeIPX,
	}
	m := &layers.EthernetTypeMetadata[layers.EthernetTypeLLC]
	origLLC = m.DecodeWith
	m.DecodeWith = gopacket.DecodeFunc(hookLLC)
}

// hookLLC decodes the payload of an 802.3 frame: raw 802.3 IPX (starting
// with the 0xFFFF checksum) goes straight to IPX, 802.2 with DSAP = SSAP =
// 0xE0 goes through gopacket's LLC layer to IPX, anything else to
// gopacket's own LLC decoder.
func hookLLC(data []byte, p gopacket.PacketBuilder) error {
	switch {
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xFF:
		return decodeIPX(data, p)
	case len(data) >= 3 && data[0] == 0xE0 && data[1] == 0xE0 && data[2] == 0x03:
		llc := &layers.LLC{}
		if err := llc.DecodeFromBytes(data, p); err != nil {
			return err
		}
		p.AddLayer(llc)
		return p.NextDecoder(LayerTypeIPX)
	}
	return origLLC.Decode(data, p)
}

// Summarizer is implemented by upper-layer gopacket layers (RIP, SAP, SPX)
// that can describe themselves in one line, as tools like ipxdump print
// after the IPX header.
type Summarizer interface {
	Summary() string
}

// IPX is the gopacket layer of an IPX header. It implements
// gopacket.Layer, gopacket.DecodingLayer and gopacket.SerializableLayer.
// After decoding, Contents holds the 30-byte header and Payload the data up
// to the length field (Ethernet padding excluded); both alias the input.
type IPX struct {
	layers.BaseLayer
	Header Header
	// packet is the whole decoded packet, kept for VerifyChecksum.
	packet []byte
}

var (
	_ gopacket.DecodingLayer     = (*IPX)(nil)
	_ gopacket.SerializableLayer = (*IPX)(nil)
)

// LayerType returns LayerTypeIPX.
func (x *IPX) LayerType() gopacket.LayerType { return LayerTypeIPX }

// CanDecode returns LayerTypeIPX.
func (x *IPX) CanDecode() gopacket.LayerClass { return LayerTypeIPX }

// DecodeFromBytes decodes the IPX header at the start of data. A length
// field below 30 or beyond data is an error (ErrBadLength, wrapped); the
// checksum is not checked, so that captures of damaged packets still
// decode: call VerifyChecksum for that. x is unchanged on error.
func (x *IPX) DecodeFromBytes(data []byte, _ gopacket.DecodeFeedback) error {
	if len(data) < HeaderLen {
		return errShortHeader(len(data))
	}
	n := binary.BigEndian.Uint16(data[2:4])
	if n < HeaderLen {
		return errLengthBelow(n)
	}
	if int(n) > len(data) {
		return errLengthBeyond(n, len(data))
	}
	x.Header.decode(data)
	x.packet = data[:n:n]
	x.Contents = x.packet[:HeaderLen]
	x.Payload = x.packet[HeaderLen:]
	return nil
}

// VerifyChecksum checks the decoded packet's checksum as
// Packet.UnmarshalBinary does: nil for 0xFFFF or a correct checksum, an
// error wrapping ErrBadChecksum otherwise. Before any decode it reports
// ErrShortBuffer.
func (x *IPX) VerifyChecksum() error { return VerifyChecksum(x.packet) }

// NextLayerType chooses the layer after IPX the way NetWare does, by
// socket first (destination, then source: 0x0453 RIP, 0x0452 SAP, since
// SAP travels with packet types 0, 4 or 17), then by packet type (5 SPX).
// If the package for that layer is not linked in, or nothing else applies,
// it returns gopacket.LayerTypePayload, or gopacket.LayerTypeZero for a
// packet without data.
func (x *IPX) NextLayerType() gopacket.LayerType {
	if n := upperNumber(&x.Header); n != 0 {
		if lt, ok := registered(n); ok {
			return lt
		}
	}
	if len(x.Payload) == 0 {
		return gopacket.LayerTypeZero
	}
	return gopacket.LayerTypePayload
}

// upperNumber returns the layer number NextLayerType aims for, or 0.
func upperNumber(h *Header) int {
	switch {
	case h.Dst.Socket == SocketRIP:
		return LayerNumberRIP
	case h.Dst.Socket == SocketSAP:
		return LayerNumberSAP
	case h.Src.Socket == SocketRIP:
		return LayerNumberRIP
	case h.Src.Socket == SocketSAP:
		return LayerNumberSAP
	case h.Type == TypeSPX:
		return LayerNumberSPX
	}
	return 0
}

// Registration states of the upper layer numbers, indexed from
// LayerNumberSPX. gopacket offers no allocation-free way to ask whether a
// number is registered (LayerType.String formats unknown numbers), so the
// answer is looked up once and kept. Layer packages register in their
// package initialisation, before any decoding.
var upperState [3]atomic.Uint32

const (
	stateUnknown = iota
	stateRegistered
	stateAbsent
)

// registered reports whether gopacket knows layer number n (one of the
// upper layer numbers) and returns its type.
func registered(n int) (gopacket.LayerType, bool) {
	st := &upperState[n-LayerNumberSPX]
	switch st.Load() {
	case stateRegistered:
		return gopacket.LayerType(n), true
	case stateAbsent:
		return 0, false
	}
	lt := gopacket.LayerType(n)
	if lt.String() == strconv.Itoa(n) {
		st.Store(stateAbsent)
		return 0, false
	}
	st.Store(stateRegistered)
	return lt, true
}

// SerializeTo prepends the IPX header to the bytes already in b. With
// opts.FixLengths the length field is set from the buffer; with
// opts.ComputeChecksums a checksum is computed unless Header.Checksum is
// ChecksumNone, which asks for none (as raw 802.3 requires). x itself is
// not modified.
func (x *IPX) SerializeTo(b gopacket.SerializeBuffer, opts gopacket.SerializeOptions) error {
	h := x.Header
	if opts.FixLengths {
		n := HeaderLen + len(b.Bytes())
		if n > 0xFFFF {
			return fmt.Errorf("ipx: packet of %d bytes exceeds the length field: %w", n, ErrTooLarge)
		}
		h.Length = uint16(n)
	}
	hdr, err := b.PrependBytes(HeaderLen)
	if err != nil {
		return err
	}
	h.AppendBinary(hdr[:0])
	if opts.ComputeChecksums && h.Checksum != ChecksumNone {
		PutChecksum(b.Bytes())
	}
	return nil
}

func decodeIPX(data []byte, p gopacket.PacketBuilder) error {
	x := &IPX{}
	if err := x.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(x)
	return p.NextDecoder(x.NextLayerType())
}

// EthernetIPX is the gopacket layer of an Ethernet frame carrying IPX in
// any of the four framings (LayerTypeEthernetIPX). Unlike gopacket's
// Ethernet layer it recognises raw 802.3 itself and needs no LLC or SNAP
// layer after it: Contents is the whole framing (Ethernet header plus LLC
// or SNAP header) and Payload the rest of the frame, starting at the IPX
// header. Both alias the input.
type EthernetIPX struct {
	layers.BaseLayer
	// Type is the framing detected on decode, or to encode.
	Type FrameType
	// Dst and Src are the Ethernet addresses.
	Dst, Src Node
}

var (
	_ gopacket.DecodingLayer     = (*EthernetIPX)(nil)
	_ gopacket.SerializableLayer = (*EthernetIPX)(nil)
	_ gopacket.LinkLayer         = (*EthernetIPX)(nil)
)

// LayerType returns LayerTypeEthernetIPX.
func (e *EthernetIPX) LayerType() gopacket.LayerType { return LayerTypeEthernetIPX }

// CanDecode returns LayerTypeEthernetIPX.
func (e *EthernetIPX) CanDecode() gopacket.LayerClass { return LayerTypeEthernetIPX }

// NextLayerType returns LayerTypeIPX.
func (e *EthernetIPX) NextLayerType() gopacket.LayerType { return LayerTypeIPX }

// LinkFlow returns the flow between the Ethernet addresses.
func (e *EthernetIPX) LinkFlow() gopacket.Flow {
	return gopacket.NewFlow(layers.EndpointMAC, e.Src[:], e.Dst[:])
}

// DecodeFromBytes detects the framing as DetectFrame does. Frames that are
// not IPX give an error wrapping ErrUnknownFrame. e is unchanged on error.
func (e *EthernetIPX) DecodeFromBytes(data []byte, _ gopacket.DecodeFeedback) error {
	t, off, err := DetectFrame(data)
	if err != nil {
		return err
	}
	e.Type = t
	e.Dst = Node(data[0:6])
	e.Src = Node(data[6:12])
	e.Contents = data[:off]
	e.Payload = data[off:]
	return nil
}

// SerializeTo prepends the framing to the IPX packet already in b and pads
// the frame with zeros to EthernetMinFrame. The 802.3 length field is
// always computed. A raw 802.3 frame whose packet carries a checksum is
// refused (ErrBadChecksum), as Frame.AppendBinary does.
func (e *EthernetIPX) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	hl := e.Type.headerLen()
	if hl == 0 {
		return fmt.Errorf("ipx: encode %v: %w", e.Type, ErrUnknownFrame)
	}
	pkt := b.Bytes()
	if e.Type == Frame8023Raw && (len(pkt) < 2 || pkt[0] != 0xFF || pkt[1] != 0xFF) {
		return fmt.Errorf("ipx: raw 802.3 frame with a checksum: %w", ErrBadChecksum)
	}
	if len(pkt)+hl-ethHeaderLen > 1500 {
		return fmt.Errorf("ipx: packet of %d bytes in an Ethernet frame: %w", len(pkt), ErrTooLarge)
	}
	n := len(pkt)
	hdr, err := b.PrependBytes(hl)
	if err != nil {
		return err
	}
	copy(hdr[0:6], e.Dst[:])
	copy(hdr[6:12], e.Src[:])
	switch e.Type {
	case FrameEthernetII:
		binary.BigEndian.PutUint16(hdr[12:], EtherType)
	case Frame8023Raw:
		binary.BigEndian.PutUint16(hdr[12:], uint16(n))
	case Frame8022:
		binary.BigEndian.PutUint16(hdr[12:], uint16(n+3))
		copy(hdr[14:], []byte{0xE0, 0xE0, 0x03})
	case FrameSNAP:
		binary.BigEndian.PutUint16(hdr[12:], uint16(n+8))
		copy(hdr[14:], []byte{0xAA, 0xAA, 0x03, 0, 0, 0, EtherType >> 8, EtherType & 0xFF})
	}
	if total := len(b.Bytes()); total < EthernetMinFrame {
		pad, err := b.AppendBytes(EthernetMinFrame - total)
		if err != nil {
			return err
		}
		clear(pad)
	}
	return nil
}

func decodeEthernetIPX(data []byte, p gopacket.PacketBuilder) error {
	e := &EthernetIPX{}
	if err := e.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(e)
	p.SetLinkLayer(e)
	return p.NextDecoder(LayerTypeIPX)
}
