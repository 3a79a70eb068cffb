package mirror

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ipxkit/ipxkit/internal/clock"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/rip"
)

// input is one thing for the loop to handle; exactly one field is set.
type input struct {
	req     *request
	conn    *newConn
	frame   *frameIn
	dialErr error
	probe   *probeResult
	// switchover asks a mirrored primary to hand its role over; the
	// result goes to the channel.
	switchover chan error
	claim      *claimResult
	health     *healthResult
	restored   *restoreResult
	// endBatch says that the request that ended a run of requests was
	// dropped before it reached the loop: flush what the run ordered.
	endBatch bool
}

// restoreResult is the end of an engine Restore run off the loop.
type restoreResult struct {
	sess *session // the session the image came on
	st   *state   // the mirrored state the image carried
	err  error
}

// maxFlights bounds the event messages in flight to a mirrored
// secondary. One at a time left the tunnel's primary idle a third of the
// time under load, waiting for each ack (see BENCHMARKS.md); more make
// smaller messages, each with its own MAC and packets.
const maxFlights = 4

// maxHeld bounds the MSL messages a secondary holds while it restores
// an image; past it the primary is outrunning it and the join restarts.
const maxHeld = 1 << 16

// claimKind is why a server asks the arbiter for an epoch.
type claimKind uint8

const (
	claimNone     claimKind = iota
	claimStart              // a server started as primary
	claimAlone              // a primary lost its secondary
	claimTakeover           // a secondary found the primary down
	claimHandover           // a switchover: for the secondary
)

type claimResult struct {
	kind  claimKind
	epoch uint32
	err   error
}

type healthResult struct{ err error }

type request struct {
	client, id uint64
	from       ipx.Addr
	data       []byte
	// more says that more requests wait in the engine's socket: their
	// events go in the same MSL message (see flush).
	more bool
}

type newConn struct {
	fc       *frameConn
	me, peer hello // as each end introduced itself
	dial     bool
}

type frameIn struct {
	sess *session
	t    msgType
	body []byte
	err  error
}

type probeResult struct {
	answered bool
	role     Role   // the peer's, if it answered
	epoch    uint32 // the peer's, if it answered
	err      error
}

// pendingReply is a reply the primary holds until the secondary
// acknowledges its event.
type pendingReply struct {
	seq        uint64
	at         time.Time
	dst        ipx.Addr
	client, id uint64
	reply      []byte
}

// sent is a batch of events sent at a time, up to seq.
type sent struct {
	seq uint64
	at  time.Time
}

// maxImage bounds an image a secondary accepts.
const maxImage = 1 << 30

// loop owns a server's state: one goroutine handles requests, MSL
// messages, timers and role changes in turn, so both servers see their
// events in one order and no lock guards the state.
type loop struct {
	s   *Server
	cfg *Config
	st  *state

	role     Role
	epoch    uint32
	peer     PeerState
	tookOver bool // running alone after a takeover: keep the winning metric
	synced   bool // caught up with the primary: may take over
	// consistent: the state is a prefix of the epoch's history, so a
	// rejoin can resume from it with the events since.
	consistent bool

	sess      *session
	sessions  uint64
	lastHeard time.Time
	nextBeat  time.Time

	// primary
	inflight []sent    // event batches sent to a syncing secondary, not yet acked
	log      changeLog // recent events, for secondaries that resume
	pending  []pendingReply
	// more is the last request's request.more: flush waits for the
	// requests that wait in the socket behind it.
	more  bool
	acked uint64
	// flights holds the last event of each message sent to a mirrored
	// secondary and not yet acknowledged, oldest first; at most
	// maxFlights.
	flights  []uint64
	imageSeq uint64
	batch    []wireEvent

	// secondary
	image []byte
	// restoring: the engine is restoring an image off the loop, so that
	// heartbeats go on; the messages that follow the image wait in held.
	restoring bool
	held      []frameIn
	dialing   bool
	redialAt  time.Time
	probing   bool
	// probeRole and probeGen are the role and the session count a probe
	// started under: its answer is stale once either changed.
	probeRole Role
	probeGen  uint64
	probeAt   time.Time // a primary alone probes its peer from then

	box     *replyBox // replies composed, not yet sent
	scratch []byte    // MSL message scratch: session.send copies what it keeps
	evs     []wireEvent

	handover   chan error // a switchover under way: its result goes here
	handoverOK bool       // ... and the arbiter granted the secondary its epoch

	// arbiter (Config.Arbiter)
	selfID, peerID string
	claiming       bool      // a claim is in flight
	needClaim      claimKind // claimStart, claimAlone or claimTakeover: to ask (again)
	// claimUnsure: a claim went unanswered, so it may have been granted:
	// until a retry settles it, nothing may depend on its outcome (no
	// join, no probe that would make a secondary stand down).
	claimUnsure bool
	claimWant   uint32    // the epoch to ask for
	claimAt     time.Time // when to ask (again)
	granted     uint32    // the epoch the arbiter granted us to answer alone in

	// Config.Health
	healthy, peerHealthy bool
	checking             bool
	healthAt             time.Time
	healthWhy            string // the last reason logged for not handing over

	ctx     context.Context // ends when the server closes
	timerAt time.Time       // when the loop goroutine's timer fires
	rearm   bool            // a timer may now be due before timerAt
	stopped bool
}

func newLoop(s *Server) *loop {
	return &loop{s: s, cfg: &s.cfg, st: newState(s.cfg.ReplyCacheDepth, s.cfg.MaxClients),
		selfID: ServerID(lanAddr(s.cfg.Stack, s.cfg.Peer.Net)), peerID: ServerID(s.cfg.Peer),
		healthy: true, peerHealthy: true, log: changeLog{max: s.cfg.MaxLogBytes}, box: new(replyBox)}
}

// start takes the configured role; the server calls it before any
// goroutine can submit inputs.
func (l *loop) start(ctx context.Context) {
	l.ctx = ctx
	if l.cfg.Start == RolePrimary {
		l.epoch = 1 // epoch 0 means "none yet" to a joiner and a client
	}
	l.become(l.cfg.Start, PeerNone, "started")
	if l.cfg.Arbiter != nil && l.role == RolePrimary {
		// Answer nothing until the arbiter grants the epoch: another
		// server may hold a newer one.
		l.needClaim, l.claimWant, l.claimAt = claimStart, l.epoch, time.Now()
	}
}

// run is the loop goroutine: it runs the timers and handles the inputs
// queued while no other goroutine did.
func (l *loop) run() {
	ctx := l.ctx
	mu := &l.s.mu
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		mu.Lock()
		now := time.Now()
		l.tick(ctx, now)
		if l.more {
			// A run of requests whose end never came: flush it.
			l.more = false
			l.flush()
		}
		l.timerAt = l.deadline(now)
		l.rearm = false
		box := l.s.takeReplies()
		mu.Unlock()
		l.s.sendReplies(box)
		timer.Reset(l.timerAt.Sub(now))
		select {
		case <-l.s.quit:
			mu.Lock()
			l.shutdown()
			l.stopped = true
			box := l.s.takeReplies()
			mu.Unlock()
			l.s.sendReplies(box)
			return
		case <-l.s.queued:
			// Inputs are taken off the queue only under mu, so that the
			// order in which they were queued is the order they are
			// handled, whichever goroutine handles them.
			mu.Lock()
			for len(l.s.in) > 0 {
				l.drain()
			}
			l.settle()
			box := l.s.takeReplies()
			mu.Unlock()
			l.s.sendReplies(box)
		case <-l.s.poke:
		case <-timer.C:
		}
	}
}

// drain handles the inputs queued while another goroutine held the
// loop, up to a batch.
func (l *loop) drain() {
	for range l.cfg.MaxBatch {
		select {
		case in := <-l.s.in:
			l.handle(in)
		default:
			return
		}
	}
}

// settle ends a round of inputs: the events ordered go out in one MSL
// message, and the loop goroutine is woken if a timer must fire sooner
// than it planned.
func (l *loop) settle() {
	l.flush()
	if !l.rearm {
		return
	}
	l.rearm = false
	if l.deadline(time.Now()).Before(l.timerAt) {
		select {
		case l.s.poke <- struct{}{}:
		default:
		}
	}
}

// deadline is when the loop must next look at its timers.
func (l *loop) deadline(now time.Time) time.Time {
	d := now.Add(l.cfg.Heartbeat)
	if l.sess != nil {
		d = minTime(d, l.nextBeat, l.lastHeard.Add(l.silence()))
	} else if l.role == RoleSecondary && l.synced && !l.probing && !l.claiming && l.needClaim == claimNone {
		// Probe once the MSL is silent, and not before a failed claim's
		// retry time.
		probeAt := l.lastHeard.Add(l.cfg.MSLTimeout)
		if probeAt.Before(l.claimAt) {
			probeAt = l.claimAt
		}
		d = minTime(d, probeAt)
	}
	if l.needClaim != claimNone && !l.claiming {
		d = minTime(d, l.claimAt)
	}
	if l.cfg.Health != nil && !l.checking {
		d = minTime(d, l.healthAt)
	}
	if l.wantsDial() {
		d = minTime(d, l.redialAt)
	}
	if l.sess == nil && l.role == RolePrimary && !l.probing {
		d = minTime(d, l.probeAt)
	}
	return d
}

// silence is how long the peer on the MSL may stay silent. While a
// secondary syncs, the primary falls silent as long as the engine's
// Snapshot takes, and the secondary as long as its Restore: allow them
// HandshakeTimeout, or a large image never joins. Neither end relies on
// the other meanwhile: the primary answers alone and the secondary,
// not synced, cannot take over.
func (l *loop) silence() time.Duration {
	if l.peer == PeerSyncing {
		return max(l.cfg.MSLTimeout, l.cfg.HandshakeTimeout)
	}
	return l.cfg.MSLTimeout
}

func minTime(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.Before(t) {
			t = u
		}
	}
	return t
}

// wantsDial: a secondary joins, or rejoins once its MSL connection
// ended (a synced one too, while it waits out MSLTimeout before it
// probes: a primary that is alive takes it back, from the change log); a
// primary running alone looks for its peer too, so that two primaries
// (after a partition of both links heals, or an isolated primary comes
// back) meet and one steps down.
func (l *loop) wantsDial() bool {
	return l.sess == nil && !l.dialing && !l.probing && !l.claiming && !l.claimUnsure && l.cfg.Dial != nil &&
		(l.role == RoleDeactivated || l.role == RoleSecondary || l.role == RolePrimary)
}

func (l *loop) tick(ctx context.Context, now time.Time) {
	if l.sess != nil {
		if now.Sub(l.lastHeard) >= l.silence() {
			l.mslLost(fmt.Sprintf("peer silent for %v", now.Sub(l.lastHeard).Round(time.Millisecond)))
		} else if !now.Before(l.nextBeat) {
			l.nextBeat = now.Add(l.cfg.Heartbeat)
			body := position{Epoch: l.epoch, Seq: l.st.seq}.appendBinary(nil)
			if !l.healthy {
				body = append(body, heartbeatUnhealthy)
			}
			if !l.sess.send(outFrame{t: msgHeartbeat, body: body}) {
				l.mslLost("MSL send queue full")
			}
		}
	}
	if l.sess == nil && l.role == RoleSecondary && l.synced && !l.probing && !l.claiming && l.needClaim == claimNone &&
		now.Sub(l.lastHeard) >= l.cfg.MSLTimeout && !now.Before(l.claimAt) {
		l.startProbe(ctx)
	}
	if l.needClaim != claimNone && !l.claiming && !now.Before(l.claimAt) {
		l.startClaim(ctx, l.needClaim, l.selfID, l.claimWant)
	}
	if l.cfg.Health != nil && !l.checking && !now.Before(l.healthAt) {
		l.startHealth(ctx)
	}
	// A primary running alone asks its peer on the LAN too: if the peer
	// took over meanwhile (we were cut off, not dead), step down at once
	// rather than when the MSL next comes up.
	if l.sess == nil && l.role == RolePrimary && !l.probing && !now.Before(l.probeAt) {
		l.probeAt = now.Add(2 * l.cfg.RedialInterval)
		l.startProbe(ctx)
	}
	if l.wantsDial() && !now.Before(l.redialAt) {
		l.startDial(ctx)
	}
}

func (l *loop) handle(in input) {
	switch {
	case in.req != nil:
		l.request(in.req)
	case in.conn != nil:
		l.newConn(in.conn)
	case in.frame != nil:
		l.frame(in.frame)
	case in.dialErr != nil:
		l.rearm = true
		l.dialing = false
		l.redialAt = time.Now().Add(l.cfg.RedialInterval)
	case in.probe != nil:
		l.probed(in.probe)
	case in.switchover != nil:
		l.startSwitchover(in.switchover)
	case in.claim != nil:
		l.claimed(in.claim)
	case in.health != nil:
		l.healthChecked(in.health.err)
	case in.restored != nil:
		l.restoreDone(in.restored)
	case in.endBatch:
		l.more = false
	}
}

// committed is the last event whose reply may go to its client: all of
// them when alone or syncing, else those the secondary holds.
func (l *loop) committed() uint64 {
	if l.peer == PeerMirrored {
		return l.acked
	}
	return l.st.seq
}

// mayAnswer: with an arbiter, a primary answers with a secondary
// attached (its replies wait for the secondary's acks, or the secondary
// is syncing and cannot take over), or alone in an epoch granted to it.
func (l *loop) mayAnswer() bool {
	return l.cfg.Arbiter == nil || l.sess != nil || l.granted == l.epoch
}

// request orders a client's request, or answers a retry from the cache.
func (l *loop) request(r *request) {
	c := &l.s.c
	l.more = r.more
	if l.role != RolePrimary || l.handover != nil || !l.mayAnswer() {
		// A primary handing over orders nothing new: the client's retry
		// reaches the new primary. One waiting for the arbiter orders
		// nothing it may have to drop.
		c.silent.Add(1)
		return
	}
	res, cr := l.st.lookup(r.client, r.id)
	switch res {
	case stale:
		c.stale.Add(1)
		return
	case cachedReply:
		// Answered again only once it is safe: a retry of an event the
		// secondary does not hold yet is answered when it does.
		if cr.seq <= l.committed() {
			c.retries.Add(1)
			l.reply(r.from, r.client, r.id, cr.reply)
		}
		return
	}
	ev := wireEvent{Seq: l.st.seq + 1, Client: r.client, ID: r.id, From: r.from, Data: r.data}
	reply := l.st.apply(l.cfg.Engine, &ev)
	c.events.Add(1)
	l.log.add(&ev)
	if l.sess == nil {
		l.reply(r.from, r.client, r.id, reply)
		return
	}
	l.batch = append(l.batch, ev)
	if l.peer != PeerMirrored {
		l.reply(r.from, r.client, r.id, reply)
		return
	}
	l.pending = append(l.pending, pendingReply{seq: ev.Seq, at: clock.Now(), dst: r.from, client: r.client, id: r.id, reply: reply})
}

// flush sends the events ordered since the last flush in one message.
//
// While maxFlights messages to a mirrored secondary wait for its ack, new
// events wait for the oldest ack (group commit, up to MaxBatch): their
// replies wait for an ack anyway, and under load one frame then carries
// many events instead of one each. A lone request finds nothing in
// flight and goes at once. Requests already waiting in the engine's
// socket join the message too (request.more), however soon the ack came.
func (l *loop) flush() {
	if len(l.batch) == 0 {
		return
	}
	full := l.peer == PeerMirrored && l.inFlight() >= maxFlights
	if l.sess != nil && (full || l.more) && len(l.batch) < l.cfg.MaxBatch {
		return
	}
	if l.sess != nil {
		last := l.batch[len(l.batch)-1].Seq
		if l.peer == PeerMirrored {
			if len(l.flights) < maxFlights {
				l.flights = append(l.flights, last)
			} else {
				// A full batch goes regardless; the newest flight
				// stretches to it, so flights stays bounded.
				l.flights[len(l.flights)-1] = last
			}
		}
		body := appendEvents(l.scratch[:0], l.epoch, l.batch)
		l.scratch = body[:0]
		l.s.c.batches.Add(1)
		if l.peer == PeerSyncing {
			l.inflight = append(l.inflight, sent{seq: last, at: clock.Now()})
		}
		if !l.sess.send(outFrame{t: msgEvents, body: body}) {
			l.mslLost("MSL send queue full")
		}
	}
	clear(l.batch)
	l.batch = l.batch[:0]
}

// inFlight drops the messages acknowledged from flights and returns how
// many are left. A message sent before the secondary was mirrored is not
// counted: the ack of a later one covers it.
func (l *loop) inFlight() int {
	if n := len(l.flights); n > 0 && l.flights[n-1] > l.st.seq {
		// Events past our own state belong to a history we no longer
		// hold: no ack can come for them, and none is waited for.
		l.flights = l.flights[:0]
	}
	i := 0
	for i < len(l.flights) && l.flights[i] <= l.acked {
		i++
	}
	if i > 0 {
		l.flights = append(l.flights[:0], l.flights[i:]...)
	}
	return len(l.flights)
}

// reply composes a reply; it goes out once the loop is released (see
// Server.takeReplies).
func (l *loop) reply(dst ipx.Addr, client, id uint64, reply []byte) {
	m := Message{Kind: KindReply, Client: client, ID: id, Epoch: l.epoch, Data: reply}
	b := l.box
	b.buf, _ = m.AppendBinary(b.buf)
	b.msgs = append(b.msgs, boxedReply{dst: dst, end: len(b.buf)})
}

// release sends the held replies whose events the secondary holds, or
// all of them (all true) when the primary goes on alone.
func (l *loop) release(upTo uint64) {
	i := 0
	for ; i < len(l.pending) && l.pending[i].seq <= upTo; i++ {
		p := &l.pending[i]
		l.reply(p.dst, p.client, p.id, p.reply)
	}
	l.pending = append(l.pending[:0], l.pending[i:]...)
}

// newConn takes an MSL connection whose handshake succeeded.
func (l *loop) newConn(nc *newConn) {
	refuse := func(why string) {
		l.s.c.mslRefused.Add(1)
		l.s.log.Warn("mirror: MSL peer refused: "+why, "peer role", nc.peer.Role, "peer epoch", nc.peer.Epoch, "epoch", l.epoch)
		abort(nc.fc.c)
	}
	if nc.dial {
		l.dialing = false
		l.redialAt = time.Now().Add(l.cfg.RedialInterval)
	}
	quiet := func(why string) {
		l.s.log.Debug("mirror: MSL connection not used: "+why, "peer role", nc.peer.Role, "dial", nc.dial)
		abort(nc.fc.c)
	}
	if nc.me.Role != l.role || nc.me.Epoch != l.epoch {
		// The peer decided on the hello we sent, and we have changed
		// since (a step down, a claim): it would join an epoch we left.
		quiet("our role or epoch changed during the handshake")
		return
	}
	if l.restoring {
		// One Restore at a time: the engine is not ours until it ends.
		quiet("restoring an image")
		return
	}
	if l.claiming || l.claimUnsure {
		// The claim's outcome decides our role and epoch; meet the peer
		// after it. A grant must find us as we asked for it: a secondary
		// that joined meanwhile would drop a takeover it was granted,
		// and leave the pair with no primary.
		quiet("waiting for the arbiter")
		return
	}
	// A secondary joins by dialing the primary; a primary running alone
	// dials only to find another primary. Two primaries (a partition
	// healed, or an isolated primary came back) settle it by rank,
	// whoever dialed: the loser steps down and joins the winner on this
	// connection.
	if l.role == RolePrimary && nc.peer.Role == RolePrimary {
		if !outranks(&nc.peer, &nc.me) && l.sess != nil && time.Since(l.lastHeard) < 2*l.cfg.Heartbeat {
			// Crossed dials: the other primary already stepped down and
			// joined us on the live connection; its hello here is stale.
			// Replacing that connection would cut a secondary that may
			// already hold our image and so may take over.
			quiet("the peer joined us on a live MSL connection")
			return
		}
		if !outranks(&nc.peer, &nc.me) {
			l.s.log.Warn("mirror: met another primary; it steps down", "peer epoch", nc.peer.Epoch, "epoch", l.epoch)
			l.lead(nc)
			return
		}
		l.stepDown(fmt.Sprintf("met a primary that outranks us (epoch %d, applied %d; ours %d, %d): writes acknowledged here alone since the MSL failed are lost",
			nc.peer.Epoch, nc.peer.Applied, l.epoch, l.st.seq))
		l.join(nc)
		return
	}
	switch {
	case l.role == RolePrimary && nc.dial:
		quiet("looking for a primary, found none")
	case l.role == RolePrimary && nc.peer.Epoch > l.epoch:
		refuse("the peer has a newer epoch: stepping down")
		l.stepDown(fmt.Sprintf("a peer holds epoch %d, newer than ours", nc.peer.Epoch))
	case l.role == RolePrimary && l.sess != nil && time.Since(l.lastHeard) < 2*l.cfg.Heartbeat:
		// Dials that crossed: the secondary we mirror to is alive on the
		// connection we have.
		quiet("a live MSL connection is up")
	case l.role == RolePrimary:
		l.lead(nc)
	case nc.peer.Role != RolePrimary:
		quiet("neither end is primary")
	case !nc.dial:
		quiet("a primary looking for primaries; we join by dialing it")
	case l.sess != nil:
		quiet("an MSL connection is already up")
	case nc.peer.Epoch < l.epoch:
		// An old primary never leads us back to its epoch.
		refuse("the peer's epoch is stale")
	default:
		l.join(nc)
	}
}

// join follows the primary on nc: its image, then its events.
func (l *loop) join(nc *newConn) {
	l.log.reset()
	if nc.peer.Epoch != l.epoch {
		l.consistent = false
	}
	l.epoch = nc.peer.Epoch
	l.synced = false
	l.image = l.image[:0]
	l.startSession(nc)
	l.s.log.Debug("mirror: joining", "epoch", l.epoch)
	l.become(RoleSecondary, PeerSyncing, "MSL up: receiving the primary's image")
}

// resumeFrom sends a joining secondary the events since the state it
// holds, if it holds one of this epoch that the change log reaches back
// to; false if it needs the image.
func (l *loop) resumeFrom(nc *newConn) bool {
	p := &nc.peer
	from := p.Applied
	if p.Flags&flagConsistent == 0 || p.Role == RolePrimary || p.Epoch != l.epoch || from > l.st.seq {
		return false
	}
	if (l.st.seq-from+uint64(l.cfg.MaxBatch)-1)/uint64(l.cfg.MaxBatch) > sessionQueue/2 {
		// More batches than the send queue takes at once: the resume
		// would fail on a full queue, and again on every rejoin.
		return false
	}
	var evs []wireEvent
	if from < l.st.seq {
		var ok bool
		if evs, ok = l.log.since(from); !ok || l.log.last != l.st.seq {
			return false // the log does not reach back that far
		}
	}
	body := position{Epoch: l.epoch, Seq: from}.appendBinary(nil)
	body = binary.BigEndian.AppendUint64(body, l.st.seq)
	if !l.sess.send(outFrame{t: msgResume, body: body}) {
		l.mslLost("MSL send queue full")
		return true
	}
	for len(evs) > 0 {
		n := min(len(evs), l.cfg.MaxBatch)
		if !l.sess.send(outFrame{t: msgEvents, body: appendEvents(nil, l.epoch, evs[:n])}) {
			l.mslLost("MSL send queue full")
			return true
		}
		evs = evs[n:]
	}
	l.imageSeq = l.st.seq
	l.s.log.Info("mirror: secondary resumes from its own state", "from", from, "to", l.st.seq)
	l.become(RolePrimary, PeerSyncing, "secondary joined: sending the events since its state")
	return true
}

// outranks reports whether primary a wins over primary b when two meet:
// the newer epoch, then the longer history, then the larger handshake
// nonce (random, and seen alike by both ends).
func outranks(a, b *hello) bool {
	if a.Epoch != b.Epoch {
		return a.Epoch > b.Epoch
	}
	if a.Applied != b.Applied {
		return a.Applied > b.Applied
	}
	return bytes.Compare(a.Nonce[:], b.Nonce[:]) > 0
}

// lead takes a joining secondary on nc: it sends the image, then the
// events from there on.
func (l *loop) lead(nc *newConn) {
	if l.sess != nil {
		l.mslLost("replaced by a new MSL connection")
	}
	// A secondary is back before the arbiter answered: replies wait for
	// its acks again, so no grant is needed (a claim that went unanswered
	// may still have been granted; see the package comment).
	l.needClaim = claimNone
	l.startSession(nc)
	if l.resumeFrom(nc) {
		return
	}
	var img bytes.Buffer
	img.Write(l.st.appendBinary(nil))
	var view Snapshotter
	if v, ok := l.cfg.Engine.(Viewer); ok {
		// Written by the session's writer: requests go on meanwhile, and
		// their events queue behind the image.
		view = v.View()
	} else if err := l.cfg.Engine.Snapshot(&img); err != nil {
		l.s.log.Error("mirror: engine snapshot failed", "err", err)
		l.closeSession()
		return
	}
	l.imageSeq = l.st.seq
	if !l.sess.send(outFrame{t: msgImage, image: img.Bytes(), view: view, epoch: l.epoch, seq: l.imageSeq}) {
		l.mslLost("MSL send queue full")
		return
	}
	l.s.c.images.Add(1)
	l.become(RolePrimary, PeerSyncing, "secondary joined: sending the image")
}

func (l *loop) startSession(nc *newConn) {
	l.rearm = true
	l.inflight = l.inflight[:0]
	l.sessions++
	sess := newSession(l.sessions, nc.fc, nc.peer)
	l.sess = sess
	now := time.Now()
	l.lastHeard, l.nextBeat = now, now
	l.acked = 0
	l.flights = l.flights[:0]
	s := l.s
	s.wg.Go(sess.writeLoop)
	s.wg.Go(func() { s.readFrames(sess) })
}

func (l *loop) closeSession() {
	l.rearm = true
	if l.sess != nil {
		l.sess.close()
		l.sess = nil
	}
}

// mslLost ends the current MSL connection.
func (l *loop) mslLost(reason string) {
	if l.sess == nil {
		return
	}
	l.finishSwitchover(fmt.Errorf("mirror: switchover: MSL failed: %s: %w", reason, ErrNoPeer))
	l.closeSession()
	l.s.c.mslFailures.Add(1)
	switch l.role {
	case RolePrimary:
		if l.cfg.Arbiter != nil && l.granted == l.epoch && l.peer != PeerMirrored {
			// A secondary that never got our marker in the epoch we were
			// granted cannot take over in it: the grant still stands.
			l.release(^uint64(0))
			l.s.log.Warn("mirror: MSL failed while the secondary synced: the primary runs alone", "reason", reason, "epoch", l.epoch)
			l.become(RolePrimary, PeerNone, "MSL failed: running alone")
			return
		}
		if l.cfg.Arbiter != nil {
			// Answer alone only in an epoch granted after losing the
			// secondary: it asks for the same one if it takes over, so
			// only one of us goes on. Held replies wait for the grant.
			l.granted = 0
			l.needClaim, l.claimWant, l.claimAt = claimAlone, l.epoch+1, time.Now()
			l.s.log.Warn("mirror: MSL failed: asking the arbiter for the next epoch before answering alone",
				"reason", reason, "epoch", l.epoch)
			l.become(RolePrimary, PeerNone, "MSL failed: claiming the next epoch")
			return
		}
		// Alone now: what the secondary may not hold is in our state,
		// and a returning secondary gets it in the image.
		l.release(^uint64(0))
		l.s.log.Warn("mirror: MSL failed: the primary runs alone", "reason", reason, "epoch", l.epoch)
		l.become(RolePrimary, PeerNone, "MSL failed: running alone")
	default:
		l.s.log.Warn("mirror: MSL failed", "reason", reason, "role", l.role, "epoch", l.epoch)
		l.become(l.role, PeerNone, "MSL failed: "+reason)
		l.redialAt = time.Now().Add(l.cfg.RedialInterval)
	}
}

// frame handles one MSL message, or the loss of the connection.
func (l *loop) frame(f *frameIn) {
	if f.sess != l.sess {
		return // from a connection already given up
	}
	if f.err != nil {
		l.mslLost(f.err.Error())
		return
	}
	l.lastHeard = clock.Now() // on every frame: the cheaper clock
	if l.restoring && f.t != msgHeartbeat {
		if len(l.held) >= maxHeld {
			l.mslLost(fmt.Sprintf("over %d messages arrived while the image was restoring", maxHeld))
			return
		}
		h := *f
		h.body = append([]byte(nil), f.body...)
		l.held = append(l.held, h)
		return
	}
	l.handleFrame(f)
}

// handleFrame handles one MSL message of the current session.
func (l *loop) handleFrame(f *frameIn) {
	var err error
	switch {
	case f.t == msgHeartbeat:
		var p position
		b := f.body
		if len(b) == positionLen+1 {
			l.peerHealthy = b[positionLen]&heartbeatUnhealthy == 0
			b = b[:positionLen]
		} else {
			l.peerHealthy = true
		}
		err = p.unmarshal(b)
	case l.role == RolePrimary && f.t == msgAck:
		err = l.ack(f.body)
	case l.role != RolePrimary && f.t == msgImage:
		err = l.imageChunk(f.body)
	case l.role != RolePrimary && f.t == msgEvents:
		err = l.events(f.body)
	case l.role != RolePrimary && f.t == msgResume:
		err = l.resume(f.body)
	case l.role != RolePrimary && f.t == msgMirrored:
		err = l.mirrored(f.body)
	case l.role != RolePrimary && f.t == msgHandover:
		err = l.takeHandover(f.body)
	default:
		err = fmt.Errorf("mirror: unexpected MSL %v as %v: %w", f.t, l.role, ErrMalformed)
	}
	if err != nil {
		l.s.c.mslRefused.Add(1)
		l.s.log.Warn("mirror: MSL message refused", "type", f.t, "err", err)
		l.mslLost(err.Error())
	}
}

func (l *loop) ack(body []byte) error {
	var p position
	if err := p.unmarshal(body); err != nil {
		return err
	}
	if p.Epoch != l.epoch || p.Seq > l.st.seq || p.Seq < l.acked {
		return fmt.Errorf("mirror: ack of %d/%d, at %d/%d: %w", p.Epoch, p.Seq, l.epoch, l.st.seq, ErrSequence)
	}
	l.acked = p.Seq
	// The events ordered meanwhile go out before the replies: their
	// round trip then overlaps the replies' sends, which on a tunnel
	// are a system call each.
	l.flush()
	l.release(p.Seq)
	if l.handover != nil && l.handoverOK && l.role == RolePrimary && l.acked == l.st.seq {
		l.handOver()
		return nil
	}
	i := 0
	for i < len(l.inflight) && l.inflight[i].seq <= p.Seq {
		i++
	}
	l.inflight = append(l.inflight[:0], l.inflight[i:]...)
	// Mirroring makes each reply wait for the secondary's ack; start only
	// once the secondary trails by less than MaxResyncPause, so that no
	// client waits on the backlog of the catch-up.
	caughtUp := len(l.inflight) == 0 || clock.Now().Sub(l.inflight[0].at) <= l.cfg.MaxResyncPause/2
	if l.peer == PeerSyncing && l.acked >= l.imageSeq && caughtUp {
		l.inflight = l.inflight[:0]
		// Back to the active metric before the secondary may take over
		// (the marker below): its taking-over metric must beat ours.
		if l.tookOver {
			l.tookOver = false
			l.setShared(rip.SharedActive)
		}
		// Events answered at once while the secondary synced may still be
		// on their way to it; this marker follows them on the stream.
		body := position{Epoch: l.epoch, Seq: l.st.seq}.appendBinary(nil)
		if !l.sess.send(outFrame{t: msgMirrored, body: body}) {
			l.mslLost("MSL send queue full")
			return nil
		}
		l.become(RolePrimary, PeerMirrored, "secondary synchronised: mirroring")
	}
	return nil
}

func (l *loop) imageChunk(body []byte) error {
	var p position
	if len(body) < 13 {
		return fmt.Errorf("mirror: image chunk of %d bytes: %w", len(body), ErrMalformed)
	}
	if err := p.unmarshal(body[:12]); err != nil {
		return err
	}
	if p.Epoch != l.epoch {
		return fmt.Errorf("mirror: image of epoch %d, at %d: %w", p.Epoch, l.epoch, ErrSequence)
	}
	if len(l.image)+len(body)-13 > maxImage {
		return fmt.Errorf("mirror: image over %d bytes: %w", maxImage, ErrTooLarge)
	}
	l.image = append(l.image, body[13:]...)
	if body[12] == 0 {
		return nil
	}
	st, rest, err := l.st.unmarshal(l.image)
	if err == nil && st.seq != p.Seq {
		err = fmt.Errorf("mirror: image at %d says %d: %w", p.Seq, st.seq, ErrMalformed)
	}
	if err != nil {
		return err
	}
	// Restore off the loop: a big image takes long enough to restore that
	// the heartbeats must go on meanwhile, or the primary would give the
	// MSL up and the join would never end. Nothing else touches the
	// engine until restoreDone: the events that follow wait in held, and
	// no new session starts (newConn).
	l.consistent = false
	l.restoring = true
	l.image = nil
	sess, eng, s := l.sess, l.cfg.Engine, l.s
	s.wg.Go(func() {
		err := eng.Restore(bytes.NewReader(rest))
		s.submit(input{restored: &restoreResult{sess: sess, st: st, err: err}}, true)
	})
	return nil
}

// restoreDone adopts a restored image, if the session it came on is still
// up, and handles what arrived meanwhile.
func (l *loop) restoreDone(r *restoreResult) {
	l.restoring = false
	l.rearm = true
	held := l.held
	l.held = nil
	if r.sess != l.sess || l.sess == nil {
		// The join ended meanwhile: the engine holds an image we cannot
		// resume from (consistent stays false); the next join sends one.
		return
	}
	if r.err != nil {
		l.s.log.Error("mirror: engine restore failed", "err", r.err)
		l.mslLost("engine restore: " + r.err.Error())
		return
	}
	l.st = r.st
	l.consistent = true
	l.s.c.images.Add(1)
	l.sendAck()
	l.s.log.Info("mirror: image restored; catching up", "applied", l.st.seq)
	for i := range held {
		if l.sess != r.sess {
			return // a held message ended the session
		}
		l.handleFrame(&held[i])
	}
}

func (l *loop) events(body []byte) error {
	if !l.consistent {
		return fmt.Errorf("mirror: events before the image: %w", ErrSequence)
	}
	epoch, evs, err := parseEvents(body, l.evs[:0])
	l.evs = evs[:0]
	if err != nil {
		return err
	}
	if epoch != l.epoch {
		return fmt.Errorf("mirror: events of epoch %d, at %d: %w", epoch, l.epoch, ErrSequence)
	}
	for i := range evs {
		if evs[i].Seq != l.st.seq+1 {
			l.synced, l.consistent = false, false // a gap: our state can no longer stand in
			return fmt.Errorf("mirror: event %d after %d: %w", evs[i].Seq, l.st.seq, ErrSequence)
		}
		l.st.apply(l.cfg.Engine, &evs[i]) // the secondary's reply is discarded
		l.s.c.events.Add(1)
	}
	l.s.c.batches.Add(1)
	l.sendAck()
	return nil
}

// mirrored takes the primary's word that it now waits for our acks: we
// hold every event it answered before, so we may stand in for it.
func (l *loop) mirrored(body []byte) error {
	var p position
	if err := p.unmarshal(body); err != nil {
		return err
	}
	if l.handover != nil && p.Epoch == l.epoch+1 && p.Seq == l.st.seq {
		// The new primary confirms our handover.
		l.epoch = p.Epoch
		l.finishSwitchover(nil)
		l.sendAck()
		return nil
	}
	if !l.consistent || p.Epoch != l.epoch || p.Seq != l.st.seq {
		return fmt.Errorf("mirror: mirrored at %d/%d, we hold %d/%d: %w", p.Epoch, p.Seq, l.epoch, l.st.seq, ErrSequence)
	}
	l.synced = true
	l.become(RoleSecondary, PeerMirrored, "caught up with the primary: mirroring")
	return nil
}

// resume starts a rejoin from the state we hold: the primary sends the
// events since, up to where it was when we joined.
func (l *loop) resume(body []byte) error {
	if len(body) != 20 {
		return fmt.Errorf("mirror: resume of %d bytes: %w", len(body), ErrMalformed)
	}
	var p position
	p.unmarshal(body[:12])
	to := binary.BigEndian.Uint64(body[12:])
	if !l.consistent || p.Epoch != l.epoch || p.Seq != l.st.seq || to < p.Seq {
		return fmt.Errorf("mirror: resume from %d/%d, we hold %d/%d: %w", p.Epoch, p.Seq, l.epoch, l.st.seq, ErrSequence)
	}
	l.s.c.resumes.Add(1)
	l.sendAck()
	return nil
}

func (l *loop) sendAck() {
	body := position{Epoch: l.epoch, Seq: l.st.seq}.appendBinary(l.scratch[:0])
	l.scratch = body[:0]
	if !l.sess.send(outFrame{t: msgAck, body: body}) {
		l.mslLost("MSL send queue full")
	}
}

func (l *loop) startDial(ctx context.Context) {
	l.dialing = true
	s := l.s
	s.wg.Go(func() {
		dctx, cancel := context.WithTimeout(ctx, l.cfg.HandshakeTimeout)
		c, err := l.cfg.Dial(dctx)
		cancel()
		if err != nil {
			s.submit(input{dialErr: err}, true)
			return
		}
		s.handshake(c, true)
	})
}

// startProbe asks the primary on the LAN whether it is alive and still
// primary: a KindProbe to its LAN address, twice within ProbeTimeout. A
// plain ping would not do: a primary that crashed and restarted at once
// answers pings, as a secondary with nothing to serve.
func (l *loop) startProbe(ctx context.Context) {
	l.probing = true
	l.probeRole, l.probeGen = l.role, l.sessions
	s := l.s
	peer := ipx.Addr{Net: l.cfg.Peer.Net, Node: l.cfg.Peer.Node, Socket: l.cfg.Socket}
	timeout := l.cfg.ProbeTimeout
	if l.role == RoleSecondary {
		s.log.Info("mirror: MSL silent: probing the primary on the LAN", "peer", peer, "timeout", timeout)
	}
	s.wg.Go(func() {
		r := &probeResult{}
		c, err := s.cfg.Stack.Listen(0)
		if err != nil {
			r.err = err
			s.submit(input{probe: r}, true)
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		q, _ := (&Message{Kind: KindProbe}).MarshalBinary()
		buf := make([]byte, ipx.MaxPacketLen)
	tries:
		for range 2 {
			if _, err := c.WriteMsg(q, peer, ipx.WriteOptions{Type: PacketType}); err != nil {
				r.err = err
			}
			c.SetReadDeadline(time.Now().Add(timeout / 2))
			for {
				n, info, err := c.ReadMsg(buf)
				if err != nil {
					break
				}
				var m Message
				if m.UnmarshalBinary(buf[:n]) != nil || m.Kind != KindProbeReply || len(m.Data) != 1 ||
					info.Header.Src.Node != peer.Node {
					continue
				}
				r.answered = true
				r.role, r.epoch = Role(m.Data[0]), m.Epoch
				break tries
			}
		}
		s.submit(input{probe: r}, true)
	})
}

func (l *loop) probed(r *probeResult) {
	l.probing = false
	l.rearm = true
	if l.role != l.probeRole || l.sessions != l.probeGen {
		// Asked as a primary, or before an MSL session came and went: a
		// primary that stepped down and joined must not take over on the
		// answer to a question it asked as a primary.
		return
	}
	if l.role == RolePrimary && l.sess == nil {
		if r.answered && r.role == RolePrimary && r.epoch > l.epoch {
			l.stepDown(fmt.Sprintf("the peer answers on the LAN as primary of epoch %d, newer than ours", r.epoch))
		}
		return
	}
	if l.role != RoleSecondary || l.sess != nil || !l.synced {
		return
	}
	if r.answered && r.role == RolePrimary && r.epoch >= l.epoch {
		l.s.log.Warn("mirror: MSL failed but the primary answers on the LAN: deactivating; the primary runs alone", "epoch", l.epoch)
		l.redialAt = time.Now().Add(l.cfg.RedialInterval)
		l.synced = false // the primary goes on without us
		l.become(RoleDeactivated, PeerNone, "MSL failed, primary alive on the LAN: deactivated")
		return
	}
	if r.err != nil {
		l.s.log.Warn("mirror: LAN probe failed", "err", r.err)
	}
	if r.answered {
		l.s.log.Warn("mirror: the peer answers on the LAN but is no primary (restarted?)", "peer role", r.role, "peer epoch", r.epoch)
	}
	if l.cfg.Arbiter != nil {
		l.s.log.Warn("mirror: primary down (MSL silent and no answer on the LAN): asking the arbiter for the next epoch", "epoch", l.epoch+1)
		l.startClaim(l.ctx, claimTakeover, l.selfID, l.epoch+1)
		return
	}
	l.takeover()
}

// takeover makes this secondary the primary under a new epoch.
func (l *loop) takeover() {
	l.log.reset()
	l.epoch++
	l.tookOver = true
	l.s.c.takeovers.Add(1)
	l.s.log.Warn("mirror: primary down (MSL silent and no answer on the LAN): taking over",
		"epoch", l.epoch, "applied", l.st.seq)
	l.become(RolePrimary, PeerNone, "primary down: took over")
	l.announce()
	l.s.log.Warn("mirror: now primary: advertising the internal network and answering clients",
		"network", l.cfg.Network, "clients notified", l.s.c.notified.Load())
}

// announce advertises the internal network at the taking-over metric and
// tells every client we know: a RIP response for the network, so that a
// plain RIP listener switches now, and our own notification, so that a
// mirror.Client retries now.
func (l *loop) announce() {
	l.tookOver = true
	l.setShared(rip.SharedTakingOver)
	n := Message{Kind: KindNotify, Epoch: l.epoch}
	note, _ := n.AppendBinary(nil)
	for _, a := range l.st.addrs() {
		if err := l.cfg.Router.Announce(ipx.Addr{Net: a.Net, Node: a.Node, Socket: ipx.SocketRIP}, l.cfg.Network); err != nil {
			l.s.log.Debug("mirror: route notification not sent", "to", a, "err", err)
		}
		if _, err := l.s.conn.WriteMsg(note, a, ipx.WriteOptions{Type: PacketType}); err == nil {
			l.s.c.notified.Add(1)
		}
	}
}

// startSwitchover begins a planned handover of the primary role: new
// requests wait (their clients retry), and once the secondary holds
// every event the role goes over with handOver.
func (l *loop) startSwitchover(done chan error) {
	switch {
	case l.role != RolePrimary:
		done <- ErrNotPrimary
		return
	case l.peer != PeerMirrored || l.sess == nil:
		done <- ErrNoPeer
		return
	case l.handover != nil:
		done <- fmt.Errorf("mirror: a switchover is already under way: %w", ErrNotPrimary)
		return
	}
	l.handover = done
	l.s.log.Info("mirror: switchover: handing the primary role to the secondary", "epoch", l.epoch, "applied", l.st.seq)
	l.handoverOK = l.cfg.Arbiter == nil
	if !l.handoverOK {
		// The secondary's epoch is granted to it before it is handed
		// over, so that we cannot claim it if the MSL fails meanwhile.
		l.startClaim(l.ctx, claimHandover, l.peerID, l.epoch+1)
		return
	}
	if l.acked == l.st.seq && len(l.batch) == 0 {
		l.handOver()
	}
}

// handOver sends the secondary the primary role and becomes its
// secondary on the same MSL. It withdraws the route at once; the new
// primary advertises the winning metric and notifies clients.
func (l *loop) handOver() {
	body := position{Epoch: l.epoch, Seq: l.st.seq}.appendBinary(nil)
	if !l.sess.send(outFrame{t: msgHandover, body: body}) {
		l.finishSwitchover(fmt.Errorf("mirror: switchover: MSL send queue full: %w", ErrNoPeer))
		l.mslLost("MSL send queue full")
		return
	}
	l.setShared(rip.SharedStandby)
	l.tookOver = false
	l.granted = 0
	l.synced, l.consistent = true, true
	l.become(RoleSecondary, PeerMirrored, "switchover: handed the primary role over")
}

func (l *loop) finishSwitchover(err error) {
	if l.handover != nil {
		l.handover <- err
		l.handover = nil
	}
}

// takeHandover makes this secondary the primary at the old primary's
// request: it holds every event, so nothing is lost.
func (l *loop) takeHandover(body []byte) error {
	var p position
	if err := p.unmarshal(body); err != nil {
		return err
	}
	if !l.synced || p.Epoch != l.epoch || p.Seq != l.st.seq {
		return fmt.Errorf("mirror: handover at %d/%d, we hold %d/%d: %w", p.Epoch, p.Seq, l.epoch, l.st.seq, ErrSequence)
	}
	l.log.reset()
	l.epoch++
	l.s.log.Warn("mirror: switchover: taking the primary role", "epoch", l.epoch, "applied", l.st.seq)
	// The old primary holds every event (the check above): mirror at
	// once, so that no reply goes out before it holds the event too; it
	// may take over the moment the MSL fails.
	l.imageSeq, l.acked = l.st.seq, l.st.seq
	l.inflight = l.inflight[:0]
	l.become(RolePrimary, PeerMirrored, "switchover: took the primary role")
	// The taking-over metric beats the old primary's last advertisement
	// should its withdrawal be lost; the active one follows at once,
	// before the old primary may take over (the marker below), so that
	// its taking-over metric would beat ours.
	l.announce()
	l.tookOver = false
	l.setShared(rip.SharedActive)
	// The old primary follows us from here: tell it the new epoch.
	mark := position{Epoch: l.epoch, Seq: l.st.seq}.appendBinary(nil)
	if !l.sess.send(outFrame{t: msgMirrored, body: mark}) {
		l.mslLost("MSL send queue full")
	}
	return nil
}

// stepDown makes a primary that learned of a newer epoch a secondary.
func (l *loop) stepDown(why string) {
	l.log.reset()
	l.closeSession()
	l.release(0)
	l.pending = l.pending[:0]
	l.synced, l.consistent = false, false
	l.tookOver = false
	l.needClaim, l.granted, l.claimUnsure = claimNone, 0, false
	l.setShared(rip.SharedStandby)
	l.s.log.Warn("mirror: stepping down to secondary", "reason", why, "epoch", l.epoch)
	l.redialAt = time.Now()
	l.become(RoleSecondary, PeerNone, why)
}

func (l *loop) setShared(st rip.SharedState) {
	if err := l.cfg.Router.SetShared(l.cfg.Network, st); err != nil {
		l.s.log.Error("mirror: route change failed", "state", st, "err", err)
	}
}

// become is the one place roles change: it sets the route, the status
// and tells subscribers.
func (l *loop) become(r Role, p PeerState, reason string) {
	if r == l.role && p == l.peer && reason != "started" {
		return
	}
	first := l.role == 0
	l.role, l.peer = r, p
	l.s.batching.Store(r == RolePrimary && p == PeerMirrored)
	now := time.Now()
	if first {
		switch r {
		case RolePrimary:
			l.setShared(rip.SharedActive)
		default:
			l.setShared(rip.SharedStandby)
		}
	}
	l.rearm = true
	l.s.log.Info("mirror: "+reason, "role", r, "peer", p, "epoch", l.epoch, "applied", l.st.seq)
	l.s.hub.Publish(Change{Role: r, Peer: p, Epoch: l.epoch, Reason: reason, At: now}, markChange)
}

// status reports the loop's state; the caller holds the server's mu.
func (l *loop) status(now time.Time) Status {
	s := Status{Role: l.role, Epoch: l.epoch, Peer: l.peer, Applied: l.st.seq, Acked: l.acked,
		Clients: len(l.st.clients)}
	if !l.lastHeard.IsZero() {
		// lastHeard is internal/clock's, whose wall reading ignores steps
		// of the system clock: date it from now's by the monotonic
		// difference.
		s.LastHeard = now.Add(l.lastHeard.Sub(now))
	}
	if l.role == RolePrimary && l.sess != nil && l.st.seq > l.acked {
		s.LagEvents = l.st.seq - l.acked
		if len(l.pending) > 0 {
			s.LagTime = now.Sub(l.pending[0].at)
		}
	}
	return s
}

func (l *loop) shutdown() {
	l.finishSwitchover(net.ErrClosed)
	l.closeSession()
	l.role = RoleStopped
	l.s.batching.Store(false)
	l.s.hub.Publish(Change{Role: RoleStopped, Peer: PeerNone, Epoch: l.epoch, Reason: "closed", At: time.Now()}, markChange)
}

// startClaim asks the arbiter for epoch on behalf of server; the result
// comes back to claimed.
func (l *loop) startClaim(ctx context.Context, kind claimKind, server string, epoch uint32) {
	l.claiming = true
	l.rearm = true
	l.s.c.claims.Add(1)
	s := l.s
	arb, timeout := l.cfg.Arbiter, l.cfg.ArbiterTimeout
	s.wg.Go(func() {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := arb.Claim(cctx, server, epoch)
		cancel()
		s.submit(input{claim: &claimResult{kind: kind, epoch: epoch, err: err}}, true)
	})
}

// claimed takes the arbiter's answer to a claim, if what asked for it
// still stands.
func (l *loop) claimed(r *claimResult) {
	l.claiming = false
	l.rearm = true
	var denied *DeniedError
	isDenied := errors.As(r.err, &denied)
	if isDenied {
		l.s.c.denials.Add(1)
	}
	// Granted or denied settles it; any other error leaves a claim that
	// still stands unsure, to be asked again (set below).
	l.claimUnsure = false
	retry := time.Now().Add(l.cfg.RedialInterval)
	switch r.kind {
	case claimStart, claimAlone:
		if l.role != RolePrimary || l.sess != nil || l.needClaim != r.kind {
			return // a step down or a returning secondary came first
		}
		switch {
		case r.err == nil:
			l.needClaim = claimNone
			l.epoch, l.granted = r.epoch, r.epoch
			l.release(^uint64(0))
			l.s.log.Warn("mirror: the arbiter granted the epoch: answering alone", "epoch", l.epoch)
		case isDenied && r.kind == claimStart && denied.Holder != l.peerID:
			// Started as primary over an older history of ours or of
			// another pair's: take the next epoch. The peer's grant is
			// respected below.
			l.claimWant, l.claimAt = denied.Epoch+1, time.Now()
		case isDenied:
			l.needClaim = claimNone
			l.stepDown(fmt.Sprintf("the arbiter granted epoch %d to %s", denied.Epoch, denied.Holder))
		default:
			l.s.log.Warn("mirror: arbiter not reached: not answering alone", "epoch", r.epoch, "err", r.err)
			l.claimAt, l.claimUnsure = retry, true
		}
	case claimTakeover:
		if l.role != RoleSecondary || l.sess != nil || !l.synced {
			l.needClaim, l.claimUnsure = claimNone, false
			return
		}
		switch {
		case r.err == nil:
			l.needClaim = claimNone
			l.epoch = r.epoch - 1
			l.takeover()
			l.granted = l.epoch
		case isDenied:
			l.needClaim = claimNone
			// The primary (or its successor) claimed first: it goes on
			// alone, and our state is behind it.
			l.synced = false
			l.redialAt = time.Now()
			l.s.log.Warn("mirror: the arbiter denied the takeover: rejoining", "granted epoch", denied.Epoch, "holder", denied.Holder)
			l.become(RoleSecondary, PeerNone, fmt.Sprintf("arbiter denied the takeover: epoch %d is granted to %s", denied.Epoch, denied.Holder))
		default:
			// Ask again until the arbiter settles it: were it granted
			// and we stood down on a probe meanwhile, the primary would
			// be denied and nobody would serve.
			l.s.log.Warn("mirror: arbiter not reached: not taking over", "epoch", r.epoch, "err", r.err)
			l.needClaim, l.claimWant, l.claimAt, l.claimUnsure = claimTakeover, r.epoch, retry, true
		}
	case claimHandover:
		if l.handover == nil || l.role != RolePrimary || l.peer != PeerMirrored || l.sess == nil {
			return
		}
		if r.err != nil {
			l.finishSwitchover(fmt.Errorf("mirror: switchover: arbiter: %w", r.err))
			return
		}
		l.handoverOK = true
		if l.acked == l.st.seq && len(l.batch) == 0 {
			l.handOver()
		}
	}
}

// startHealth runs the embedder's health check; the result comes back
// to healthChecked.
func (l *loop) startHealth(ctx context.Context) {
	l.checking = true
	s := l.s
	check, every := l.cfg.Health, l.cfg.HealthInterval
	s.wg.Go(func() {
		hctx, cancel := context.WithTimeout(ctx, every)
		err := check(hctx)
		cancel()
		s.submit(input{health: &healthResult{err: err}}, true)
	})
}

// healthChecked takes a health check's result. A primary that fails it
// hands over to a mirrored, healthy secondary, as a switchover does;
// otherwise it stays and says why, once per reason.
func (l *loop) healthChecked(err error) {
	l.checking = false
	l.rearm = true
	l.healthAt = time.Now().Add(l.cfg.HealthInterval)
	was := l.healthy
	l.healthy = err == nil
	if err == nil {
		if !was {
			l.s.log.Info("mirror: health check passes again")
		}
		l.healthWhy = ""
		return
	}
	l.s.c.unhealthy.Add(1)
	if was {
		l.s.log.Warn("mirror: health check failed", "role", l.role, "err", err)
	}
	if l.role != RolePrimary || l.handover != nil {
		return
	}
	why := ""
	switch {
	case l.peer != PeerMirrored || l.sess == nil:
		why = "no mirrored secondary to hand over to"
	case !l.peerHealthy:
		why = "the secondary reports its own health check failing"
	}
	if why != "" {
		if why != l.healthWhy {
			l.s.log.Warn("mirror: health check failed: staying primary: "+why, "err", err)
		}
		l.healthWhy = why
		return
	}
	l.healthWhy = ""
	l.s.log.Warn("mirror: health check failed: handing the primary role to the secondary", "err", err)
	done := make(chan error, 1) // nobody waits: the outcome is logged
	l.startSwitchover(done)
}
