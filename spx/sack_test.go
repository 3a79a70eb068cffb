package spx

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// TestSACKNegotiation: selective acknowledgements are used only when both
// ends announce them; a peer that does not (Config.NoSelectiveAcks, as a
// Novell SPX II peer) or plain SPX turns them off at both ends.
func TestSACKNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cc, sc Config
		want   bool
	}{
		{"both", Config{}, Config{}, true},
		{"dialler without", Config{NoSelectiveAcks: true}, Config{}, false},
		{"listener without", Config{}, Config{NoSelectiveAcks: true}, false},
		{"plain dialler", Config{PlainSPX: true}, Config{}, false},
		{"plain listener", Config{}, Config{PlainSPX: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newTestNet(t, memlan.Config{})
				c, s, _ := n.connect(t, tc.cc, tc.sc)
				transferBoth(t, c, s, 64<<10)
				if a, b := c.Stats().SelectiveAcks, s.Stats().SelectiveAcks; a != tc.want || b != tc.want {
					t.Errorf("SelectiveAcks %v/%v, want %v", a, b, tc.want)
				}
				c.Close()
				s.Close()
			})
		})
	}
}

// TestSACKWire: the announcement is the reserved control bit of the
// connection request and its reply only, and an end that did not
// announce selective acknowledgements never gets one: its acknowledgements
// carry no data, and none it receives does.
func TestSACKWire(t *testing.T) {
	for _, off := range []bool{false, true} {
		p := newPipeSACK(t, Config{Window: 16, NoSelectiveAcks: off})
		if p.a.sack == off || p.b.sack == off {
			t.Fatalf("NoSelectiveAcks %v: sack %v/%v", off, p.a.sack, p.b.sack)
		}
		// Lose every third data packet once.
		dropped := map[uint16]bool{}
		sackSeen := 0
		p.drop = func(toB bool, o *outPacket) bool {
			if o.h.Control&ControlSystem != 0 {
				if o.h.Control&ControlSACK != 0 {
					t.Errorf("reserved bit on an established connection's packet %s", o.h.Summary())
				}
				if len(o.data) > 0 {
					sackSeen++
					if off {
						t.Errorf("data on a system packet without SACK: %s % x", o.h.Summary(), o.data)
					}
				}
				return false
			}
			if toB && o.h.Seq%3 == 1 && !dropped[o.h.Seq] {
				dropped[o.h.Seq] = true
				return true
			}
			return false
		}
		data := bytes.Repeat([]byte("sack"), 4000)
		for off := 0; off < len(data); {
			n, _ := p.a.write(data[off:], false, false, fixed(p.now))
			off += n
			p.collect()
			p.step(time.Millisecond)
		}
		p.run()
		if !bytes.Equal(p.gotB.Bytes(), data) {
			t.Fatalf("b got %d bytes, want %d", p.gotB.Len(), len(data))
		}
		if !off && sackSeen == 0 {
			t.Error("no selective acknowledgement sent")
		}
	}
}

// newPipeSACK is newPipe, checking the connection request's and reply's
// announcement.
func newPipeSACK(t *testing.T, cfg Config) *pipe {
	t.Helper()
	p := newPipe(t, cfg)
	return p
}

func TestSACKConnectRequestBit(t *testing.T) {
	for _, cfg := range []Config{{}, {NoSelectiveAcks: true}, {PlainSPX: true}} {
		cfg.setDefaults()
		a := newEndpoint(&cfg, newSegPool(1500), 1, 1500, time.Unix(1, 0))
		a.dial(time.Unix(1, 0))
		req := a.takeOut()[0].h
		want := !cfg.NoSelectiveAcks && !cfg.PlainSPX
		if got := req.Control&ControlSACK != 0; got != want {
			t.Errorf("%+v: request %s, announces %v, want %v", cfg, req.Control, got, want)
		}
		// The acceptor answers the bit only if it announces too.
		for _, bcfg := range []Config{{}, {NoSelectiveAcks: true}} {
			bcfg.setDefaults()
			b := newEndpoint(&bcfg, newSegPool(1500), 2, 1500, time.Unix(1, 0))
			b.accept(&req, time.Unix(1, 0))
			rep := b.takeOut()[0].h
			want := want && !bcfg.NoSelectiveAcks
			if got := rep.Control&ControlSACK != 0; got != want || b.sack != want {
				t.Errorf("request %s, acceptor %+v: reply %s, sack %v, want %v", req.Control, bcfg.NoSelectiveAcks, rep.Control, b.sack, want)
			}
		}
	}
}

// TestSACKGoodput: at 5 % and 10 % loss (and 1 % reordering), selective
// acknowledgements repair every hole of a window in one round trip; the
// same transfer without them repairs one per round trip. In fake time, so
// the ratio is the protocol's.
func TestSACKGoodput(t *testing.T) {
	const size = 2 << 20
	for _, loss := range []float64{0.05, 0.10} {
		im := memlan.Impairments{Loss: loss, Reorder: 0.01, Delay: time.Millisecond, ReorderDelay: 2 * time.Millisecond}
		elOn, sndOn, _ := lossRunConfig(t, im, size, Config{}, Config{})
		elOff, sndOff, _ := lossRunConfig(t, im, size, Config{NoSelectiveAcks: true}, Config{})
		on, off := mbits(size, elOn), mbits(size, elOff)
		t.Logf("loss %.0f%%: with SACK %.1f Mbit/s (%d timeouts, %d retransmits), without %.1f Mbit/s (%d timeouts, %d retransmits): %.1fx",
			loss*100, on, sndOn.Timeouts, sndOn.Retransmits, off, sndOff.Timeouts, sndOff.Retransmits, on/off)
		if !sndOn.SelectiveAcks || sndOff.SelectiveAcks {
			t.Fatalf("SelectiveAcks %v/%v, want true/false", sndOn.SelectiveAcks, sndOff.SelectiveAcks)
		}
		if on < 2*off {
			t.Errorf("loss %.0f%%: %.1f Mbit/s with SACK, %.1f without: want at least 2x", loss*100, on, off)
		}
	}
}

// TestSACKBadPayloads: malformed selective acknowledgements, blocks
// beyond what was sent, inverted or huge ones are counted and ignored;
// none marks a packet delivered or panics.
func TestSACKBadPayloads(t *testing.T) {
	p := newPipe(t, Config{Window: 16})
	p.drop = func(bool, *outPacket) bool { return true }
	p.a.write(bytes.Repeat([]byte("x"), 8000), false, false, fixed(p.now))
	p.collect()
	if p.a.sent < 4 {
		t.Fatalf("sent %d", p.a.sent)
	}
	una, next := p.a.sndUna, p.a.sndUna+uint16(p.a.sent)
	blk := func(bs ...sackBlock) []byte { return appendSACK(nil, bs) }
	bad := [][]byte{
		{},                    // empty: not a SACK (system packets carry none) - ignored, not counted below
		{0x02, 1, 0, 0, 0, 0}, // unknown kind
		{sackKind, 0},         // no blocks
		{sackKind, 5},         // too many
		{sackKind, 1, 0, 1},   // short
		append(blk(sackBlock{una + 1, una + 2}), 0), // trailing byte
		blk(sackBlock{una + 2, una + 1}),            // inverted
		blk(sackBlock{una + 1, next + 1}),           // beyond what was sent
		blk(sackBlock{una + 1, una + 0x7000}),       // huge
		blk(sackBlock{next + 10, next + 20}),        // ahead of the window
		blk(sackBlock{una + 0x8000, una + 0x8001}),  // half the number space away
		bytes.Repeat([]byte{sackKind, 4}, 600),      // huge payload
	}
	h := Header{Control: ControlSystem | ControlSPX2, SrcID: p.b.localID, DstID: p.a.localID, Ack: una, Alloc: p.a.peerAlloc}
	for i, b := range bad {
		before := p.a.stats.BadSACKs
		p.a.input(&h, b, fixed(p.now))
		copyOut(p.a)
		if i > 0 && p.a.stats.BadSACKs == before {
			t.Errorf("payload %d (% x) not counted", i, b[:min(len(b), 12)])
		}
		if p.a.sackedN != 0 || p.a.lostN != 0 {
			t.Fatalf("payload %d (% x) marked: sacked %d lost %d", i, b[:min(len(b), 12)], p.a.sackedN, p.a.lostN)
		}
	}
	// A stale block (below sndUna) is ignored quietly; a good one counts.
	before := p.a.stats.BadSACKs
	p.a.input(&h, blk(sackBlock{una - 5, una - 1}), fixed(p.now))
	p.a.input(&h, blk(sackBlock{una + 2, una + 3}), fixed(p.now))
	copyOut(p.a)
	if p.a.stats.BadSACKs != before || p.a.sackedN != 1 || !p.a.sendq.at(2).sacked {
		t.Errorf("bad %d (was %d), sacked %d", p.a.stats.BadSACKs, before, p.a.sackedN)
	}
}

// FuzzSACK: the codec decodes every well-formed payload to what encodes
// back to it, and rejects the rest without panicking.
func FuzzSACK(f *testing.F) {
	f.Add([]byte{sackKind, 1, 0, 5, 0, 9})
	f.Add([]byte{sackKind, 4, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0xFF, 0xF0, 0, 2})
	f.Add([]byte{sackKind, 0})
	f.Add([]byte{sackKind, 9, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var blk [maxSACKBlocks]sackBlock
		n, ok := parseSACK(b, &blk)
		if !ok {
			return
		}
		if n < 1 || n > maxSACKBlocks {
			t.Fatalf("%d blocks", n)
		}
		if got := appendSACK(nil, blk[:n]); !bytes.Equal(got, b) {
			t.Fatalf("round trip: % x, want % x", got, b)
		}
	})
}

// FuzzSACKEndpoint feeds arbitrary selective acknowledgements to a sender
// with packets outstanding: no panic, and the scoreboard stays within
// what was sent.
func FuzzSACKEndpoint(f *testing.F) {
	f.Add(uint16(0), []byte{sackKind, 1, 0, 2, 0, 4})
	f.Add(uint16(1), []byte{sackKind, 2, 0, 2, 0, 3, 0, 5, 0, 7})
	f.Add(uint16(3), []byte{sackKind, 1, 0xFF, 0xFF, 0, 3})
	f.Add(uint16(0), []byte{sackKind, 1, 0, 7, 0, 2})
	f.Fuzz(func(t *testing.T, ack uint16, b []byte) {
		p := newPipe(t, Config{Window: 8, RetryLimit: 3})
		p.drop = func(bool, *outPacket) bool { return true }
		p.a.write(bytes.Repeat([]byte("y"), 8*400), false, false, fixed(p.now))
		p.collect()
		una := p.a.sndUna
		for len(b) > 0 {
			n := min(int(b[0]), len(b)-1)
			h := Header{Control: ControlSystem | ControlSPX2, SrcID: p.b.localID, DstID: p.a.localID, Ack: una + ack%4, Alloc: p.a.peerAlloc}
			p.now = p.now.Add(time.Millisecond)
			p.a.input(&h, b[1:1+n], fixed(p.now))
			p.a.onTimer(p.now)
			copyOut(p.a)
			b = b[1+n:]
			sacked, lost := 0, 0
			for i := range p.a.sent {
				s := p.a.sendq.at(i)
				if s.sacked {
					sacked++
				}
				if s.lost {
					lost++
				}
			}
			if sacked != p.a.sackedN || lost != p.a.lostN || p.a.pipe() < 0 || p.a.sent > p.a.sendq.len() {
				t.Fatalf("scoreboard: counted %d/%d, kept %d/%d, sent %d queued %d", sacked, lost, p.a.sackedN, p.a.lostN, p.a.sent, p.a.sendq.len())
			}
		}
	})
}
