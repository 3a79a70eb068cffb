package sap_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

func TestClientTimeouts(t *testing.T) {
	tests := []struct {
		name     string
		cfg      sap.ClientConfig
		ctx      func() (context.Context, context.CancelFunc)
		wantErr  error
		wantTime time.Duration
	}{
		{"attempts exhausted", sap.ClientConfig{Wait: 200 * time.Millisecond, Attempts: 4},
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			sap.ErrNoService, 800 * time.Millisecond},
		{"deadline first", sap.ClientConfig{},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 700*time.Millisecond)
			},
			context.DeadlineExceeded, 700 * time.Millisecond},
		{"cancelled", sap.ClientConfig{Wait: time.Hour},
			func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(300*time.Millisecond, cancel)
				return ctx, cancel
			},
			context.Canceled, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				seg := memlan.NewSegment(memlan.Config{Seed: 31})
				h := newHost(t, 1, false, attach{seg, 1})
				conn, err := h.stack.Listen(0)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				c, err := sap.NewClient(conn, tt.cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := tt.ctx()
				defer cancel()
				start := time.Now()
				_, err = c.Query(ctx, sap.TypeFileServer)
				if !errors.Is(err, sap.ErrNoService) || !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want ErrNoService and %v", err, tt.wantErr)
				}
				if d := time.Since(start); d != tt.wantTime {
					t.Fatalf("took %v, want %v", d, tt.wantTime)
				}
			})
		})
	}
}

// TestClientRetries loses the first queries; a later attempt gets through.
func TestClientRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 32})
		server := newHost(t, 1, false, attach{seg, 1})
		client := newHost(t, 2, false, attach{seg, 1})
		server.advertiser(sap.Config{}).Add(fileServer("FS1", 1))
		synctest.Wait()
		client.links[0].SetImpairments(memlan.Impairments{Loss: 1})
		time.AfterFunc(1200*time.Millisecond, client.links[0].ClearImpairments)
		conn, _ := client.stack.Listen(0)
		defer conn.Close()
		c, _ := sap.NewClient(conn, sap.ClientConfig{Wait: 500 * time.Millisecond, Attempts: 5})
		start := time.Now()
		got, err := c.Nearest(context.Background(), sap.TypeFileServer)
		if err != nil || got.Name.String() != "FS1" {
			t.Fatalf("nearest %+v %v", got, err)
		}
		// Queries at 0, 0.5 and 1 s are lost; the one at 1.5 s is answered.
		if d := time.Since(start); d != 1500*time.Millisecond {
			t.Fatalf("answered after %v", d)
		}
		if err := (&sap.ClientConfig{Attempts: -1}).Validate(); !errors.Is(err, sap.ErrBadConfig) {
			t.Fatal("negative attempts accepted")
		}
	})
}

// TestClientMaxResults floods a query with answers; the client keeps at
// most MaxResults.
func TestClientMaxResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 33})
		server := newHost(t, 1, false, attach{seg, 1})
		client := newHost(t, 2, false, attach{seg, 1})
		adv := server.advertiser(sap.Config{})
		for i := range 30 {
			adv.Add(fileServer(fmt.Sprintf("FS%02d", i), 1))
		}
		conn, _ := client.stack.Listen(0)
		defer conn.Close()
		c, _ := sap.NewClient(conn, sap.ClientConfig{MaxResults: 10})
		got, err := c.Query(context.Background(), sap.TypeFileServer)
		if err != nil || len(got) != 10 {
			t.Fatalf("got %d results, %v; want 10", len(got), err)
		}
	})
}

// TestAdvertiserStackClosed closes the Stack under a running Advertiser:
// its goroutines end without Close (synctest fails the test if any is
// left), and Close afterwards still returns.
func TestAdvertiserStackClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 34})
		s, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := seg.Attach(node(1))
		s.AddLink(l, 1)
		a, err := sap.NewAdvertiser(s, sap.Config{})
		if err != nil {
			t.Fatal(err)
		}
		a.Add(fileServer("FS1", 1))
		s.Close()
		synctest.Wait()
		time.Sleep(2 * time.Minute)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := sap.NewAdvertiser(s, sap.Config{}); err == nil {
			t.Fatal("NewAdvertiser on a closed Stack succeeded")
		}
	})
	t.Run("leak", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			seg := memlan.NewSegment(memlan.Config{Seed: 35})
			s, _ := ipx.NewStack(ipx.StackConfig{})
			l, _ := seg.Attach(node(1))
			s.AddLink(l, 1)
			if _, err := sap.NewAdvertiser(s, sap.Config{}); err != nil {
				t.Fatal(err)
			}
			s.Close() // and never Close the Advertiser
		})
	})
}

// TestClientLeavesSocketUsable checks that a cancelled query leaves no
// read deadline behind on the caller's socket.
func TestClientLeavesSocketUsable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 36})
		h := newHost(t, 1, false, attach{seg, 1})
		peer := newHost(t, 2, false, attach{seg, 1})
		conn, _ := h.stack.Listen(0)
		defer conn.Close()
		c, _ := sap.NewClient(conn, sap.ClientConfig{Wait: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		if _, err := c.Query(ctx, sap.TypeFileServer); !errors.Is(err, context.Canceled) {
			t.Fatalf("query: %v", err)
		}
		pc, _ := peer.stack.Listen(0)
		defer pc.Close()
		time.AfterFunc(time.Minute, func() { pc.WriteMsg([]byte("x"), conn.Addr(), ipx.WriteOptions{}) })
		buf := make([]byte, 8)
		if n, _, err := conn.ReadMsg(buf); err != nil || string(buf[:n]) != "x" {
			t.Fatalf("read after the query: %q %v", buf[:n], err)
		}
	})
}
