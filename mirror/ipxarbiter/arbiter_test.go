package ipxarbiter

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var key = []byte("ipxarbiter test key, 32 bytes...")

const (
	lan  ipx.Network = 1
	pair ipx.Network = 0xC0FFEE
)

// world is an arbiter and two claimants on one memlan segment.
type world struct {
	seg     *memlan.Segment
	arb     *Server
	arbLink *memlan.Link
	a, b    *Client
}

func stackOn(t *testing.T, seg *memlan.Segment, node ipx.Node) (*ipx.Stack, *memlan.Link) {
	t.Helper()
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := seg.Attach(node)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddLink(l, lan); err != nil {
		t.Fatal(err)
	}
	return st, l
}

func newWorld(t *testing.T, cfg Config) *world {
	t.Helper()
	w := &world{seg: memlan.NewSegment(memlan.Config{Seed: 1})}
	arbNode := ipx.Node{2, 0, 0, 0, 0, 9}
	cfg.Stack, w.arbLink = stackOn(t, w.seg, arbNode)
	cfg.Key = key
	var err error
	if w.arb, err = NewServer(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.arb.Close() })
	client := func(n byte) *Client {
		st, _ := stackOn(t, w.seg, ipx.Node{2, 0, 0, 0, 0, n})
		c, err := NewClient(ClientConfig{Stack: st, Arbiter: ipx.Addr{Net: lan, Node: arbNode}, Network: pair, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	w.a, w.b = client(1), client(2)
	return w
}

func claim(c *Client, server string, epoch uint32) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Claim(ctx, server, epoch)
}

func wantDenied(t *testing.T, err error, epoch uint32, holder string) {
	t.Helper()
	var d *mirror.DeniedError
	if !errors.As(err, &d) || !errors.Is(err, mirror.ErrDenied) {
		t.Fatalf("claim: %v, want a denial", err)
	}
	if d.Epoch != epoch || d.Holder != holder {
		t.Fatalf("denied with epoch %d holder %q, want %d %q", d.Epoch, d.Holder, epoch, holder)
	}
}

func TestGrantRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{})
		if err := claim(w.a, "A", 1); err != nil {
			t.Fatalf("first claim: %v", err)
		}
		// A retry whose answer was lost is granted again.
		if err := claim(w.a, "A", 1); err != nil {
			t.Fatalf("retried claim: %v", err)
		}
		wantDenied(t, claim(w.b, "B", 1), 1, "A")
		if err := claim(w.b, "B", 2); err != nil {
			t.Fatalf("newer claim: %v", err)
		}
		wantDenied(t, claim(w.a, "A", 2), 2, "B")
		wantDenied(t, claim(w.a, "A", 1), 2, "B")
		if g, ok := w.arb.Grant(pair); !ok || g != (Grant{Epoch: 2, Holder: "B"}) {
			t.Fatalf("Grant = %+v %v", g, ok)
		}
		st := w.arb.Stats()
		if st.Granted != 3 || st.Denied != 3 {
			t.Fatalf("stats %+v, want 3 granted and 3 denied", st)
		}
	})
}

// Two servers racing for the same epoch: exactly one wins, whatever the
// order the claims arrive in.
func TestRaceOneWinner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{})
		for e := uint32(1); e <= 20; e++ {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { errs[0] = claim(w.a, "A", e) })
			wg.Go(func() { errs[1] = claim(w.b, "B", e) })
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, mirror.ErrDenied):
					t.Fatalf("epoch %d: %v", e, err)
				}
			}
			if won != 1 {
				t.Fatalf("epoch %d: %d winners (%v)", e, won, errs)
			}
		}
	})
}

func TestClaimRetriesThroughLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{})
		w.arbLink.SetImpairments(memlan.Impairments{Loss: 0.6})
		for e := uint32(1); e <= 10; e++ {
			if err := claim(w.a, "A", e); err != nil {
				t.Fatalf("epoch %d through 60%% loss: %v", e, err)
			}
		}
	})
}

func TestArbiterDownTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{})
		w.arbLink.Crash()
		start := time.Now()
		err := claim(w.a, "A", 1)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mirror.ErrDenied) {
			t.Fatalf("claim with the arbiter down: %v, want the deadline", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("claim gave up after %v, want its 1s deadline", d)
		}
	})
}

// A message under another key is dropped, never answered.
func TestWrongKeyDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{})
		bad := *w.a
		bad.cfg.Key = []byte("another key of thirty-two bytes.")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := bad.Claim(ctx, "A", 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("claim under another key: %v, want no answer", err)
		}
		synctest.Wait()
		if st := w.arb.Stats(); st.Dropped == 0 || st.Granted != 0 {
			t.Fatalf("stats %+v: want drops and no grant", st)
		}
		if _, ok := w.arb.Grant(pair); ok {
			t.Fatal("an unauthentic claim was granted")
		}
	})
}

func TestMaxPairs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{MaxPairs: 1})
		if err := claim(w.a, "A", 1); err != nil {
			t.Fatal(err)
		}
		other := *w.b
		other.cfg.Network = pair + 1
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := other.Claim(ctx, "X", 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("claim for a second pair over MaxPairs: %v, want no answer", err)
		}
		// The known pair is still served.
		if err := claim(w.b, "B", 2); err != nil {
			t.Fatal(err)
		}
	})
}

// With Path, a restarted arbiter remembers its grants and never grants
// an epoch twice.
func TestPersistAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arbiter.json")
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{Path: path})
		if err := claim(w.a, "A", 7); err != nil {
			t.Fatal(err)
		}
		st := w.arb.cfg.Stack
		if err := w.arb.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.arb.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
		var err error
		w.arb, err = NewServer(Config{Stack: st, Key: key, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.arb.Close() })
		wantDenied(t, claim(w.b, "B", 7), 7, "A")
		if err := claim(w.b, "B", 8); err != nil {
			t.Fatal(err)
		}
	})
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		t.Fatalf("state file: %v, %d bytes", err, len(b))
	}
}

// A grant that cannot be saved is not answered: a grant the arbiter may
// forget must not be used.
func TestUnsavedGrantNotAnswered(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "arbiter.json") // the directory does not exist
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, Config{Path: path})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := w.a.Claim(ctx, "A", 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("claim: %v, want no answer", err)
		}
		if _, ok := w.arb.Grant(pair); ok {
			t.Fatal("an unsaved grant is kept")
		}
		if w.arb.Stats().Failed == 0 {
			t.Fatal("no failed save counted")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []Config{{}, {Stack: st}, {Stack: st, Key: key, MaxPairs: -1}} {
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	good := ClientConfig{Stack: st, Arbiter: ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 1}}, Network: pair, Key: key}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []func(*ClientConfig){
		func(c *ClientConfig) { c.Stack = nil },
		func(c *ClientConfig) { c.Arbiter = ipx.Addr{} },
		func(c *ClientConfig) { c.Network = 0 },
		func(c *ClientConfig) { c.Key = key[:5] },
		func(c *ClientConfig) { c.Retry = -1 },
	} {
		c := good
		mod(&c)
		if _, err := NewClient(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewClient(%+v) = %v", c, err)
		}
	}
}
