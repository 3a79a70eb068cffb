package ipxarbiter

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
)

// Defaults for Config fields left zero.
const (
	// DefaultSocket is the arbiter's socket.
	DefaultSocket ipx.Socket = 0x4A01
	// DefaultMaxPairs is Config.MaxPairs' default.
	DefaultMaxPairs int = 1024
)

// Config configures a Server.
type Config struct {
	// Stack carries the arbiter; both servers of each pair must reach it.
	Stack *ipx.Stack
	// Socket is the arbiter's socket, default DefaultSocket.
	Socket ipx.Socket
	// Key authenticates every message (HMAC-SHA-256); at least MinKeyLen
	// bytes, the same for the arbiter and its clients.
	Key []byte
	// MaxPairs bounds the pairs (internal networks) the arbiter keeps;
	// claims for more are ignored and counted. Default DefaultMaxPairs.
	MaxPairs int
	// Path, if set, is a file that keeps the grants across restarts: it
	// is read at start and rewritten (atomically) before a grant is
	// answered. Without it a restarted arbiter forgets every grant and
	// may grant an epoch twice, which is exactly what it is there to
	// prevent: run it without Path only where it never restarts while a
	// pair relies on it (tests, a demo).
	Path string
	// Logger receives grants and denials; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether the configuration is usable.
func (c *Config) Validate() error {
	switch {
	case c.Stack == nil:
		return fmt.Errorf("ipxarbiter: no Stack: %w", ErrBadConfig)
	case len(c.Key) < MinKeyLen:
		return fmt.Errorf("ipxarbiter: key of %d bytes, want at least %d: %w", len(c.Key), MinKeyLen, ErrBadConfig)
	case c.MaxPairs < 0:
		return fmt.Errorf("ipxarbiter: MaxPairs %d: %w", c.MaxPairs, ErrBadConfig)
	}
	return nil
}

// Grant is the newest epoch granted for a pair, and to whom.
type Grant struct {
	Epoch  uint32
	Holder string
}

// Stats are a Server's counters.
type Stats struct {
	Claims  uint64 // authentic claims received
	Granted uint64 // claims granted (retries of a grant included)
	Denied  uint64 // claims denied
	Dropped uint64 // messages malformed, unauthentic or over MaxPairs
	Failed  uint64 // grants not answered because Path could not be written
}

// Server is the built-in arbiter: it grants each pair's epochs by
// mirror.Arbiter's rule, answering claims on an IPX socket.
type Server struct {
	cfg  Config
	conn *ipx.Conn
	log  *slog.Logger

	mu     sync.Mutex
	grants map[ipx.Network]Grant

	claims, granted, denied, dropped, failed atomic.Uint64
	closed                                   atomic.Bool
	done                                     chan struct{}
}

// NewServer starts an arbiter on cfg.Stack.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Socket == 0 {
		cfg.Socket = DefaultSocket
	}
	if cfg.MaxPairs == 0 {
		cfg.MaxPairs = DefaultMaxPairs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, grants: make(map[ipx.Network]Grant), done: make(chan struct{})}
	if cfg.Path != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	c, err := cfg.Stack.Listen(cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("ipxarbiter: listen: %w", err)
	}
	c.SetPacketType(mirror.PacketType)
	s.conn = c
	go s.serve()
	return s, nil
}

// Grant returns the newest grant for the pair on network.
func (s *Server) Grant(network ipx.Network) (Grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[network]
	return g, ok
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{Claims: s.claims.Load(), Granted: s.granted.Load(), Denied: s.denied.Load(),
		Dropped: s.dropped.Load(), Failed: s.failed.Load()}
}

// Close stops the server and waits for it. A second Close returns an
// error wrapping net.ErrClosed.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return &net.OpError{Op: "close", Net: "ipx", Err: net.ErrClosed}
	}
	err := s.conn.Close()
	<-s.done
	return err
}

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, ipx.MaxPacketLen)
	var out []byte
	for {
		n, info, err := s.conn.ReadMsg(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var m Message
		if err := open(&m, buf[:n], s.cfg.Key); err != nil || m.Op != OpClaim {
			s.dropped.Add(1)
			s.log.Debug("ipxarbiter: message dropped", "from", info.Header.Src, "err", err)
			continue
		}
		ans, ok := s.claim(&m)
		if !ok {
			continue
		}
		out, _ = seal(out[:0], &ans, s.cfg.Key)
		if _, err := s.conn.WriteMsg(out, info.Header.Src, ipx.WriteOptions{Type: mirror.PacketType}); err != nil {
			s.log.Debug("ipxarbiter: answer not sent", "to", info.Header.Src, "err", err)
		}
	}
}

// claim applies mirror.Arbiter's rule to m and returns the answer; false
// if none may be sent.
func (s *Server) claim(m *Message) (Message, bool) {
	s.claims.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	g, known := s.grants[m.Network]
	ans := Message{ID: m.ID, Network: m.Network}
	switch {
	case m.Epoch > g.Epoch:
		if !known && len(s.grants) >= s.cfg.MaxPairs {
			s.dropped.Add(1)
			s.log.Warn("ipxarbiter: claim dropped: MaxPairs pairs known", "network", m.Network)
			return ans, false
		}
		s.grants[m.Network] = Grant{Epoch: m.Epoch, Holder: m.Name}
		if err := s.save(); err != nil {
			// Not answered: a grant we might forget must not be used.
			if known {
				s.grants[m.Network] = g
			} else {
				delete(s.grants, m.Network)
			}
			s.failed.Add(1)
			s.log.Error("ipxarbiter: grant not saved; not answered", "network", m.Network, "err", err)
			return ans, false
		}
		s.log.Info("ipxarbiter: granted", "network", m.Network, "epoch", m.Epoch, "to", m.Name)
		fallthrough
	case m.Epoch == g.Epoch && m.Name == g.Holder && known:
		s.granted.Add(1)
		ans.Op, ans.Epoch, ans.Name = OpGranted, m.Epoch, m.Name
	default:
		s.denied.Add(1)
		s.log.Info("ipxarbiter: denied", "network", m.Network, "epoch", m.Epoch, "to", m.Name, "granted", g.Epoch, "holder", g.Holder)
		ans.Op, ans.Epoch, ans.Name = OpDenied, g.Epoch, g.Holder
	}
	return ans, true
}

// stored is Path's content.
type stored struct {
	Grants []storedGrant `json:"grants"`
}

type storedGrant struct {
	Network ipx.Network `json:"network"`
	Epoch   uint32      `json:"epoch"`
	Holder  string      `json:"holder"`
}

func (s *Server) load() error {
	b, err := os.ReadFile(s.cfg.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ipxarbiter: state: %w", err)
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("ipxarbiter: state %s: %w", s.cfg.Path, err)
	}
	if len(st.Grants) > s.cfg.MaxPairs {
		return fmt.Errorf("ipxarbiter: state %s holds %d pairs, over MaxPairs %d: %w", s.cfg.Path, len(st.Grants), s.cfg.MaxPairs, ErrBadConfig)
	}
	for _, g := range st.Grants {
		s.grants[g.Network] = Grant{Epoch: g.Epoch, Holder: g.Holder}
	}
	return nil
}

// save writes the grants to Path, if set: to a temporary file, synced,
// then renamed over the old one, so that a crash leaves one or the other.
func (s *Server) save() error {
	if s.cfg.Path == "" {
		return nil
	}
	var st stored
	for n, g := range s.grants {
		st.Grants = append(st.Grants, storedGrant{Network: n, Epoch: g.Epoch, Holder: g.Holder})
	}
	b, err := json.Marshal(&st)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(s.cfg.Path), ".ipxarbiter-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.cfg.Path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(s.cfg.Path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
