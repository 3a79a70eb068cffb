package mirror

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// Defaults for ClientConfig fields left zero.
const (
	DefaultInitialBackoff = 50 * time.Millisecond
	DefaultMaxBackoff     = time.Second
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Stack is the client's IPX stack. To reach the engine's internal
	// network it needs a route: a listen-only rip.Router (which also
	// follows a takeover at once) or a static one.
	Stack *ipx.Stack
	// Server is the engine's address: internal network, node and socket.
	Server ipx.Addr
	// ID identifies the client to the pair's reply cache; zero picks a
	// random one. Two clients must never share one.
	ID uint64
	// InitialBackoff is the first wait before a request is sent again;
	// each retry doubles it, up to MaxBackoff. A takeover notification
	// cuts the wait short.
	InitialBackoff, MaxBackoff time.Duration
}

// Validate reports whether the configuration is usable.
func (c *ClientConfig) Validate() error {
	switch {
	case c.Stack == nil:
		return fmt.Errorf("mirror: client without a Stack: %w", ErrBadConfig)
	case c.Server.Net == 0 || c.Server.Node == (ipx.Node{}) || c.Server.Socket == 0:
		return fmt.Errorf("mirror: client server address %v: %w", c.Server, ErrBadConfig)
	case c.InitialBackoff < 0 || c.MaxBackoff < 0 || c.MaxBackoff != 0 && c.MaxBackoff < c.InitialBackoff:
		return fmt.Errorf("mirror: client backoff %v..%v: %w", c.InitialBackoff, c.MaxBackoff, ErrBadConfig)
	}
	return nil
}

// ClientStats are a Client's counters.
type ClientStats struct {
	Requests uint64 // calls to Do
	Sent     uint64 // request packets sent, first tries and retries
	Replies  uint64 // replies matched to a request
	Stale    uint64 // replies from an epoch older than one already seen
	Notices  uint64 // takeover notifications received
}

// Client sends requests to a mirrored pair and retries them until a
// reply comes: through a takeover, the same request id is applied once
// and answered again. It is safe for concurrent use; each Do is one
// request.
type Client struct {
	cfg  ClientConfig
	conn *ipx.Conn

	nextID atomic.Uint64
	epoch  atomic.Uint32 // the newest epoch a reply or notice carried

	mu      sync.Mutex
	pending map[uint64]chan []byte
	notify  chan struct{} // closed and replaced at each notification
	closed  bool

	sent, requests, replies, stale, notices atomic.Uint64
	done                                    chan struct{}
}

// NewClient returns a Client on a new dynamic socket of cfg.Stack.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.InitialBackoff)
	}
	if cfg.ID == 0 {
		var b [8]byte
		rand.Read(b[:])
		cfg.ID = binary.BigEndian.Uint64(b[:]) | 1
	}
	conn, err := cfg.Stack.Listen(0)
	if err != nil {
		return nil, fmt.Errorf("mirror: client socket: %w", err)
	}
	conn.SetPacketType(PacketType)
	c := &Client{cfg: cfg, conn: conn, pending: make(map[uint64]chan []byte),
		notify: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// ID returns the client's id.
func (c *Client) ID() uint64 { return c.cfg.ID }

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{Requests: c.requests.Load(), Sent: c.sent.Load(), Replies: c.replies.Load(),
		Stale: c.stale.Load(), Notices: c.notices.Load()}
}

// Do sends req and returns the reply, retrying with backoff until ctx is
// done. The error is ctx's, wrapped, if no reply came in time; the
// request may then have been applied or not, and calling Do again makes
// a new request.
func (c *Client) Do(ctx context.Context, req []byte) ([]byte, error) {
	if len(req) > MaxData {
		return nil, fmt.Errorf("mirror: request of %d bytes: %w", len(req), ErrTooLarge)
	}
	id := c.nextID.Add(1)
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, &net.OpError{Op: "write", Net: "ipx", Err: net.ErrClosed}
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	c.requests.Add(1)
	m := Message{Kind: KindRequest, Client: c.cfg.ID, ID: id, Data: req}
	pkt, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	backoff := c.cfg.InitialBackoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		c.mu.Lock()
		notified := c.notify
		c.mu.Unlock()
		// A send that finds no route (the route is moving) is retried
		// like a lost packet.
		if _, err := c.conn.WriteMsg(pkt, c.cfg.Server, ipx.WriteOptions{Type: PacketType}); err == nil {
			c.sent.Add(1)
		} else if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		timer.Reset(backoff)
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("mirror: request %d: %w", id, ctx.Err())
		case <-c.done:
			return nil, &net.OpError{Op: "read", Net: "ipx", Err: net.ErrClosed}
		case <-notified:
			// A takeover: the route is moving now. Start again from the
			// shortest wait, in case this send beat the route change.
			backoff = c.cfg.InitialBackoff
		case <-timer.C:
			backoff = min(2*backoff, c.cfg.MaxBackoff)
		}
	}
}

func (c *Client) readLoop() {
	defer close(c.done)
	buf := make([]byte, ipx.MaxPacketLen)
	for {
		n, _, err := c.conn.ReadMsg(buf)
		if err != nil {
			return
		}
		var m Message
		if m.UnmarshalBinary(buf[:n]) != nil || m.Kind == KindRequest {
			continue
		}
		// A server answering under an epoch older than one we have seen
		// is a deposed primary: never trust its replies.
		if e := c.epoch.Load(); m.Epoch < e {
			c.stale.Add(1)
			continue
		}
		for {
			e := c.epoch.Load()
			if m.Epoch <= e || c.epoch.CompareAndSwap(e, m.Epoch) {
				break
			}
		}
		c.mu.Lock()
		switch m.Kind {
		case KindNotify:
			c.notices.Add(1)
			close(c.notify)
			c.notify = make(chan struct{})
		case KindReply:
			if ch, ok := c.pending[m.ID]; ok && m.Client == c.cfg.ID {
				delete(c.pending, m.ID)
				c.replies.Add(1)
				ch <- append([]byte(nil), m.Data...)
			}
		}
		c.mu.Unlock()
	}
}

// Close releases the client's socket; pending calls to Do fail. A second
// Close returns an error wrapping net.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return &net.OpError{Op: "close", Net: "ipx", Err: net.ErrClosed}
	}
	c.closed = true
	c.mu.Unlock()
	err := c.conn.Close()
	<-c.done
	return err
}
