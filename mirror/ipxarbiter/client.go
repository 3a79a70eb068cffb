package ipxarbiter

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
)

// DefaultRetry is how often a claim is sent again while unanswered.
const DefaultRetry = 100 * time.Millisecond

// ClientConfig configures a Client.
type ClientConfig struct {
	// Stack sends the claims.
	Stack *ipx.Stack
	// Arbiter is the arbiter's address; a zero socket means
	// DefaultSocket.
	Arbiter ipx.Addr
	// Network is the pair's internal network: the arbiter keeps one
	// grant per pair.
	Network ipx.Network
	// Key is the arbiter's key.
	Key []byte
	// Retry spaces the copies of an unanswered claim, default
	// DefaultRetry.
	Retry time.Duration
}

// Validate reports whether the configuration is usable.
func (c *ClientConfig) Validate() error {
	switch {
	case c.Stack == nil:
		return fmt.Errorf("ipxarbiter: no Stack: %w", ErrBadConfig)
	case c.Arbiter.Node == (ipx.Node{}):
		return fmt.Errorf("ipxarbiter: no arbiter address: %w", ErrBadConfig)
	case c.Network == 0:
		return fmt.Errorf("ipxarbiter: no internal network: %w", ErrBadConfig)
	case len(c.Key) < MinKeyLen:
		return fmt.Errorf("ipxarbiter: key of %d bytes, want at least %d: %w", len(c.Key), MinKeyLen, ErrBadConfig)
	case c.Retry < 0:
		return fmt.Errorf("ipxarbiter: negative Retry: %w", ErrBadConfig)
	}
	return nil
}

// Client asks an arbiter Server for epochs: it is a mirror.Arbiter.
// It holds no resources between claims and is safe for concurrent use.
type Client struct {
	cfg ClientConfig
}

var _ mirror.Arbiter = (*Client)(nil)

// NewClient returns a Client for one pair.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Arbiter.Socket == 0 {
		cfg.Arbiter.Socket = DefaultSocket
	}
	if cfg.Retry == 0 {
		cfg.Retry = DefaultRetry
	}
	return &Client{cfg: cfg}, nil
}

// Claim asks the arbiter for epoch on behalf of server, sending the
// claim again every Retry until an answer or ctx's end. A denial is a
// *mirror.DeniedError; ctx's end an error wrapping ctx.Err().
func (c *Client) Claim(ctx context.Context, server string, epoch uint32) error {
	var idb [8]byte
	rand.Read(idb[:])
	q := Message{Op: OpClaim, ID: binary.BigEndian.Uint64(idb[:]), Network: c.cfg.Network, Epoch: epoch, Name: server}
	out, err := seal(nil, &q, c.cfg.Key)
	if err != nil {
		return err
	}
	conn, err := c.cfg.Stack.Listen(0)
	if err != nil {
		return fmt.Errorf("ipxarbiter: claim: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, ipx.MaxPacketLen)
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("ipxarbiter: claim of epoch %d: %w", epoch, ctx.Err())
		}
		// A failed send (no route yet, say) is like a lost one: the
		// retry sends it again.
		conn.WriteMsg(out, c.cfg.Arbiter, ipx.WriteOptions{Type: mirror.PacketType})
		conn.SetReadDeadline(time.Now().Add(c.cfg.Retry))
		for {
			if ctx.Err() != nil {
				return fmt.Errorf("ipxarbiter: claim of epoch %d: %w", epoch, ctx.Err())
			}
			n, _, err := conn.ReadMsg(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return fmt.Errorf("ipxarbiter: claim of epoch %d: %w", epoch, err)
			}
			var a Message
			if open(&a, buf[:n], c.cfg.Key) != nil || a.ID != q.ID || a.Network != q.Network {
				continue
			}
			switch {
			case a.Op == OpGranted && a.Epoch == epoch && a.Name == server:
				return nil
			case a.Op == OpDenied:
				return &mirror.DeniedError{Epoch: a.Epoch, Holder: a.Name}
			}
		}
	}
}
