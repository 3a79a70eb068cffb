package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/ipxarbiter"
)

const arbiterUsage = `usage: mirrorkv arbiter [link flags] -key HEX|-key-file F [-socket HEX] [-state FILE]

Runs the built-in arbiter (mirror/ipxarbiter): it grants a mirrored pair
the primary role one epoch at a time, so that even a full partition
between the two servers (MSL and LAN cut, each still reaching the
arbiter) cannot leave two primaries answering clients. Run it beside a
router or on any host both servers reach, not on either server: it must
outlive the one that fails. It prints its address, which both servers
take as -arbiter, and logs each grant and denial to stderr. Stop: SIGINT
or SIGTERM.

Give it -state: the file keeps the grants across restarts (written
before each grant is answered). Without it a restarted arbiter forgets
every grant and may grant an epoch twice, once to each side of a
partition, which is exactly what it is there to prevent; leave it out
only for a demo or a test.

The key is shared with the servers (their -arbiter-key, which defaults
to their MSL key).

Flags:
`

// arbiterOptions are the arbiter's command line.
type arbiterOptions struct {
	link   linkFlags
	key    []byte
	socket ipx.Socket
	state  string
}

func parseArbiter(args []string) (arbiterOptions, *flag.FlagSet, error) {
	o := arbiterOptions{socket: ipxarbiter.DefaultSocket}
	fs := linkflag.NewFlagSet("mirrorkv arbiter", arbiterUsage)
	o.link.register(fs)
	var key, keyFile, socket string
	fs.StringVar(&key, "key", "", "the arbiter's key, the servers' -arbiter-key: `hex`, at least 16 bytes")
	fs.StringVar(&keyFile, "key-file", "", "a `file` holding the key in hex, instead of -key")
	fs.StringVar(&socket, "socket", ipxarbiter.DefaultSocket.String(), "the `socket` (hex) to answer claims at")
	fs.StringVar(&o.state, "state", "", "a `file` that keeps the grants across restarts (see above: without it a restarted arbiter may grant an epoch twice)")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		return o, fs, linkflag.Usagef("unexpected arguments %q", fs.Args())
	}
	if err := o.link.choose(); err != nil {
		return o, fs, err
	}
	var err error
	if o.key, err = chooseKey("key", key, keyFile); err != nil {
		return o, fs, err
	}
	if o.key == nil {
		return o, fs, linkflag.Usagef("-key or -key-file is required")
	}
	if o.socket, err = parseSocket(socket); err != nil {
		return o, fs, linkflag.Usagef("-socket: %v", err)
	}
	return o, fs, nil
}

// chooseKey reads the key given as -name (hex) or -name-file: nil if
// neither, a usage error if both or a bad one.
func chooseKey(name, key, keyFile string) ([]byte, error) {
	switch {
	case key != "" && keyFile != "":
		return nil, linkflag.Usagef("give -%s or -%s-file, not both", name, name)
	case key != "":
		k, err := parseKey(key)
		if err != nil {
			return nil, linkflag.Usagef("-%s: %v", name, err)
		}
		return k, nil
	case keyFile != "":
		k, err := readKeyFile(keyFile)
		if err != nil {
			return nil, linkflag.Usagef("-%s-file: %v", name, err)
		}
		return k, nil
	}
	return nil, nil
}

// runArbiter runs the arbiter until ctx ends: 0, or 1 if it could not
// start or its link failed, 2 for a usage error.
func runArbiter(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parseArbiter(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	if err := serveArbiter(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "mirrorkv arbiter:", err)
		return 1
	}
	return 0
}

func serveArbiter(ctx context.Context, o arbiterOptions, stdout, stderr io.Writer) error {
	// The listener learns the routes to servers on other networks, so
	// that the answers reach them.
	st, lan, done, err := o.link.openListening(ctx)
	if err != nil {
		return err
	}
	defer done()
	srv, err := ipxarbiter.NewServer(ipxarbiter.Config{
		Stack: st, Socket: o.socket, Key: o.key, Path: o.state,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	state := "no -state: grants are forgotten on restart"
	if o.state != "" {
		state = "grants kept in " + o.state
	}
	addr := ipx.Addr{Net: lan.Net, Node: lan.Node, Socket: o.socket}
	fmt.Fprintf(stdout, "mirrorkv: arbiter at %v (%s)\n", addr, state)
	select {
	case <-ctx.Done():
	case <-st.Done():
		return errors.New("the stack closed: the link failed")
	}
	s := srv.Stats()
	fmt.Fprintf(stdout, "mirrorkv: arbiter stopping: claims=%d granted=%d denied=%d dropped=%d failed=%d\n",
		s.Claims, s.Granted, s.Denied, s.Dropped, s.Failed)
	return nil
}

// loggedArbiter logs each answer of the arbiter and keeps the last for
// the status line: the mirror logs what it does with a grant, not the
// grant itself.
type loggedArbiter struct {
	arb  mirror.Arbiter
	log  *slog.Logger
	last atomic.Pointer[string]
}

func (a *loggedArbiter) Claim(ctx context.Context, server string, epoch uint32) error {
	err := a.arb.Claim(ctx, server, epoch)
	var denied *mirror.DeniedError
	var last string
	switch {
	case err == nil:
		last = fmt.Sprintf("granted:%d", epoch)
		a.log.Info("mirrorkv: the arbiter granted the epoch", "epoch", epoch, "server", server)
	case errors.As(err, &denied):
		last = fmt.Sprintf("denied:%d", epoch)
		a.log.Warn("mirrorkv: the arbiter denied the epoch", "epoch", epoch, "server", server,
			"granted epoch", denied.Epoch, "holder", denied.Holder)
	default:
		// The mirror logs it, and asks again.
		last = fmt.Sprintf("unanswered:%d", epoch)
	}
	a.last.Store(&last)
	return err
}

// lastClaim is the last answer, for the status line.
func (a *loggedArbiter) lastClaim() string {
	if p := a.last.Load(); p != nil {
		return *p
	}
	return "none"
}

// failFile is the -health-fail-file check: it fails while its file
// exists, so that an operator's touch demotes the primary.
type failFile struct {
	path    string
	failing atomic.Int32 // 0 not checked yet, 1 passing, 2 failing
}

// errFailFile reports the check's file present.
var errFailFile = errors.New("health: the fail file exists")

func (f *failFile) check(context.Context) error {
	_, err := os.Lstat(f.path)
	switch {
	case err == nil:
		err = fmt.Errorf("%s: %w", f.path, errFailFile)
	case errors.Is(err, os.ErrNotExist):
		err = nil
	default:
		// Cannot tell: fail, as a track script that cannot run does.
		err = fmt.Errorf("health: %w", err)
	}
	if err != nil {
		f.failing.Store(2)
	} else {
		f.failing.Store(1)
	}
	return err
}

func (f *failFile) state() string {
	switch f.failing.Load() {
	case 1:
		return "ok"
	case 2:
		return "failing"
	}
	return "unchecked"
}
