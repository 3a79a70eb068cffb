package ipx

import (
	"encoding/binary"
	"fmt"
)

// Checksum computes the IPX checksum of the encoded packet pkt, whose
// length field must be set: the one's-complement sum of the 16-bit words
// after the checksum field, with the transport control byte taken as zero
// (routers change it) and an odd last byte padded with zero. Like Novell's
// and Linux's, the result is never 0xFFFF, which means "no checksum".
// Input shorter than a header is taken as zero-padded to 30 bytes, so a
// bad buffer gives a wrong checksum instead of a panic.
func Checksum(pkt []byte) uint16 {
	if len(pkt) < HeaderLen {
		var pad [HeaderLen]byte
		copy(pad[:], pkt)
		pkt = pad[:]
	}
	n := min(int(binary.BigEndian.Uint16(pkt[2:4])), len(pkt))
	sum := uint32(binary.BigEndian.Uint16(pkt[2:4])) + uint32(pkt[5])
	i := 6
	for ; i+1 < n; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	if i < n {
		sum += uint32(pkt[i]) << 8
	}
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	if sum != 0 {
		sum = ^sum & 0xFFFF
	}
	return uint16(sum)
}

// PutChecksum computes the checksum of the encoded packet pkt and stores it
// in its checksum field. Never use it on packets sent as raw 802.3, whose
// receivers recognise the framing by the 0xFFFF checksum. It does nothing
// to a buffer shorter than a header.
func PutChecksum(pkt []byte) {
	if len(pkt) < HeaderLen {
		return
	}
	binary.BigEndian.PutUint16(pkt[0:2], Checksum(pkt))
}

// VerifyChecksum reports whether the encoded packet pkt carries no checksum
// (0xFFFF) or a correct one; otherwise it returns an error wrapping
// ErrBadChecksum.
func VerifyChecksum(pkt []byte) error {
	if len(pkt) < HeaderLen {
		return fmt.Errorf("ipx: checksum of %d bytes: %w", len(pkt), ErrShortBuffer)
	}
	got := binary.BigEndian.Uint16(pkt[0:2])
	if got == ChecksumNone {
		return nil
	}
	if want := Checksum(pkt); got != want {
		return fmt.Errorf("ipx: checksum %#04x, computed %#04x: %w", got, want, ErrBadChecksum)
	}
	return nil
}
