package memlan

import (
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
)

// A link whose reader takes each packet as it comes keeps one buffer and
// reuses it, still in the cache, rather than one per queue slot, each
// copied into a queue's length of packets later.
func TestSpareBufferReused(t *testing.T) {
	seg := NewSegment(Config{QueueLen: 64})
	a, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, buf := make([]byte, 100), make([]byte, 1500)
	for i := range 200 {
		p[0] = byte(i)
		if err := a.WritePacket(p, b.Node()); err != nil {
			t.Fatal(err)
		}
		if n, _, err := b.ReadPacket(buf); err != nil || n != len(p) || buf[0] != byte(i) {
			t.Fatalf("packet %d: read %d bytes, first %d, %v", i, n, buf[0], err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	held := 0
	for _, s := range b.ring {
		if s.buf != nil {
			held++
		}
	}
	if held != 0 || len(b.free) != 1 {
		t.Fatalf("after 200 packets read one by one: %d slots hold a buffer, %d spare; want 0 and 1", held, len(b.free))
	}
}
