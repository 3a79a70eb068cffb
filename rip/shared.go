package rip

import "fmt"

// SharedState is the part a server plays for a network it shares with
// another server (a mirrored pair's internal network): which of them
// attracts the network's traffic. The zero value is SharedStandby, the
// safe one. See the package comment, "Shared networks", for why the
// metrics are what they are.
type SharedState uint8

// Shared-network states, each with the metric it advertises.
const (
	// SharedStandby withdraws the network: it is advertised at 16 hops
	// (unreachable), never as reachable. The standby's Stack delivers
	// packets for a connected network locally, so it must not attract
	// them with a worse metric either.
	SharedStandby SharedState = iota
	// SharedActive advertises the network one tick worse than a directly
	// connected network normally is: 1 hop, 2 ticks on the wire, so that
	// a standby taking over can beat it.
	SharedActive
	// SharedTakingOver advertises the best metric: 1 hop, 1 tick, which
	// every listener takes at once over the active server's offer. A
	// server running alone after a takeover stays in it.
	SharedTakingOver
)

var sharedNames = [...]string{"standby", "active", "taking-over"}

// String names the state.
func (s SharedState) String() string {
	if int(s) < len(sharedNames) {
		return sharedNames[s]
	}
	return fmt.Sprintf("shared(%d)", uint8(s))
}

// valid reports whether s is one of the defined states.
func (s SharedState) valid() bool { return s <= SharedTakingOver }

// metric is the metric the table stores for a connected network in state
// s (a router advertises one hop and one tick more).
func (s SharedState) metric() (hops, ticks uint16) {
	switch s {
	case SharedActive:
		return 0, 1
	case SharedTakingOver:
		return 0, 0
	}
	return Unreachable, 0
}
