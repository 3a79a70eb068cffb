package spx

import "github.com/ipxkit/ipxkit/ipx"

// probeState tracks the SPX II size probe.
type probeState uint8

const (
	probeNone probeState = iota // not started
	probeSent                   // queued or in flight
	probeDone                   // confirmed or given up
)

// probeRetries is how often a size probe is sent whole before it is
// shrunk: the path is then taken not to carry the size.
const probeRetries = 2

// startProbe begins size negotiation once both ends' sizes are known:
// a sequenced packet with the negotiate flag, padded to the size both
// ends take. If it is acknowledged whole, the path carries that size and
// data packets grow to it; if it is lost probeRetries times it is sent
// again empty (so the connection goes on) and packets stay at 576 bytes.
// The receiver consumes it without delivering anything.
func (e *endpoint) startProbe() {
	if e.probe != probeNone || e.state != stEstablished || !e.spx2 {
		return
	}
	e.probe = probeDone
	size := min(e.localMax, e.peerMax)
	if size <= ipx.MaxPacketLen || e.sendq.full() || e.relQueued || e.finQueued || e.peerEnded {
		return
	}
	s := e.newSegment()
	s.seq = e.sndUna + uint16(e.sendq.len())
	s.ctl = ControlNegotiate
	s.data = s.data[:size-ipx.HeaderLen-HeaderLen2]
	clear(s.data)
	e.sendq.push(s)
	e.probe = probeSent
}
