package spx

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// lazyAt returns a clock that says t if asked, and records whether it was.
func lazyAt(t time.Time) *clock { return &clock{t: t} }

// pipe connects two endpoints through an explicit wire: the test decides
// which packets arrive and when, and drives the clock.
type pipe struct {
	t      *testing.T
	now    time.Time
	a, b   *endpoint
	toA    []outPacket // in flight towards a
	toB    []outPacket
	drop   func(toB bool, p *outPacket) bool
	gotA   bytes.Buffer // data read by a's application
	gotB   bytes.Buffer
	cfg    Config
	sentAB int // packets a sent
}

func newPipe(t *testing.T, cfg Config) *pipe {
	cfg.setDefaults()
	p := &pipe{t: t, now: time.Unix(1000, 0), cfg: cfg}
	pool := newSegPool(1500)
	p.a = newEndpoint(&p.cfg, pool, 0x1111, 1500, p.now)
	p.b = newEndpoint(&p.cfg, pool, 0x2222, 1500, p.now)
	p.a.dial(p.now)
	p.collect()
	// b is the acceptor: it takes a's request.
	req := p.toB[0]
	p.toB = p.toB[1:]
	p.b.accept(&req.h, p.now)
	p.collect()
	p.run()
	if p.a.state != stEstablished || p.b.state != stEstablished {
		t.Fatalf("not established: %v %v", p.a.state, p.b.state)
	}
	return p
}

// copyOut takes e's queued packets, copying their data (it aliases
// segments that may be recycled).
func copyOut(e *endpoint) []outPacket {
	var r []outPacket
	for _, o := range e.takeOut() {
		o.data = append([]byte(nil), o.data...)
		r = append(r, o)
	}
	return r
}

func (p *pipe) collect() {
	for _, o := range copyOut(p.a) {
		p.sentAB++
		if p.drop == nil || !p.drop(true, &o) {
			p.toB = append(p.toB, o)
		}
	}
	for _, o := range copyOut(p.b) {
		if p.drop == nil || !p.drop(false, &o) {
			p.toA = append(p.toA, o)
		}
	}
}

// step delivers everything in flight, advancing the clock by d first.
func (p *pipe) step(d time.Duration) {
	p.now = p.now.Add(d)
	toA, toB := p.toA, p.toB
	p.toA, p.toB = nil, nil
	for i := range toB {
		p.b.input(&toB[i].h, toB[i].data, lazyAt(p.now))
	}
	for i := range toA {
		p.a.input(&toA[i].h, toA[i].data, lazyAt(p.now))
	}
	p.drain()
	p.collect()
}

// drain reads everything the applications have been given.
func (p *pipe) drain() {
	buf := make([]byte, 4096)
	for _, x := range []struct {
		e *endpoint
		w *bytes.Buffer
	}{{p.a, &p.gotA}, {p.b, &p.gotB}} {
		for x.e.readyq.len() > 0 {
			n, _, _, _ := x.e.read(buf, false)
			x.w.Write(buf[:n])
		}
	}
}

// run steps with 1 ms latency, firing timers, until nothing is in flight
// and no timer is due within limit.
func (p *pipe) run() {
	for i := 0; i < 100000; i++ {
		if len(p.toA)+len(p.toB) > 0 {
			p.step(time.Millisecond)
			continue
		}
		d := earliest(p.a.nextDeadline(), p.b.nextDeadline())
		if d.IsZero() || d.Sub(p.now) > 2*time.Second {
			return
		}
		p.now = d
		p.a.onTimer(p.now)
		p.b.onTimer(p.now)
		p.collect()
	}
	p.t.Fatal("pipe did not settle")
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case a.Before(b):
		return a
	}
	return b
}

func TestEndpointTransfer(t *testing.T) {
	p := newPipe(t, Config{Window: 8})
	if !p.a.spx2 || !p.b.spx2 || p.b.peerMax != 1500 || p.a.peerMax != 1500 {
		t.Fatalf("negotiation: spx2 %v/%v peerMax %d/%d", p.a.spx2, p.b.spx2, p.a.peerMax, p.b.peerMax)
	}
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 5000)
	off := 0
	for off < len(data) {
		n, err := p.a.write(data[off:], false, false, fixed(p.now))
		if err != nil {
			t.Fatal(err)
		}
		off += n
		p.collect()
		p.step(time.Millisecond)
	}
	p.run()
	if !bytes.Equal(p.gotB.Bytes(), data) {
		t.Fatalf("b got %d bytes, want %d", p.gotB.Len(), len(data))
	}
	st := p.a.statsSnapshot()
	if st.Retransmits != 0 {
		t.Errorf("retransmits on a clean wire: %+v", st)
	}
	if st.SRTT <= 0 || st.SRTT > 10*time.Millisecond {
		t.Errorf("SRTT %v, want a few ms", st.SRTT)
	}
}

func TestEndpointRetryLimit(t *testing.T) {
	p := newPipe(t, Config{RetryLimit: 3})
	p.drop = func(bool, *outPacket) bool { return true } // the wire goes dead
	p.a.write([]byte("x"), false, false, fixed(p.now))
	p.collect()
	for range 100 {
		d := p.a.nextDeadline()
		if p.a.state == stDone || d.IsZero() {
			break
		}
		p.now = d
		p.a.onTimer(p.now)
		p.collect()
	}
	if !errors.Is(p.a.err, ErrRetryLimit) {
		t.Fatalf("err = %v, want ErrRetryLimit", p.a.err)
	}
}

// TestEndpointEndOfConnection: the end (0xFE) is answered with 0xFF, and
// answered again if repeated after the connection finished (the first
// answer was lost).
func TestEndpointEndOfConnection(t *testing.T) {
	p := newPipe(t, Config{})
	p.a.write([]byte("bye"), false, false, fixed(p.now))
	p.a.close(fixed(p.now))
	p.collect()
	var end outPacket
	for _, o := range p.toB {
		if o.h.DatastreamType == DatastreamEndOfConnection {
			end = o
		}
	}
	if end.h.DatastreamType != DatastreamEndOfConnection || end.h.Control&ControlSystem != 0 {
		t.Fatalf("no sequenced end of connection in %+v", p.toB)
	}
	p.step(time.Millisecond)
	answered := func() bool {
		for _, o := range p.toA {
			if o.h.DatastreamType == DatastreamEndOfConnectionAck && o.h.Control&ControlSystem != 0 && o.h.Ack == end.h.Seq+1 {
				return true
			}
		}
		return false
	}
	if !answered() || !p.b.peerEnded {
		t.Fatalf("end not answered: %+v", p.toA)
	}
	p.run()
	if p.a.state != stDone || p.a.err != nil {
		t.Fatalf("closing end: state %v err %v", p.a.state, p.a.err)
	}
	if _, err := p.b.write([]byte("x"), false, false, fixed(p.now)); err != ErrTerminated {
		t.Errorf("write after the peer's end: %v", err)
	}
	p.b.close(fixed(p.now))
	if p.b.state != stDone || p.b.err != nil {
		t.Fatalf("closed end: state %v err %v", p.b.state, p.b.err)
	}
	p.toA = nil
	p.b.input(&end.h, nil, fixed(p.now)) // repeated: our 0xFF was lost
	p.collect()
	if !answered() {
		t.Errorf("repeated end not answered after finishing: %+v", p.toA)
	}
}

// A data packet in order that finds a delayed acknowledgement pending
// does not read the clock; lastHeard then lags by at most AckDelay, as
// the acknowledgement's timer brings it up to date.
func TestLastHeardWithoutClock(t *testing.T) {
	p := newPipe(t, Config{})
	// One write of three packets: only the last asks for an ack.
	if _, err := p.a.write(make([]byte, 3*p.a.maxData()), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	p.collect()
	if len(p.toB) != 3 || p.toB[0].h.Control&ControlSendAck != 0 || p.toB[1].h.Control&ControlSendAck != 0 {
		t.Fatalf("%d packets in flight, want 3, the first two not asking for an ack", len(p.toB))
	}
	t0 := p.now
	deliver := func(at time.Duration) *clock {
		o := p.toB[0]
		p.toB = p.toB[1:]
		clk := lazyAt(t0.Add(at))
		p.b.input(&o.h, o.data, clk)
		return clk
	}
	if clk := deliver(time.Millisecond); !clk.ok || !p.b.lastHeard.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("first packet: clock read %v, lastHeard %v", clk.ok, p.b.lastHeard.Sub(t0))
	}
	ackAt := p.b.ackAt
	if want := t0.Add(time.Millisecond + p.cfg.AckDelay); !ackAt.Equal(want) {
		t.Fatalf("ack due at %v, want %v", ackAt.Sub(t0), want.Sub(t0))
	}
	if clk := deliver(4 * time.Millisecond); clk.ok {
		t.Fatal("second packet read the clock")
	}
	if p.b.readyq.len() != 2 || !p.b.lastHeard.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("%d packets ready, lastHeard %v", p.b.readyq.len(), p.b.lastHeard.Sub(t0))
	}
	if d := p.b.nextDeadline(); d.After(ackAt) {
		t.Fatalf("next timer at %v, after the ack due at %v", d.Sub(t0), ackAt.Sub(t0))
	}
	p.b.onTimer(ackAt)
	lag := p.b.lastHeard.Sub(t0.Add(4 * time.Millisecond))
	if lag < 0 || lag > p.cfg.AckDelay {
		t.Fatalf("lastHeard %v after the last packet, want within AckDelay %v", lag, p.cfg.AckDelay)
	}
	if p.b.heardLate {
		t.Fatal("still marked late after the timer")
	}
}

// TestLentBuffer checks the direct path into a waiting reader's buffer:
// in-order data goes there, what does not fit is buffered after it, data
// behind a gap waits for the gap, and attention data is never lent.
func TestLentBuffer(t *testing.T) {
	p := newPipe(t, Config{})
	max := p.a.maxData()
	first := bytes.Repeat([]byte("a"), max)
	second := bytes.Repeat([]byte("b"), max)
	if _, err := p.a.write(append(append([]byte(nil), first...), second...), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.a.write([]byte("!"), true, true, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	p.collect()
	if len(p.toB) != 3 {
		t.Fatalf("%d packets in flight, want 3", len(p.toB))
	}
	in := func(i int) {
		o := p.toB[i]
		p.b.input(&o.h, o.data, lazyAt(p.now))
	}
	buf := make([]byte, max+10)
	p.b.lend(buf)
	in(1) // behind a gap: buffered out of order, not lent
	if p.b.rn != 0 || p.b.readable() {
		t.Fatalf("data behind a gap reached the lent buffer (%d bytes)", p.b.rn)
	}
	in(0) // fills the gap: goes to the buffer, the rest queues after it
	if p.b.rn != max || p.b.readyq.len() != 1 {
		t.Fatalf("lent %d bytes, %d segments queued; want %d and 1", p.b.rn, p.b.readyq.len(), max)
	}
	in(2) // attention: queued, never lent
	if n := p.b.takeLent(); n != max || !bytes.Equal(buf[:n], first) {
		t.Fatalf("lent buffer holds %d bytes %q…", n, buf[:min(n, 8)])
	}
	n, info, _, err := p.b.read(buf, true)
	if err != nil || !bytes.Equal(buf[:n], second) || info.Attention {
		t.Fatalf("next read: %d bytes, %+v, %v", n, info, err)
	}
	n, info, _, err = p.b.read(buf, true)
	if err != nil || string(buf[:n]) != "!" || !info.Attention || !info.EOM {
		t.Fatalf("attention read: %q %+v %v", buf[:n], info, err)
	}

	// A buffer smaller than the packet takes what fits; the rest is
	// read next, in order.
	if _, err := p.a.write([]byte("0123456789"), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	p.toB = nil
	p.collect()
	small := make([]byte, 4)
	p.b.lend(small)
	in(0)
	if n := p.b.takeLent(); n != 4 || string(small) != "0123" {
		t.Fatalf("small lent buffer: %d %q", n, small)
	}
	if n, _, _, _ := p.b.read(buf, false); string(buf[:n]) != "456789" {
		t.Fatalf("rest after the lent buffer: %q", buf[:n])
	}
}

// TestSegmentSentInPlace checks the zero-copy send: a data packet is
// built in its segment's headroom, and a segment acknowledged while its
// send is in progress is recycled only once the send is done.
func TestSegmentSentInPlace(t *testing.T) {
	p := newPipe(t, Config{})
	c := &Conn{ep: p.a, m: &mux{cfg: &p.cfg}}
	if _, err := p.a.write([]byte("in place"), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	s := p.a.sendq.front()
	c.flush()
	if len(c.out) != 1 || c.outSegs[0] != s || s.inflight != 1 {
		t.Fatalf("flush: %d packets, segment %p in flight %d", len(c.out), c.outSegs[0], s.inflight)
	}
	pkt := c.out[0]
	var h Header
	if err := h.UnmarshalBinary(pkt[ipx.HeaderLen:]); err != nil || h.Seq != s.seq ||
		string(pkt[ipx.HeaderLen+h.Len():]) != "in place" || &pkt[len(pkt)-1] != &s.buf[headroom+len(s.data)-1] {
		t.Fatalf("packet % x (%v), not the segment's own bytes", pkt, err)
	}
	// The acknowledgement arrives while the packet is still being sent.
	ack := Header{Control: ControlSystem, SrcID: p.b.localID, DstID: p.a.localID, Ack: s.seq + 1, Alloc: p.a.peerAlloc}
	free := len(p.a.free)
	p.a.input(&ack, nil, lazyAt(p.now))
	if p.a.sendq.len() != 0 || !s.retired || len(p.a.free) != free {
		t.Fatalf("acknowledged: queued %d, retired %v, free %d (was %d)", p.a.sendq.len(), s.retired, len(p.a.free), free)
	}
	if seg := p.a.newSegment(); seg == s {
		t.Fatal("a segment still being sent was handed out again")
	}
	c.release(c.out, c.outSegs)
	if s.inflight != 0 || s.retired || p.a.free[len(p.a.free)-1] != s {
		t.Fatalf("after the send: in flight %d, retired %v, not recycled", s.inflight, s.retired)
	}
}

// TestCongestionWindow checks the response to loss: the window is whole
// on a clean wire; a fast retransmission halves it, and no more than it
// is in flight until acknowledgements open it again; a timeout takes it
// to one packet, from which it grows back.
func TestCongestionWindow(t *testing.T) {
	p := newPipe(t, Config{Window: 32})
	max := p.a.maxData()
	fill := func(packets int) {
		t.Helper()
		if _, err := p.a.write(make([]byte, packets*max), false, false, fixed(p.now)); err != nil {
			t.Fatal(err)
		}
		p.collect()
	}
	fill(32)
	if p.a.cwnd != 32 || p.a.sent != 32 {
		t.Fatalf("clean start: cwnd %d, %d in flight; want the whole window of 32", p.a.cwnd, p.a.sent)
	}
	// Lose the first packet: the rest arrive out of order, and their
	// duplicate acknowledgements bring a fast retransmission.
	p.toB = p.toB[1:]
	p.step(time.Millisecond) // 31 packets reach b, 31 duplicate acks come back
	p.step(time.Millisecond) // a retransmits
	st := p.a.statsSnapshot()
	if st.FastRetransmits != 1 || st.CongestionEvents != 1 || st.Cwnd != 16 || p.a.ssthresh != 16 {
		t.Fatalf("after the loss: %+v, ssthresh %d; want one fast retransmission and cwnd 16", st, p.a.ssthresh)
	}
	p.run()
	if p.gotB.Len() != 32*max {
		t.Fatalf("b got %d bytes, want %d", p.gotB.Len(), 32*max)
	}
	// Congestion avoidance: at most cwnd in flight, one more per window.
	// (First b tells a its whole window, which its reads reopened.)
	p.b.emit(Header{Control: ControlSystem, SrcID: p.b.localID, DstID: p.b.remoteID}, nil)
	p.collect()
	p.step(time.Millisecond)
	before := p.a.cwnd
	fill(32)
	if p.a.sent != before || len(p.toB) != before {
		t.Fatalf("%d in flight, %d on the wire; want cwnd %d (allocation up to %d from %d)", p.a.sent, len(p.toB), before, p.a.peerAlloc, p.a.sndUna)
	}
	p.run()
	if p.a.cwnd != before+1 && p.a.cwnd != before+2 {
		t.Fatalf("cwnd %d after a window of %d acknowledged, want %d or %d", p.a.cwnd, before, before+1, before+2)
	}

	// A timeout: the wire goes dead until it fires (tail probes go
	// first, and are lost too).
	p.drop = func(bool, *outPacket) bool { return true }
	fill(4)
	for p.a.stats.Timeouts == 0 {
		p.now = p.a.nextDeadline()
		p.a.onTimer(p.now)
		p.collect()
	}
	if st := p.a.statsSnapshot(); st.Timeouts != 1 || st.Cwnd != 1 {
		t.Fatalf("after a timeout: %+v, want cwnd 1", st)
	}
	p.drop = nil
	p.toB = nil
	p.now = p.a.nextDeadline()
	p.a.onTimer(p.now) // retransmits, and now it arrives
	p.collect()
	p.run()
	// The two packets came back one by one as the window grew from one.
	if p.a.sent != 0 || p.a.cwnd < 2 {
		t.Fatalf("after recovery: %d in flight, cwnd %d; want it grown from 1", p.a.sent, p.a.cwnd)
	}
	// New data goes out no faster than the window allows.
	cwnd := p.a.cwnd
	fill(8)
	if p.a.sent != cwnd {
		t.Fatalf("%d in flight with cwnd %d", p.a.sent, cwnd)
	}
	p.run()
	if p.a.sent != 0 || p.a.cwnd <= cwnd || p.gotB.Len() != (64+4+8)*max {
		t.Fatalf("after more data: %d in flight, cwnd %d (was %d), b has %d bytes", p.a.sent, p.a.cwnd, cwnd, p.gotB.Len())
	}
}

// TestTimeoutRecoversBurst loses a burst of packets with too few behind
// it for a fast retransmission, and the tail probes: after the timeout
// the lost packets come back as the window grows from one (1, 2, 4,
// ...), in a few round trips rather than one round trip each.
func TestTimeoutRecoversBurst(t *testing.T) {
	p := newPipe(t, Config{Window: 32})
	max := p.a.maxData()
	if _, err := p.a.write(make([]byte, 14*max), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	p.collect()
	if len(p.toB) != 14 {
		t.Fatalf("%d packets in flight, want 14", len(p.toB))
	}
	lost := map[uint16]bool{}
	for _, o := range p.toB[:12] {
		lost[o.h.Seq] = true
	}
	last := p.toB[13].h.Seq
	p.toB = p.toB[12:] // 12 lost; the duplicate acks are lost too
	p.step(time.Millisecond)
	p.toA = nil
	var resent []uint16
	sends := map[uint16]int{}
	var first time.Time
	p.drop = func(toB bool, o *outPacket) bool {
		if p.a.stats.Timeouts == 0 {
			return true // the tail probes are lost
		}
		if toB && o.h.Control&ControlSystem == 0 {
			if first.IsZero() {
				first = p.now
			}
			sends[o.h.Seq]++
			if seqLessEq(o.h.Seq, last) {
				resent = append(resent, o.h.Seq)
			}
			delete(lost, o.h.Seq)
		}
		return false
	}
	// The timeout fires; then more data is written, which goes out once
	// the window allows, behind the recovery, and is not resent.
	for p.a.stats.Timeouts == 0 {
		p.now = p.a.nextDeadline()
		p.a.onTimer(p.now)
		p.collect()
	}
	if _, err := p.a.write(make([]byte, 6*max), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	p.collect()
	p.run()
	st := p.a.statsSnapshot()
	if p.gotB.Len() != 20*max || st.Timeouts != 1 || st.FastRetransmits != 0 || len(lost) != 0 {
		t.Fatalf("b got %d of %d bytes, %d never resent; %+v", p.gotB.Len(), 20*max, len(lost), st)
	}
	for seq, n := range sends {
		if seqLess(last, seq) && n != 1 {
			t.Fatalf("packet %d, written after the timeout, sent %d times", seq, n)
		}
	}
	// Resending also what had arrived is the price of not knowing; at
	// most those two.
	if len(resent) > 14 {
		t.Fatalf("resent %v", resent)
	}
	// A round trip on the pipe takes 2 ms: four rounds (1, 2, 4, 7
	// packets) take 8 ms, where one packet per round trip would take 24.
	if took := p.now.Sub(first); took > 10*time.Millisecond {
		t.Fatalf("recovery took %v after the timeout, resending %v", took, resent)
	}
}

// TestWindowUpdateAfterSmallReads: while the peer knows of less than a
// quarter window of room, reads that each free less than a quarter still
// add up to a window update once together they free a quarter.
func TestWindowUpdateAfterSmallReads(t *testing.T) {
	p := newPipe(t, Config{Window: 32}) // a quarter is 8 packets
	max := p.a.maxData()
	if _, err := p.a.write(make([]byte, 32*max), false, false, fixed(p.now)); err != nil {
		t.Fatal(err)
	}
	p.collect()
	for _, o := range p.toB { // b takes all 32 but nobody reads
		p.b.input(&o.h, o.data, lazyAt(p.now))
	}
	p.toB = nil
	p.b.takeOut()
	if room := seqDiff(p.b.rcvNxt, p.b.sentAlloc) + 1; room != 0 {
		t.Fatalf("the peer knows of %d packets of room, want 0", room)
	}
	buf := make([]byte, 5*max)
	var updates []int
	for i := range 4 { // 5 packets a read
		if n, _, _, err := p.b.read(buf, false); n != len(buf) || err != nil {
			t.Fatalf("read %d: %d, %v", i, n, err)
		}
		if out := p.b.takeOut(); len(out) > 0 {
			updates = append(updates, i)
		}
	}
	// Read 0 reopens a closed window; reads 1 and 2 free 10 packets
	// together since that update, so read 2 sends the next one; after it
	// the peer knows of 15 packets of room, so read 3 sends nothing.
	if fmt.Sprint(updates) != "[0 2]" {
		t.Fatalf("window updates after reads %v, want [0 2]", updates)
	}
}
