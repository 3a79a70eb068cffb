package mirror

import (
	"fmt"
	"time"

	"github.com/ipxkit/ipxkit/internal/subscribe"
)

// Role is a server's part in the pair.
type Role uint8

// Roles. Role changes happen in one place (Server.become) and are
// reported to subscribers.
const (
	// RoleSecondary mirrors the primary: it applies every event and
	// computes every reply, and sends none. A server that starts as
	// secondary joins by receiving the primary's image.
	RoleSecondary Role = iota + 1
	// RolePrimary orders and answers requests, mirrored or alone.
	RolePrimary
	// RoleDeactivated is a secondary that lost the MSL while the primary
	// still answered on the LAN: as SFT III does, it stands down rather
	// than take over, and keeps trying to rejoin.
	RoleDeactivated
	// RoleStopped is a closed server.
	RoleStopped
)

var roleNames = [...]string{"", "secondary", "primary", "deactivated", "stopped"}

func (r Role) String() string {
	if r > 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// PeerState is what a server knows of the other one.
type PeerState uint8

// Peer states.
const (
	// PeerNone: no MSL; a primary runs alone.
	PeerNone PeerState = iota
	// PeerSyncing: the MSL is up and the secondary is receiving the
	// primary's image; the primary still answers alone.
	PeerSyncing
	// PeerMirrored: both servers apply every event; the primary answers
	// once the secondary holds the event.
	PeerMirrored
)

var peerNames = [...]string{"none", "syncing", "mirrored"}

func (p PeerState) String() string {
	if int(p) < len(peerNames) {
		return peerNames[p]
	}
	return fmt.Sprintf("peer(%d)", uint8(p))
}

// Change is a change of role or peer state, as subscribers see it.
type Change struct {
	Role   Role
	Peer   PeerState
	Epoch  uint32
	Reason string    // in plain words: "primary down: taking over"
	At     time.Time // when it happened
	// Missed counts the changes this subscriber lost before this one
	// because its channel was full; Server.Status gives the current
	// state to resynchronise from.
	Missed uint64
}

// Status is a snapshot of a server's state.
type Status struct {
	Role  Role
	Epoch uint32
	Peer  PeerState
	// Applied is the last event applied here; Acked the last the
	// secondary holds (a primary's view).
	Applied, Acked uint64
	// LagEvents and LagTime are how far the secondary trails: events
	// applied here and not yet acknowledged, and the age of the oldest.
	LagEvents uint64
	LagTime   time.Duration
	// LastHeard is when the last MSL message arrived; zero if never.
	LastHeard time.Time
	// Clients is the number of clients in the reply cache.
	Clients int
}

// Subscription delivers Changes until closed. Its shape is rip's and
// sap's: a buffered channel that never stalls the server.
type Subscription struct {
	// C receives the changes. It is closed by Close or when the server
	// closes.
	C   <-chan Change
	sub *subscribe.Sub[Change]
}

// Missed returns how many changes the subscription has dropped so far
// because its buffer was full.
func (s *Subscription) Missed() uint64 { return s.sub.Missed() }

// Close ends the subscription and closes C. It is safe to call twice.
func (s *Subscription) Close() { s.sub.Close() }

func markChange(c *Change, missed uint64) { c.Missed = missed }
