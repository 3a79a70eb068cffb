package ipx

import (
	"encoding/binary"
	"fmt"
)

// FrameType is the Ethernet encapsulation of an IPX packet.
type FrameType uint8

// The four Ethernet framings of IPX.
const (
	// FrameEthernetII is an Ethernet II frame with EtherType 0x8137.
	FrameEthernetII FrameType = iota + 1
	// Frame8023Raw is Novell's raw 802.3: the length field, then the IPX
	// header directly. It is recognised by the 0xFFFF checksum.
	Frame8023Raw
	// Frame8022 is 802.3 with an 802.2 LLC header, DSAP = SSAP = 0xE0.
	Frame8022
	// FrameSNAP is 802.3 with LLC 0xAA 0xAA 0x03, OUI 00-00-00 and
	// type 0x8137.
	FrameSNAP
)

// EtherType is the Ethernet II type (and SNAP protocol id) of IPX.
const EtherType = 0x8137

// Ethernet sizes.
const (
	ethHeaderLen = 14
	// EthernetMinFrame is the minimum Ethernet frame without its FCS;
	// shorter frames are padded with zeros.
	EthernetMinFrame = 60
)

var frameTypeNames = [...]string{"", "Ethernet_II", "802.3", "802.2", "SNAP"}

// String gives the NetWare name of the frame type.
func (t FrameType) String() string {
	if int(t) < len(frameTypeNames) && t != 0 {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("frame(%d)", uint8(t))
}

// headerLen is the bytes of framing before the IPX header.
func (t FrameType) headerLen() int {
	switch t {
	case FrameEthernetII, Frame8023Raw:
		return ethHeaderLen
	case Frame8022:
		return ethHeaderLen + 3
	case FrameSNAP:
		return ethHeaderLen + 8
	}
	return 0
}

// Frame is an IPX packet in an Ethernet frame.
type Frame struct {
	Type FrameType
	// Dst and Src are the Ethernet addresses.
	Dst, Src Node
	Packet   Packet
}

func (f *Frame) length() int {
	return max(f.Type.headerLen()+f.Packet.length(), EthernetMinFrame)
}

// MarshalBinary encodes the frame; see AppendBinary.
func (f *Frame) MarshalBinary() ([]byte, error) {
	return f.AppendBinary(make([]byte, 0, f.length()))
}

// AppendBinary appends the Ethernet frame (without FCS) to b, padded with
// zeros to EthernetMinFrame. A raw 802.3 frame whose packet carries a
// checksum is refused, since receivers tell that framing by the 0xFFFF.
// It allocates only if b lacks the room.
func (f *Frame) AppendBinary(b []byte) ([]byte, error) {
	hl := f.Type.headerLen()
	if hl == 0 {
		return b, fmt.Errorf("ipx: encode %v: %w", f.Type, ErrUnknownFrame)
	}
	if f.Type == Frame8023Raw && f.Packet.Header.Checksum != ChecksumNone {
		return b, fmt.Errorf("ipx: raw 802.3 frame with checksum %#04x: %w", f.Packet.Header.Checksum, ErrBadChecksum)
	}
	plen := f.Packet.length()
	if plen > 1500-(hl-ethHeaderLen) {
		return b, fmt.Errorf("ipx: packet of %d bytes in an Ethernet frame: %w", plen, ErrTooLarge)
	}
	start := len(b)
	b = append(b, f.Dst[:]...)
	b = append(b, f.Src[:]...)
	switch f.Type {
	case FrameEthernetII:
		b = binary.BigEndian.AppendUint16(b, EtherType)
	case Frame8023Raw:
		b = binary.BigEndian.AppendUint16(b, uint16(plen))
	case Frame8022:
		b = binary.BigEndian.AppendUint16(b, uint16(plen+3))
		b = append(b, 0xE0, 0xE0, 0x03)
	case FrameSNAP:
		b = binary.BigEndian.AppendUint16(b, uint16(plen+8))
		b = append(b, 0xAA, 0xAA, 0x03, 0, 0, 0, EtherType>>8, EtherType&0xFF)
	}
	b, err := f.Packet.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	for len(b)-start < EthernetMinFrame {
		b = append(b, 0)
	}
	return b, nil
}

// DetectFrame returns the framing of the Ethernet frame b and the offset of
// its IPX header, without decoding the packet.
func DetectFrame(b []byte) (FrameType, int, error) {
	if len(b) >= ethHeaderLen+2 {
		typeLen := binary.BigEndian.Uint16(b[12:14])
		if typeLen == EtherType {
			return FrameEthernetII, ethHeaderLen, nil
		}
		if typeLen < 0x0600 {
			p := b[ethHeaderLen:]
			switch {
			case p[0] == 0xFF && p[1] == 0xFF:
				return Frame8023Raw, ethHeaderLen, nil
			case len(p) >= 3 && p[0] == 0xE0 && p[1] == 0xE0 && p[2] == 0x03:
				return Frame8022, ethHeaderLen + 3, nil
			case len(p) >= 8 && p[0] == 0xAA && p[1] == 0xAA && p[2] == 0x03 &&
				p[3]|p[4]|p[5] == 0 && p[6] == EtherType>>8 && p[7] == EtherType&0xFF:
				return FrameSNAP, ethHeaderLen + 8, nil
			}
		}
	}
	return 0, 0, detectError(b)
}

// detectError explains why DetectFrame found no IPX framing in b. It is
// out of line to keep DetectFrame's success path small.
//
//go:noinline
func detectError(b []byte) error {
	if len(b) < ethHeaderLen+2 {
		return fmt.Errorf("ipx: Ethernet frame of %d bytes: %w", len(b), ErrShortBuffer)
	}
	typeLen := binary.BigEndian.Uint16(b[12:14])
	if typeLen >= 0x0600 {
		return fmt.Errorf("ipx: EtherType %#04x: %w", typeLen, ErrUnknownFrame)
	}
	p := b[ethHeaderLen:]
	switch {
	case p[0] == 0xE0 && p[1] == 0xE0:
		if len(p) < 3 {
			return fmt.Errorf("ipx: 802.2 header: %w", ErrShortBuffer)
		}
		return fmt.Errorf("ipx: 802.2 control %#02x: %w", p[2], ErrUnknownFrame)
	case p[0] == 0xAA && p[1] == 0xAA:
		if len(p) < 8 {
			return fmt.Errorf("ipx: SNAP header: %w", ErrShortBuffer)
		}
		return fmt.Errorf("ipx: SNAP header % x: %w", p[:8], ErrUnknownFrame)
	}
	return fmt.Errorf("ipx: 802.3 payload starting % x: %w", p[:2], ErrUnknownFrame)
}

// UnmarshalBinary decodes an Ethernet frame (without FCS) carrying IPX in
// any of the four framings, detecting which. The IPX length field decides
// the packet's extent: the 802.3 length and any padding are not trusted.
// The packet's Payload aliases b. f is unchanged on error.
func (f *Frame) UnmarshalBinary(b []byte) error {
	t, off, err := DetectFrame(b)
	if err != nil {
		return err
	}
	pkt := b[off:]
	n, err := checkPacket(pkt)
	if err != nil {
		return err
	}
	f.Type = t
	f.Dst = Node(b[0:6])
	f.Src = Node(b[6:12])
	f.Packet.Header.decode(pkt)
	f.Packet.Payload = pkt[HeaderLen:n:n]
	return nil
}
