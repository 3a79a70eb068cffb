package ipxarbiter

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []Message{
		{Op: OpClaim, ID: 1, Network: 0xC0FFEE, Epoch: 3, Name: "00000001:020000000001"},
		{Op: OpGranted, ID: ^uint64(0), Network: 1, Epoch: ^uint32(0), Name: ""},
		{Op: OpDenied, ID: 7, Network: 2, Epoch: 9, Name: strings.Repeat("x", MaxName)},
	} {
		b, err := seal(nil, &m, key)
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := open(&got, b, key); err != nil || got != m {
			t.Fatalf("open(seal(%+v)) = %+v, %v", m, got, err)
		}
		b[5] ^= 1
		if err := open(&got, b, key); !errors.Is(err, ErrAuth) {
			t.Fatalf("tampered message: %v", err)
		}
	}
	long := Message{Op: OpClaim, Name: strings.Repeat("x", MaxName+1)}
	if _, err := long.AppendBinary(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long name: %v", err)
	}
}

func TestAppendBinaryAllocs(t *testing.T) {
	m := Message{Op: OpClaim, ID: 1, Network: 2, Epoch: 3, Name: "server"}
	b := make([]byte, 0, MaxLen)
	if n := testing.AllocsPerRun(100, func() { b, _ = m.AppendBinary(b[:0]) }); n != 0 {
		t.Fatalf("AppendBinary allocates %v times", n)
	}
}

func FuzzMessage(f *testing.F) {
	for _, m := range []Message{
		{Op: OpClaim, ID: 1, Network: 0xC0FFEE, Epoch: 3, Name: "a"},
		{Op: OpDenied, ID: 2, Network: 1, Epoch: 1, Name: strings.Repeat("y", MaxName)},
	} {
		b, _ := m.AppendBinary(nil)
		f.Add(b)
	}
	f.Add([]byte("AR"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding %x gave %x, %v", b, out, err)
		}
		if err := open(&m, b, key); err == nil {
			t.Fatal("a message without a MAC verified")
		}
	})
}
