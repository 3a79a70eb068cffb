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
	length := binary.BigEndian.Uint16(pkt[2:4])
	n := min(int(length), len(pkt))
	sum := uint64(length) + uint64(pkt[5])
	var b []byte
	if n > 6 {
		b = pkt[6:n]
	}
	// Summing 32-bit big-endian words gives the same one's-complement
	// result as 16-bit ones (2^16 = 1 modulo 0xFFFF), in half the steps.
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
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
