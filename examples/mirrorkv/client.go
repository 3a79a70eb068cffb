package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/examples/internal/routedtunnel"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

const clientUsage = `usage: mirrorkv client [link flags] [flags] put KEY VALUE
       mirrorkv client [link flags] [flags] get KEY
       mirrorkv client [link flags] [flags] cas KEY OLD NEW
       mirrorkv client [link flags] [flags] -batch < requests

Sends one request to a mirrored key-value pair and prints the reply:
"OK", the value, "not found" or "mismatch: VALUE". The request is retried
until -timeout, through a takeover too, and applied once. cas sets KEY to
NEW if it holds OLD ("" matches a missing key). Exits 1 if no reply came,
the key was not found or the cas found another value.

With -batch it reads requests from stdin, one a line ("put KEY VALUE",
fields split at spaces, "" an empty field), sends each in turn as one
client and prints one line for each: the reply, or "error: WHY" if the
line is malformed or no reply came within -timeout. It exits 1 if any
line printed an error.

Flags:
`

// clientOptions are a client's command line.
type clientOptions struct {
	link    linkFlags
	server  ipx.Addr
	timeout time.Duration
	op      string
	args    []string
	batch   bool // requests come from stdin
}

func parseClient(args []string) (clientOptions, *flag.FlagSet, error) {
	o := clientOptions{server: ipx.Addr{Net: defaultInternalNet, Node: defaultInternalNode, Socket: mirror.DefaultSocket}}
	fs := linkflag.NewFlagSet("mirrorkv client", clientUsage)
	o.link.register(fs)
	fs.TextVar(&o.server, "server", o.server, "the pair's engine address, `NET:NODE:SOCKET`")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long without a reply (in -batch, for each request)")
	fs.BoolVar(&o.batch, "batch", false, "read requests from stdin, one a line, and print a reply line for each")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if err := o.link.choose(); err != nil {
		return o, fs, err
	}
	if o.timeout <= 0 {
		return o, fs, linkflag.Usagef("-timeout %v: want positive", o.timeout)
	}
	switch {
	case o.batch && fs.NArg() > 0:
		return o, fs, linkflag.Usagef("-batch reads requests from stdin: unexpected arguments %q", fs.Args())
	case o.batch:
		return o, fs, nil
	case fs.NArg() == 0:
		return o, fs, linkflag.Usagef("no request: want put, get or cas")
	}
	o.op, o.args = fs.Arg(0), fs.Args()[1:]
	if err := checkRequest(o.op, o.args); err != nil {
		return o, fs, linkflag.Usagef("%v", err)
	}
	return o, fs, nil
}

// checkRequest reports whether op with args is a request.
func checkRequest(op string, args []string) error {
	want := map[string]int{"put": 2, "get": 1, "cas": 3}
	n, ok := want[op]
	switch {
	case !ok:
		return fmt.Errorf("request %q: want put, get or cas", op)
	case len(args) != n:
		return fmt.Errorf("%s takes %d arguments, got %d", op, n, len(args))
	}
	for _, a := range args {
		if len(a) > 255 {
			return fmt.Errorf("%q: keys and values hold at most 255 bytes", a[:20]+"...")
		}
	}
	return nil
}

// runClient sends one request, or with -batch those on stdin, and
// prints the replies: 0 if they succeeded, 1 if not, 2 for a usage error.
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, fs, err := parseClient(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	if err := doRequests(ctx, o, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "mirrorkv:", err)
		return 1
	}
	return 0
}

// errBatch reports that a line of a batch printed an error.
var errBatch = errors.New("some requests failed")

// doRequests opens the link and sends o's request, or each request on
// stdin with -batch, printing the replies.
func doRequests(ctx context.Context, o clientOptions, stdin io.Reader, stdout io.Writer) error {
	openCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	// The listener learns the route to the pair and follows a takeover.
	st, _, done, err := o.link.openListening(openCtx)
	if err != nil {
		return err
	}
	defer done()
	cl, err := mirror.NewClient(mirror.ClientConfig{Stack: st, Server: o.server})
	if err != nil {
		return err
	}
	defer cl.Close()
	if !o.batch {
		return doRequest(ctx, cl, o, o.op, o.args, stdout)
	}
	failed := false
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		for i, a := range f {
			if a == `""` {
				f[i] = ""
			}
		}
		err := checkRequest(f[0], f[1:])
		if err == nil {
			err = doRequest(ctx, cl, o, f[0], f[1:], stdout)
		}
		var answered *answeredError
		if err != nil && !errors.As(err, &answered) {
			failed = true
			fmt.Fprintf(stdout, "error: %v\n", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading requests: %w", err)
	}
	if failed {
		return errBatch
	}
	return nil
}

// answeredError is a reply that says the request failed: a key not
// found or a cas that found another value.
type answeredError struct{ msg string }

func (e *answeredError) Error() string { return e.msg }

// doRequest sends one request within o.timeout and prints its reply.
func doRequest(ctx context.Context, cl *mirror.Client, o clientOptions, op string, args []string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var req []byte
	switch op {
	case "put":
		req = mirrortest.Put(args[0], args[1])
	case "get":
		req = mirrortest.Get(args[0])
	case "cas":
		req = mirrortest.CAS(args[0], args[1], args[2])
	}
	// Until the route is known a send fails and is retried: no need to
	// wait for it first.
	reply, err := cl.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: no reply from %v: %w", op, o.server, err)
	}
	status, value, err := mirrortest.ParseReply(reply)
	if err != nil {
		return err
	}
	switch status {
	case mirrortest.StatusOK:
		if op == "get" {
			fmt.Fprintln(stdout, value)
		} else {
			fmt.Fprintln(stdout, "OK")
		}
		return nil
	case mirrortest.StatusNotFound:
		fmt.Fprintln(stdout, "not found")
		return &answeredError{fmt.Sprintf("%s: key %q not found", op, args[0])}
	case mirrortest.StatusMismatch:
		fmt.Fprintf(stdout, "mismatch: %s\n", value)
		return &answeredError{fmt.Sprintf("cas: key %q holds %q, not %q", args[0], value, args[1])}
	}
	return fmt.Errorf("%s: the server says the request is malformed (status %d)", op, status)
}

const relayUsage = `usage: mirrorkv relay [-listen host:port]

Runs an IPX-over-UDP tunnel server (DOSBox's protocol) that carries a
mirrored pair: it relays as DOSBox's server does, without refusing the
pair's replies from its internal address, and routes requests for the
internal network to whichever server RIP says serves it now. Stops on
SIGINT or SIGTERM.

Flags:
`

// runRelay runs the relay until ctx ends.
func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := linkflag.NewFlagSet("mirrorkv relay", relayUsage)
	listen := fs.String("listen", "127.0.0.1:213", "UDP `host:port` to serve the tunnel at")
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = linkflag.Usagef("unexpected arguments %q", fs.Args())
	}
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	t, err := routedtunnel.Listen(*listen, linkflag.DefaultNetwork)
	if err != nil {
		fmt.Fprintln(stderr, "mirrorkv relay:", linkflag.BindError(*listen, err))
		return 1
	}
	defer t.Close()
	fmt.Fprintf(stdout, "mirrorkv: relay at %s\n", t.Addr())
	<-ctx.Done()
	return 0
}
