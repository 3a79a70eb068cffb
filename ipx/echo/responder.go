package echo

import (
	"errors"
	"net"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/ipx"
)

// Responder answers ping requests arriving on a Conn, normally one bound
// to Socket. It allocates nothing per packet.
type Responder struct {
	conn *ipx.Conn

	requests, replies, malformed, failed atomic.Uint64
}

// ResponderStats are a Responder's counters.
type ResponderStats struct {
	Requests  uint64 // valid requests received
	Replies   uint64 // replies sent
	Malformed uint64 // packets that were not ping requests
	Failed    uint64 // replies the Stack refused (no route, ...)
}

// NewResponder returns a Responder for c. Call Serve to run it.
func NewResponder(c *ipx.Conn) *Responder { return &Responder{conn: c} }

// Serve answers requests until the Conn is closed, then returns nil; any
// other read error is returned. Malformed packets and replies the Stack
// cannot send are counted and skipped.
func (r *Responder) Serve() error {
	in := make([]byte, ipx.MaxPacketLen)
	var out []byte
	for {
		n, info, err := r.conn.ReadMsg(in)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		if cap(out) < n {
			// Grows to the largest request once, then reused.
			out = make([]byte, 0, max(n, ipx.MaxPacketLen))
		}
		reply, ok := r.answer(in[:n], info, out[:0])
		if !ok {
			continue
		}
		dst := info.Header.Src
		o := ipx.WriteOptions{Type: info.Header.Type}
		if dst.Net == ipx.NetworkLocal {
			// Unnumbered segment: answer on the link it came from.
			o.Link = info.Link
		}
		if _, err := r.conn.WriteMsg(reply, dst, o); err != nil {
			r.failed.Add(1)
			continue
		}
		r.replies.Add(1)
	}
}

// answer builds the reply to payload p into out.
func (r *Responder) answer(p []byte, info ipx.RecvInfo, out []byte) ([]byte, bool) {
	var m Message
	if err := m.UnmarshalBinary(p); err != nil || m.Kind != KindRequest || info.Header.Dst.Node.IsBroadcast() {
		// Broadcast pings are not answered: one request must not make
		// every node on a segment transmit at once.
		r.malformed.Add(1)
		return nil, false
	}
	r.requests.Add(1)
	m.Version = Version
	m.Kind = KindReply
	m.Result = 1
	out, _ = m.AppendBinary(out)
	return out, true
}

// Stats returns the Responder's counters.
func (r *Responder) Stats() ResponderStats {
	return ResponderStats{
		Requests:  r.requests.Load(),
		Replies:   r.replies.Load(),
		Malformed: r.malformed.Load(),
		Failed:    r.failed.Load(),
	}
}
