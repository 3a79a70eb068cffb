package mirror

import (
	"bytes"
	"testing"
	"time"
)

// abortHook is an MSL stream whose Abort runs a callback before it
// returns, as spx.Conn's runs the read notification a session's reader
// set (Server.readFrames): the frames handled there can fail the MSL and
// close the session again.
type abortHook struct {
	fakeConn
	onAbort func()
}

func (c *abortHook) Abort() error {
	c.onAbort()
	return nil
}

// A session closed from inside its own close (the writer's failed write
// closes it; the abort runs the reader's notification; the loop handles
// a frame that fails and closes the session) returns. It used to wait
// for itself in its sync.Once: TestImageTransferInterrupted hung so
// under -race about once in fifteen runs.
func TestSessionCloseReentrant(t *testing.T) {
	c := &abortHook{fakeConn: fakeConn{&bytes.Buffer{}}}
	sess := newSession(1, newFrameConn(c, testKey), hello{})
	aborts := 0
	c.onAbort = func() {
		aborts++
		sess.close()
	}
	done := make(chan struct{})
	go func() {
		sess.close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session.close called from within itself never returned")
	}
	if aborts != 1 {
		t.Fatalf("the stream was aborted %d times, want once", aborts)
	}
	select {
	case <-sess.done:
	default:
		t.Fatal("session not marked closed")
	}
}
