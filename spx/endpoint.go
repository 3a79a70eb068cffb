package spx

import (
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// epState is where an endpoint is in its life.
type epState uint8

const (
	stConnecting  epState = iota + 1 // request sent, no reply yet
	stEstablished                    // data may flow (possibly half-released)
	stDone                           // finished cleanly or failed; see err
)

var stateNames = [...]string{"", "connecting", "established", "done"}

func (s epState) String() string { return stateNames[s] }

// outPacket is a packet the endpoint asks its owner to send: the header
// (Ack, Alloc and NegotiationSize filled in) and data aliasing a segment.
type outPacket struct {
	h    Header
	data []byte
	seg  *segment // the segment data is in, or nil
}

// Stats count what one connection saw.
type Stats struct {
	PacketsSent, PacketsReceived uint64
	Retransmits                  uint64 // data packets sent again
	FastRetransmits              uint64 // recoveries begun by duplicate or partial acks, before a timeout
	SpuriousRetransmits          uint64 // retransmissions found unneeded: acknowledged sooner than a round trip after
	TailProbes                   uint64 // retransmissions when acknowledgements stopped, before the timeout
	Timeouts                     uint64 // retransmission timer expiries
	Duplicates                   uint64 // data packets received twice
	OutOfOrder                   uint64 // data packets buffered ahead of a gap
	OutOfWindow                  uint64 // data packets beyond the allocation
	Oversize                     uint64 // data packets larger than this end takes (534 bytes in plain SPX)
	BogusAcks                    uint64 // acknowledgements of data never sent
	BadSACKs                     uint64 // selective acknowledgements malformed or beyond what was sent, ignored
	KeepAlives                   uint64 // watchdog probes sent
	CongestionEvents             uint64 // losses that lowered the congestion window
	SRTT                         time.Duration
	Cwnd                         int  // congestion window now, in packets
	SelectiveAcks                bool // both ends announced selective acknowledgements (see the package doc)
}

// endpoint is the SPX protocol core of one connection. It does no I/O:
// methods take the time (a lazy clock, read only if needed, or a fixed
// one), queue packets in out for the owner to send, and nextDeadline says
// when to call onTimer. It is not safe for concurrent use; Conn
// serialises calls with its mutex. Its parts live by concern: the send
// side and acknowledgements in send.go, congestion control in
// congestion.go, the receive side and reads in receive.go, deadlines in
// timers.go, the SPX II size probe in probe.go, segment buffers in
// segment.go.
type endpoint struct {
	cfg   *Config
	state epState
	err   error // why the endpoint is done, nil if cleanly

	localID, remoteID uint16
	spx2              bool // both ends speak SPX II
	localMax, peerMax int  // largest IPX packets each end takes
	sendMax           int  // largest IPX packet we send: 576 until a probe confirms more
	probe             probeState

	sender     // send.go
	sackState  // sack.go
	congestion // congestion.go
	receiver   // receive.go
	timers     // timers.go

	rtt rttEstimator
	out []outPacket
	// holdAck makes input leave a due acknowledgement for its caller to
	// flush: a read notify function may answer first, and the answer
	// carries it.
	holdAck bool
	pool    *segPool
	free    []*segment
	stats   Stats
}

// newEndpoint returns an endpoint with local id id. localMax is the
// largest IPX packet this end takes (MTU and Config.MaxPacket).
func newEndpoint(cfg *Config, pool *segPool, id uint16, localMax int, now time.Time) *endpoint {
	e := &endpoint{
		pool:     pool,
		cfg:      cfg,
		localID:  id,
		localMax: localMax,
		peerMax:  ipx.MaxPacketLen,
		sendMax:  ipx.MaxPacketLen,
		rtt:      rttEstimator{min: cfg.MinRTO, max: cfg.MaxRTO, initial: cfg.InitialRTO},
	}
	e.sendq = newRing(cfg.Window)
	e.readyq = newRing(cfg.Window)
	e.ooo = make([]*segment, cfg.Window)
	e.lastHeard = now
	e.advAlloc = uint16(cfg.Window - 1)
	e.sentAlloc = e.advAlloc
	e.cwnd, e.ssthresh = cfg.Window, cfg.Window
	return e
}

// dial makes e the connecting end and queues the connection request.
func (e *endpoint) dial(now time.Time) {
	e.state = stConnecting
	e.connSentAt = now
	e.sendConnectRequest(now)
}

func (e *endpoint) sendConnectRequest(now time.Time) {
	h := Header{Control: ControlSystem | ControlSendAck, SrcID: e.localID, DstID: IDUnknown, Alloc: e.alloc()}
	e.sentAlloc = h.Alloc
	if !e.cfg.PlainSPX {
		h.Control |= ControlSPX2 | ControlNegotiate
		if !e.cfg.NoSelectiveAcks {
			h.Control |= ControlSACK
		}
	}
	e.out = append(e.out, outPacket{h: h})
	e.stats.PacketsSent++
	e.rtoAt = now.Add(e.currentRTO())
}

// accept makes e the accepting end of the connection request h and
// queues the reply.
func (e *endpoint) accept(h *Header, now time.Time) {
	e.state = stEstablished
	e.remoteID = h.SrcID
	e.spx2 = h.Control&ControlSPX2 != 0 && !e.cfg.PlainSPX
	e.sack = e.spx2 && h.Control&ControlSACK != 0 && !e.cfg.NoSelectiveAcks
	e.peerAlloc = h.Alloc
	e.lastHeard = now
	e.probeAt = now.Add(e.cfg.VerifyInterval)
	e.replyConnect()
}

// replyConnect queues the answer to a connection request; it is sent
// again when the request is repeated (the first reply was lost).
func (e *endpoint) replyConnect() {
	h := Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}
	if e.spx2 {
		h.Control |= ControlSPX2 | ControlNegotiate
	}
	if e.sack {
		h.Control |= ControlSACK
	}
	e.emit(h, nil)
}

// emit queues a packet, filling in the receive state it reports.
func (e *endpoint) emit(h Header, data []byte) { e.emitSeg(h, data, nil) }

// emitSeg is emit for a packet whose data is segment seg's.
func (e *endpoint) emitSeg(h Header, data []byte, seg *segment) {
	h.Ack = e.rcvNxt
	h.Alloc = e.alloc()
	e.sentAlloc = h.Alloc
	if e.spx2 {
		h.Control |= ControlSPX2
		h.NegotiationSize = uint16(e.localMax)
	}
	if h.Control&ControlSystem != 0 && data == nil && e.sack && e.oooCount > 0 {
		data = e.sackPayload()
	}
	if h.Control&ControlSystem != 0 && e.pendingType != 0 {
		h.DatastreamType, e.pendingType = e.pendingType, 0
	}
	e.out = append(e.out, outPacket{h: h, data: data, seg: seg})
	e.stats.PacketsSent++
	e.unacked, e.ackNow, e.ackAt = 0, false, time.Time{}
}

func (e *endpoint) finish(err error) {
	if e.state == stDone {
		return
	}
	e.state = stDone
	e.err = err
	e.probe = probeDone
	e.discardSendq()
	e.dropOOO()
}

// fail ends the connection with err, discarding what was buffered.
func (e *endpoint) fail(err error) {
	for e.readyq.len() > 0 {
		e.recycle(e.readyq.pop())
	}
	e.finish(err)
}

// input processes a packet from the peer (already matched to this
// endpoint by connection id and address). data aliases the caller's
// buffer and is copied if kept.
func (e *endpoint) input(h *Header, data []byte, clk *clock) {
	if e.state == stDone {
		// Lingering after a clean end: acknowledge a repeated end of
		// connection, whose first acknowledgement was lost, so the peer
		// finishes too.
		if e.err == nil && e.peerEnded && h.Control&ControlSystem == 0 && seqLess(h.Seq, e.rcvNxt) {
			e.repeatEndAck()
		}
		return
	}
	e.stats.PacketsReceived++
	defer e.heard(clk)
	e.probeAt = time.Time{}
	if e.state == stConnecting {
		if h.Control&ControlSystem == 0 || h.DstID != e.localID {
			return
		}
		e.state = stEstablished
		e.remoteID = h.SrcID
		e.spx2 = h.Control&ControlSPX2 != 0 && !e.cfg.PlainSPX
		e.sack = e.spx2 && h.Control&ControlSACK != 0 && !e.cfg.NoSelectiveAcks
		e.rtoAt = time.Time{}
		if e.connectRetx == 0 {
			e.rtt.update(clk.now().Sub(e.connSentAt), clk.now())
		}
		e.peerAlloc = h.Alloc
		e.backoff = 0
		// Confirm at once: the acceptor learns our negotiation size.
		e.emit(Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}, nil)
	}
	if e.spx2 && h.HasNegotiationSize() && int(h.NegotiationSize) >= ipx.MaxPacketLen {
		e.peerMax = int(h.NegotiationSize)
		e.startProbe()
	}
	e.processAck(h, data, clk)
	if e.state == stDone {
		return
	}
	if h.Control&ControlSystem != 0 {
		if h.Control&ControlSendAck != 0 {
			e.ackNow = true
		}
	} else {
		e.receive(h, data, clk)
	}
	e.transmit(clk)
	if !e.holdAck {
		e.flushAck(clk)
	}
}

// repeatEndAck acknowledges the peer's end of connection again.
func (e *endpoint) repeatEndAck() {
	e.pendingType = DatastreamEndOfConnectionAck
	e.emit(Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}, nil)
}

// takeOut hands the queued packets to the owner, who must send them
// before the next call into the endpoint (their data aliases segments).
func (e *endpoint) takeOut() []outPacket {
	o := e.out
	e.out = e.out[:0]
	// The SACK payloads in o stay until the next call appends.
	e.sackBuf = e.sackBuf[:0]
	return o
}

func (e *endpoint) statsSnapshot() Stats {
	s := e.stats
	s.SRTT = e.rtt.smoothed()
	s.Cwnd = e.cwnd
	s.SelectiveAcks = e.sack
	return s
}
