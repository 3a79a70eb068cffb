package ipx

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// refChecksum is an independent IPX checksum: RFC 1071 style, folding the
// carry after every 16-bit addition, over a copy in which the checksum
// field and the transport control byte are zero and an odd tail is padded.
func refChecksum(pkt []byte) uint16 {
	n := int(binary.BigEndian.Uint16(pkt[2:4]))
	d := make([]byte, n+n%2)
	copy(d, pkt[:n])
	d[0], d[1], d[4] = 0, 0, 0
	var s uint32
	for i := 0; i < len(d); i += 2 {
		s += uint32(d[i])<<8 | uint32(d[i+1])
		s = s&0xFFFF + s>>16
	}
	return ^uint16(s)
}

// vectorPacket is a 33-byte packet whose checksum was worked out by hand:
// the words after the checksum field, with transport control zeroed and
// the odd byte padded, are 0021 0004 0000 0001 0102 0304 0506 0452 0000
// 0002 0a0b 0c0d 0e0f 4001 6162 6300; they sum to 0x13610, folded 0x3611,
// complemented 0xc9ee.
var vectorPacket = []byte{
	0x00, 0x00, 0x00, 0x21, 0x07, 0x04,
	0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0x04, 0x52,
	0, 0, 0, 2, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x40, 0x01,
	'a', 'b', 'c',
}

func TestChecksumVector(t *testing.T) {
	if got := Checksum(vectorPacket); got != 0xc9ee {
		t.Errorf("Checksum = %#04x, want 0xc9ee", got)
	}
	if got := refChecksum(vectorPacket); got != 0xc9ee {
		t.Errorf("refChecksum = %#04x, want 0xc9ee (test helper broken)", got)
	}
}

func TestChecksum(t *testing.T) {
	base := func(n int) []byte {
		p := Packet{Header: testHeader, Payload: make([]byte, n)}
		for i := range p.Payload {
			p.Payload[i] = byte(i*7 + 1)
		}
		b, _ := p.MarshalBinary()
		return b
	}
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"header only", base(0)},
		{"odd 1", base(1)},
		{"even 2", base(2)},
		{"odd 101", base(101)},
		{"546", base(MaxPacketLen - HeaderLen)},
		{"all ones", func() []byte {
			b := base(8)
			for i := 4; i < len(b); i++ {
				b[i] = 0xff
			}
			return b
		}()},
		{"all zero data", func() []byte {
			b := make([]byte, 40)
			b[3] = 40
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := refChecksum(tt.pkt)
			if got := Checksum(tt.pkt); got != want {
				t.Fatalf("Checksum = %#04x, want %#04x", got, want)
			}
			// The checksum and transport control bytes do not count.
			b := append([]byte(nil), tt.pkt...)
			b[0], b[1], b[4] = 0x12, 0x34, 15
			if got := Checksum(b); got != want {
				t.Errorf("with other checksum/transport control: %#04x, want %#04x", got, want)
			}
			// Bytes past the length field do not count.
			if got := Checksum(append(b, 0xAB, 0xCD, 0xEF)); got != want {
				t.Errorf("with trailing bytes: %#04x, want %#04x", got, want)
			}
			PutChecksum(b)
			if err := VerifyChecksum(b); err != nil {
				t.Errorf("VerifyChecksum after PutChecksum: %v", err)
			}
			b[4]++ // a router increments the hop count: still valid
			if err := VerifyChecksum(b); err != nil {
				t.Errorf("VerifyChecksum after hop: %v", err)
			}
			b[len(b)-1] ^= 0x40
			if err := VerifyChecksum(b); !errors.Is(err, ErrBadChecksum) {
				t.Errorf("VerifyChecksum of corrupted packet = %v, want ErrBadChecksum", err)
			}
			b[0], b[1] = 0xff, 0xff
			if err := VerifyChecksum(b); err != nil {
				t.Errorf("VerifyChecksum with 0xFFFF: %v", err)
			}
		})
	}
}

// TestChecksumNeverFFFF builds a packet whose one's-complement sum is
// 0xFFFF, whose checksum is therefore 0 (0xFFFF is reserved for "none"),
// and checks random packets never produce 0xFFFF.
func TestChecksumNeverFFFF(t *testing.T) {
	b, _ := (&Packet{Header: testHeader, Payload: []byte{0, 0}}).MarshalBinary()
	// With the last word zero the sum is S; setting it to ^S makes the
	// sum 0xFFFF.
	s := ^refChecksum(b)
	binary.BigEndian.PutUint16(b[HeaderLen:], ^s)
	if got := Checksum(b); got != 0 {
		t.Fatalf("Checksum of a packet summing to 0xFFFF = %#04x, want 0", got)
	}
	PutChecksum(b)
	if err := VerifyChecksum(b); err != nil {
		t.Errorf("VerifyChecksum with checksum 0: %v", err)
	}

	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := HeaderLen + r.IntN(40)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		got := Checksum(b)
		if got == ChecksumNone {
			t.Fatalf("Checksum(% x) = 0xffff", b)
		}
		if want := refChecksum(b); got != want {
			t.Fatalf("Checksum(% x) = %#04x, want %#04x", b, got, want)
		}
	}
}

func TestChecksumShort(t *testing.T) {
	// Short input must not panic; VerifyChecksum reports it.
	for n := 0; n < HeaderLen; n++ {
		b := make([]byte, n)
		_ = Checksum(b)
		PutChecksum(b)
		if err := VerifyChecksum(b); !errors.Is(err, ErrShortBuffer) {
			t.Errorf("VerifyChecksum(%d bytes) = %v, want ErrShortBuffer", n, err)
		}
	}
}

func TestChecksumAllocs(t *testing.T) {
	b := append([]byte(nil), vectorPacket...)
	allocs := testing.AllocsPerRun(100, func() {
		PutChecksum(b)
		if err := VerifyChecksum(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("PutChecksum+VerifyChecksum: %v allocs", allocs)
	}
}
