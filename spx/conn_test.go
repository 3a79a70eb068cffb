package spx

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/ipxkit/ipxkit/ipx/memlan"
)

func TestSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 1})
		c, s, _ := n.connect(t, Config{}, Config{})
		if !c.SPX2() || !s.SPX2() {
			t.Fatalf("SPX2 not negotiated: %v %v", c.SPX2(), s.SPX2())
		}
		msg := bytes.Repeat([]byte("hello spx "), 1000)
		go func() {
			if _, err := c.Write(msg); err != nil {
				t.Error(err)
			}
			c.Close()
		}()
		got, err := io.ReadAll(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("got %d bytes, want %d", len(got), len(msg))
		}
		s.Close()
		_ = errors.Is
	})
}
