package mirror_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// syncBuffer is a bytes.Buffer for a log handler written from many
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the logged lines that contain every one of subs.
func (s *syncBuffer) lines(subs ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range strings.Lines(s.b.String()) {
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(l, sub)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// Issue 13, bad input: a joining server with another engine version, key
// or internal address is refused with a clear error on both sides, over
// a real pair's MSL: both count the refusal and log why, the primary
// runs alone, and the joiner never takes an image.
func TestJoinRefusedBothSides(t *testing.T) {
	tests := []struct {
		name   string
		change func(*mirror.Config)
		// what each side's log says
		primary, joiner string
	}{
		{"engine version", func(c *mirror.Config) { c.EngineVersion = "kv2" },
			`peer runs engine \"kv2\", we run \"kv1\"`, `peer runs engine \"kv2\", we run \"kv1\"`},
		{"key", func(c *mirror.Config) { c.Key = []byte("another MSL key, also 32 bytes..") },
			"hello's MAC does not verify (the keys differ)", "the peer's MAC does not verify (the keys differ, or it refused us)"},
		{"internal node", func(c *mirror.Config) { c.Node = ipx.Node{0, 0, 0, 0, 0, 2} },
			"peer serves 00c0ffee:000000000002:4a00, we serve 00c0ffee:000000000001:4a00",
			"peer serves 00c0ffee:000000000002:4a00, we serve 00c0ffee:000000000001:4a00"},
		{"socket", func(c *mirror.Config) { c.Socket = 0x4A01 },
			"we serve 00c0ffee:000000000001:4a00", "we serve 00c0ffee:000000000001:4a00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log syncBuffer
				p := mirrortest.NewPair(t, mirrortest.PairConfig{
					Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})),
					Server: func(c *mirror.Config) {
						if c.Start == mirror.RoleSecondary {
							tt.change(c)
						}
					},
				})
				time.Sleep(3 * time.Second)
				a, b := p.A.Status(), p.B.Status()
				if a.Role != mirror.RolePrimary || a.Peer != mirror.PeerNone || b.Role != mirror.RoleSecondary || b.Peer != mirror.PeerNone {
					t.Fatalf("A %+v, B %+v; want A alone and B outside", a, b)
				}
				if sa, sb := p.A.Stats(), p.B.Stats(); sa.MSLRefused == 0 || sb.MSLRefused == 0 || sb.Images != 0 || sa.Images != 0 {
					t.Fatalf("A %+v, B %+v; want refusals counted on both sides, no image", sa, sb)
				}
				for _, side := range []struct{ server, want string }{{"A", tt.primary}, {"B", tt.joiner}} {
					if l := log.lines("server="+side.server, "handshake failed", side.want); len(l) == 0 {
						t.Errorf("%s logged no refusal saying %q; its warnings:\n%s", side.server, side.want,
							strings.Join(log.lines("server="+side.server), ""))
					}
				}
			})
		})
	}
}
