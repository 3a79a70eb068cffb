package spx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"testing/synctest"
	"time"

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
	})
}

// TestReadDeadlineRacesData lets data arrive at the very instant a
// waiting Read's deadline passes, for many instants: whichever wins, the
// data lent to the reader's buffer is returned then, or, once the read
// has timed out, by the next Read; none is lost or duplicated.
func TestReadDeadlineRacesData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newTestNet(t, memlan.Config{Seed: 3})
		c, s, _ := n.connect(t, Config{}, Config{})
		n.seg.SetImpairments(memlan.Impairments{Delay: time.Millisecond})
		var want, got bytes.Buffer
		buf := make([]byte, 64)
		timeouts := 0
		for i := range 50 {
			msg := []byte(fmt.Sprintf("message %d;", i))
			want.Write(msg)
			// The packet takes 1 ms; the deadline is 1 ms away too.
			s.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			k, err := s.Read(buf)
			got.Write(buf[:k])
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				timeouts++
				if k != 0 {
					t.Fatalf("timeout with %d bytes", k)
				}
			case err != nil:
				t.Fatal(err)
			}
			// Collect what a timed-out read left behind.
			s.SetReadDeadline(time.Time{})
			for got.Len() < want.Len() {
				k, err := s.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				got.Write(buf[:k])
			}
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("read %q, want %q", got.Bytes(), want.Bytes())
		}
		t.Logf("%d of 50 reads timed out first", timeouts)
		c.Close()
		s.Close()
	})
}
