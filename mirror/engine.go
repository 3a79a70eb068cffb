package mirror

import "io"

// Event is one client request in the total order both servers apply.
type Event struct {
	// Seq is the event's position in the order, from 1 without gaps.
	Seq uint64
	// Client and ID identify the request: ID is the client's request
	// number, unique per Client.
	Client, ID uint64
	// Data is the request body. It is valid only during Apply.
	Data []byte
}

// Engine is the mirrored server engine the embedder supplies: a
// deterministic state machine. Both servers of a pair hold one, and both
// apply the same events in the same order, so both compute the same state
// and the same replies; only the primary's replies reach clients.
//
// The Server calls every method from one goroutine, never concurrently.
//
// Apply must be deterministic: its result and the state it leaves depend
// only on the state before and on ev (not on time, randomness, map order
// or the machine). It returns the reply, at most MaxData bytes (a longer
// one is cut and counted); the Server keeps its own copy, so Apply may
// reuse the slice's memory on the next call. Apply must not block for
// long: the mirror's requests wait behind it.
//
// Snapshot writes the engine's memory image to w; Restore discards all
// previous state and loads an image Snapshot wrote. A joining secondary
// receives the image this way while the primary goes on serving, so
// Snapshot should be quick: the primary holds its requests while it runs,
// unless the Engine is also a Viewer. The secondary restores off its
// loop, so a slow Restore costs no client anything.
type Engine interface {
	Apply(ev Event) []byte
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
}

// A Viewer is an Engine that can take a consistent view of its state
// cheaply (a copy-on-write fork, a copy of an index): the primary takes
// the view while requests wait, and writes the image from it while they
// go on, so that the pause a joining secondary causes does not grow with
// the image. The Server calls View as it calls the Engine's methods; it
// calls the view's Snapshot once, from another goroutine, possibly while
// the Engine applies later events, which must not change the view.
type Viewer interface {
	View() Snapshotter
}

// A Snapshotter writes a memory image, as Engine.Snapshot does.
type Snapshotter interface {
	Snapshot(w io.Writer) error
}
