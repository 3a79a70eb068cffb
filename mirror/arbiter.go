package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
)

// An Arbiter grants the primary role one epoch at a time, so that even a
// full partition between the two servers (MSL and LAN cut, each server
// still reaching the arbiter) cannot leave two primaries answering
// clients.
//
// With an arbiter configured, a server answers clients alone (with no
// secondary acknowledging its events) only in an epoch the arbiter
// granted it after it lost its secondary, and a secondary takes over only
// once granted the epoch after the one it mirrored. Both ask for the same
// epoch, so exactly one goes on; the other steps down. A mirrored primary
// needs no grant: its replies wait for the secondary's acknowledgements,
// which a secondary that took over no longer sends.
//
// Implementations: package mirror/ipxarbiter (a small service over IPX)
// and the nested module mirror/etcdarbiter (etcd). Both keep the rule of
// Claim exactly; tests may use any type that does.
type Arbiter interface {
	// Claim asks for the primary role in epoch on behalf of server (a
	// ServerID). It succeeds if epoch is newer than every epoch granted
	// before, or if it is the newest and was granted to the same server
	// (a retry whose answer was lost). Otherwise it fails with an error
	// wrapping ErrDenied, a *DeniedError naming the newest grant. Any
	// other error means the arbiter was not reached or did not answer:
	// the server asks again, and goes on without answering meanwhile.
	Claim(ctx context.Context, server string, epoch uint32) error
}

// ErrDenied reports a claim the arbiter refused: a newer or equal epoch
// was granted to another server.
var ErrDenied = errors.New("mirror: arbiter denied the claim")

// DeniedError is the error an Arbiter returns for a refused claim.
type DeniedError struct {
	// Epoch is the newest epoch the arbiter granted, and Holder the
	// server it granted it to.
	Epoch  uint32
	Holder string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("mirror: arbiter denied the claim: epoch %d is granted to %s", e.Epoch, e.Holder)
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// ServerID names a server to an arbiter: its LAN address, the one its
// peer has as Config.Peer. Both servers of a pair compute the same name
// for each, so that a primary can claim an epoch for its secondary in a
// switchover.
func ServerID(lan ipx.Addr) string {
	return fmt.Sprintf("%v:%v", lan.Net, lan.Node)
}
