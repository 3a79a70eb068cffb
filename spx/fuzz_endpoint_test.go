package spx

import (
	"testing"
	"time"
)

// FuzzEndpoint feeds arbitrary packets to an established endpoint, as a
// hostile or broken peer would send them: it must never panic, and its
// buffers must stay within the window.
func FuzzEndpoint(f *testing.F) {
	f.Add([]byte{0x00, 0, 0x22, 0x22, 0x11, 0x11, 0, 0, 0, 0, 0, 7, 3, 'a', 'b', 'c'})
	f.Add([]byte{0x40, 0xFE, 0x22, 0x22, 0x11, 0x11, 0, 1, 0, 0, 0, 7, 0})
	f.Add([]byte{0x08, 0xFC, 0x22, 0x22, 0x11, 0x11, 0, 0, 0x80, 0, 0xFF, 0xFF, 0, 1, 0})
	f.Add([]byte{0x80, 0, 0x22, 0x22, 0x11, 0x11, 0, 0, 0x12, 0x34, 0x12, 0x40, 0})
	f.Fuzz(fuzzEndpointBody)
}

func fuzzEndpointBody(t *testing.T, b []byte) {
	{
		p := newPipe(t, Config{Window: 8, RetryLimit: 3})
		p.a.write([]byte("outgoing data"), true, false, fixed(p.now))
		p.collect()
		for len(b) > 0 {
			var h Header
			if h.UnmarshalBinary(b) != nil {
				return
			}
			b = b[h.length():]
			n := 0
			if len(b) > 0 {
				n = min(int(b[0]), len(b)-1)
				b = b[1:]
			}
			data := b[:n]
			b = b[n:]
			p.now = p.now.Add(time.Millisecond)
			p.a.input(&h, data, fixed(p.now))
			p.a.onTimer(p.now)
			copyOut(p.a)
			if p.a.readyq.len() > 8 || p.a.sendq.len() > 8 || p.a.oooCount > 8 {
				t.Fatalf("buffers beyond the window: ready %d send %d ooo %d", p.a.readyq.len(), p.a.sendq.len(), p.a.oooCount)
			}
			if !seqLessEq(p.a.sndUna, p.a.sndUna+uint16(p.a.sent)) || p.a.sent > p.a.sendq.len() {
				t.Fatalf("send state: una %d sent %d queued %d", p.a.sndUna, p.a.sent, p.a.sendq.len())
			}
			buf := make([]byte, 64)
			p.a.read(buf, true)
		}
	}
}
