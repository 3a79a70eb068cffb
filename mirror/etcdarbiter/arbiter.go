// Package etcdarbiter is a mirror.Arbiter backed by etcd: it grants the
// primary role of a mirrored server pair one epoch at a time, so that even
// a full partition between the two servers cannot leave two primaries
// answering clients, as long as each reaches the etcd cluster.
//
// It lives in a nested module so that the ipxkit library's own dependency
// graph stays free of etcd and its dependencies.
//
// # Records
//
// For a pair whose internal network is N, the arbiter keeps two keys under
// Config.Prefix:
//
//   - <prefix><N>/epoch holds the newest grant: the epoch as ten decimal
//     digits (fixed width, so values compare as text the way they compare
//     as numbers), a space, and the holder's ServerID. It is permanent,
//     attached to no lease: the epoch rule must hold even after the holder
//     died, or a stale server could be granted an old epoch again. Claim
//     reads it and commits a grant in one etcd transaction conditioned on
//     the record's ModRevision, so concurrent claims from any number of
//     processes are serialised by etcd.
//   - <prefix><N>/holder holds the same text, attached to an etcd lease of
//     Config.LeaseTTL that the Arbiter which wrote it keeps alive while it
//     is open. It is informational: an operator sees there which server
//     holds the role and whether its process is still alive (the key goes
//     away within LeaseTTL of the holder's death, or at once when its
//     Arbiter closes). Safety comes from the epoch record alone.
package etcdarbiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultPrefix is the key prefix of a Config without one.
const DefaultPrefix = "/ipxkit/mirror/"

// MinLeaseTTL is the default and the smallest Config.LeaseTTL: etcd
// raises any shorter lease to about 1.5 election timeouts, 2 s with its
// default timing, so asking for less would only mislead.
const MinLeaseTTL = 2 * time.Second

// MaxServerLen bounds the server name a Claim accepts; a ServerID is far
// shorter.
const MaxServerLen = 256

// maxAttempts bounds the read-decide-commit loop of one Claim. Each failed
// attempt means another claim committed meanwhile, so it is reached only
// under a storm of claims for ever newer epochs.
const maxAttempts = 32

// revokeTimeout bounds the lease revocation in Close: if etcd does not
// answer, the lease expires by itself within LeaseTTL.
const revokeTimeout = time.Second

var (
	// ErrBadConfig reports an unusable Config.
	ErrBadConfig = errors.New("etcdarbiter: bad configuration")
	// ErrBadClaim reports a Claim with an empty or oversized server name.
	ErrBadClaim = errors.New("etcdarbiter: bad claim")
	// ErrContended reports a Claim that lost the race to commit
	// maxAttempts times in a row to other claims; like any error other
	// than a denial, the caller asks again.
	ErrContended = errors.New("etcdarbiter: too many concurrent claims")
	// ErrBadRecord reports an epoch record that this package did not
	// write (malformed text). Claims fail until an operator repairs it.
	ErrBadRecord = errors.New("etcdarbiter: malformed epoch record")
)

// Config configures an Arbiter.
type Config struct {
	// Client is the etcd client; required. The Arbiter does not close
	// it: the caller does, after closing the Arbiter.
	Client *clientv3.Client
	// Prefix is the key prefix; DefaultPrefix if empty.
	Prefix string
	// Network is the pair's internal network, which names its records:
	// one arbiter record per pair. Required (not 0, and below
	// ipx.NetworkDefault).
	Network ipx.Network
	// LeaseTTL is the time to live of the lease under the holder key,
	// rounded up to whole seconds (etcd's unit). Zero means MinLeaseTTL,
	// which is also its minimum.
	LeaseTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = MinLeaseTTL
	}
}

// Validate reports whether New would accept the Config, with an error
// wrapping ErrBadConfig if not. It does not change c.
func (c *Config) Validate() error {
	d := *c
	d.setDefaults()
	bad := func(f string, a ...any) error {
		return fmt.Errorf("etcdarbiter: "+f+": %w", append(a, ErrBadConfig)...)
	}
	switch {
	case d.Client == nil:
		return bad("Client is required")
	case d.Network == 0 || d.Network >= ipx.NetworkDefault:
		return bad("internal network %v", d.Network)
	case d.LeaseTTL < MinLeaseTTL:
		return bad("LeaseTTL %v below %v", d.LeaseTTL, MinLeaseTTL)
	}
	return nil
}

// Arbiter is a mirror.Arbiter whose grants are records in etcd. It is
// safe for concurrent use. Each server of a pair has its own, on its own
// client; any number of Arbiters (in any processes) may share the records
// of one pair.
type Arbiter struct {
	cli       *clientv3.Client
	epochKey  string
	holderKey string
	ttl       int64 // seconds

	// ctx lives until Close; it bounds the lease keepalives.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // keepalive drains

	grantMu sync.Mutex // serialises lease grants, so that one lease serves all claims

	mu     sync.Mutex
	closed bool
	lease  clientv3.LeaseID // 0 when none is known alive
}

var _ mirror.Arbiter = (*Arbiter)(nil)

// New returns an Arbiter for cfg. It contacts etcd only on the first
// Claim.
func New(cfg Config) (*Arbiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	base := cfg.Prefix + cfg.Network.String()
	ctx, cancel := context.WithCancel(context.Background())
	return &Arbiter{
		cli:       cfg.Client,
		epochKey:  base + "/epoch",
		holderKey: base + "/holder",
		ttl:       int64((cfg.LeaseTTL + time.Second - 1) / time.Second),
		ctx:       ctx,
		cancel:    cancel,
	}, nil
}

// EpochKey returns the key of the pair's permanent epoch record.
func (a *Arbiter) EpochKey() string { return a.epochKey }

// HolderKey returns the key of the pair's informational holder record.
func (a *Arbiter) HolderKey() string { return a.holderKey }

// Claim asks for the primary role in epoch on behalf of server, with the
// rule of mirror.Arbiter: it succeeds if no epoch was granted yet for the
// pair, if epoch is newer than the newest grant, or if epoch is the newest
// and was granted to server (a retry whose answer was lost). Otherwise it
// returns a *mirror.DeniedError naming the newest grant. Any other error
// (etcd unreachable, ctx done, too many concurrent claims, the Arbiter
// closed) wraps the cause and not mirror.ErrDenied.
//
// A successful Claim also points the holder key at server, under this
// Arbiter's lease.
func (a *Arbiter) Claim(ctx context.Context, server string, epoch uint32) error {
	if server == "" || len(server) > MaxServerLen {
		return fmt.Errorf("etcdarbiter: server name of %d bytes: %w", len(server), ErrBadClaim)
	}
	lease, err := a.ensureLease(ctx)
	if err != nil {
		return err
	}
	resp, err := a.cli.Get(ctx, a.epochKey)
	if err != nil {
		return fmt.Errorf("etcdarbiter: read %s: %w", a.epochKey, err)
	}
	kvs := resp.Kvs
	value := formatRecord(epoch, server)
	for range maxAttempts {
		var rev int64
		var writeEpoch bool
		if len(kvs) == 0 {
			writeEpoch = true
		} else {
			rev = kvs[0].ModRevision
			newest, holder, err := parseRecord(kvs[0].Value)
			if err != nil {
				return err
			}
			switch {
			case epoch > newest:
				writeEpoch = true
			case epoch < newest || holder != server:
				return &mirror.DeniedError{Epoch: newest, Holder: holder}
			}
		}
		// The holder key is written only in the transaction that checks
		// the epoch record is unchanged, so it always names the newest
		// grant's holder. A retry of the newest grant rewrites it under
		// this Arbiter's lease (which may be new after a restart).
		ops := []clientv3.Op{clientv3.OpPut(a.holderKey, value, clientv3.WithLease(lease))}
		if writeEpoch {
			ops = append(ops, clientv3.OpPut(a.epochKey, value))
		}
		txn, err := a.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(a.epochKey), "=", rev)).
			Then(ops...).
			Else(clientv3.OpGet(a.epochKey)).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// The lease expired while etcd was out of reach, before the
			// keepalive noticed: take a new one and decide again.
			a.dropLease(lease)
			if lease, err = a.ensureLease(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("etcdarbiter: commit %s: %w", a.epochKey, err)
		}
		if txn.Succeeded {
			return nil
		}
		kvs = txn.Responses[0].GetResponseRange().Kvs
	}
	return fmt.Errorf("etcdarbiter: claim of epoch %d for %s: %w", epoch, server, ErrContended)
}

// ensureLease returns this Arbiter's live lease, granting one and starting
// its keepalive if there is none.
func (a *Arbiter) ensureLease(ctx context.Context) (clientv3.LeaseID, error) {
	a.grantMu.Lock()
	defer a.grantMu.Unlock()
	a.mu.Lock()
	closed, lease := a.closed, a.lease
	a.mu.Unlock()
	if closed {
		return 0, errClosed("claim")
	}
	if lease != 0 {
		return lease, nil
	}
	g, err := a.cli.Grant(ctx, a.ttl)
	if err != nil {
		return 0, fmt.Errorf("etcdarbiter: grant a lease: %w", err)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.revoke(g.ID)
		return 0, errClosed("claim")
	}
	ch, err := a.cli.KeepAlive(a.ctx, g.ID)
	if err != nil {
		a.mu.Unlock()
		a.revoke(g.ID)
		return 0, fmt.Errorf("etcdarbiter: keep the lease alive: %w", err)
	}
	a.lease = g.ID
	a.wg.Add(1)
	a.mu.Unlock()
	go a.drain(g.ID, ch)
	return g.ID, nil
}

// drain consumes the keepalive responses of lease (the client warns when
// nobody does) until the channel closes: at Close, or when the lease
// expired or the client closed, in which case the next Claim takes a new
// lease.
func (a *Arbiter) drain(lease clientv3.LeaseID, ch <-chan *clientv3.LeaseKeepAliveResponse) {
	defer a.wg.Done()
	for range ch {
	}
	a.dropLease(lease)
}

// dropLease forgets lease if it is still the current one.
func (a *Arbiter) dropLease(lease clientv3.LeaseID) {
	a.mu.Lock()
	if a.lease == lease {
		a.lease = 0
	}
	a.mu.Unlock()
}

func (a *Arbiter) revoke(lease clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	_, err := a.cli.Revoke(ctx, lease)
	return err
}

// Close stops the lease keepalives and revokes the lease, which removes
// the holder key if it names this Arbiter's server; the epoch record
// stays. It does not close the client. If etcd does not answer the
// revocation within a second, Close returns that error and the lease
// expires by itself within LeaseTTL. A second Close returns a
// *net.OpError wrapping net.ErrClosed.
func (a *Arbiter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errClosed("close")
	}
	a.closed = true
	lease := a.lease
	a.lease = 0
	a.mu.Unlock()
	a.cancel()
	var err error
	if lease != 0 {
		if rerr := a.revoke(lease); rerr != nil && !errors.Is(rerr, rpctypes.ErrLeaseNotFound) {
			err = fmt.Errorf("etcdarbiter: revoke the lease: %w", rerr)
		}
	}
	a.wg.Wait()
	return err
}

func errClosed(op string) error {
	return &net.OpError{Op: op, Net: "etcd", Err: net.ErrClosed}
}

// formatRecord returns the text of a record: the epoch in ten decimal
// digits, a space, the holder.
func formatRecord(epoch uint32, holder string) string {
	return fmt.Sprintf("%010d %s", epoch, holder)
}

func parseRecord(b []byte) (uint32, string, error) {
	s := string(b)
	num, holder, ok := strings.Cut(s, " ")
	if !ok || len(num) != 10 || holder == "" {
		return 0, "", fmt.Errorf("etcdarbiter: record %q: %w", s, ErrBadRecord)
	}
	epoch, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, "", fmt.Errorf("etcdarbiter: record %q: %w", s, ErrBadRecord)
	}
	return uint32(epoch), holder, nil
}
