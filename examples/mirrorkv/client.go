package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
	"github.com/ipxkit/ipxkit/rip"
)

const clientUsage = `usage: mirrorkv client [link flags] [flags] put KEY VALUE
       mirrorkv client [link flags] [flags] get KEY
       mirrorkv client [link flags] [flags] cas KEY OLD NEW

Sends one request to a mirrored key-value pair and prints the reply:
"OK", the value, "not found" or "mismatch: VALUE". The request is retried
until -timeout, through a takeover too, and applied once. cas sets KEY to
NEW if it holds OLD ("" matches a missing key). Exits 1 if no reply came,
the key was not found or the cas found another value.

Flags:
`

// clientOptions are a client's command line.
type clientOptions struct {
	link    linkFlags
	server  ipx.Addr
	timeout time.Duration
	op      string
	args    []string
}

func parseClient(args []string) (clientOptions, *flag.FlagSet, error) {
	o := clientOptions{server: ipx.Addr{Net: defaultInternalNet, Node: defaultInternalNode, Socket: mirror.DefaultSocket}}
	fs := linkflag.NewFlagSet("mirrorkv client", clientUsage)
	o.link.register(fs)
	fs.TextVar(&o.server, "server", o.server, "the pair's engine address, `NET:NODE:SOCKET`")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long without a reply")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if err := o.link.choose(); err != nil {
		return o, fs, err
	}
	if o.timeout <= 0 {
		return o, fs, linkflag.Usagef("-timeout %v: want positive", o.timeout)
	}
	if fs.NArg() == 0 {
		return o, fs, linkflag.Usagef("no request: want put, get or cas")
	}
	o.op, o.args = fs.Arg(0), fs.Args()[1:]
	want := map[string]int{"put": 2, "get": 1, "cas": 3}
	n, ok := want[o.op]
	switch {
	case !ok:
		return o, fs, linkflag.Usagef("request %q: want put, get or cas", o.op)
	case len(o.args) != n:
		return o, fs, linkflag.Usagef("%s takes %d arguments, got %d", o.op, n, len(o.args))
	}
	for _, a := range o.args {
		if len(a) > 255 {
			return o, fs, linkflag.Usagef("%q: keys and values hold at most 255 bytes", a[:20]+"...")
		}
	}
	return o, fs, nil
}

// runClient sends one request and prints its reply: 0 if it succeeded,
// 1 if not, 2 for a usage error.
func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parseClient(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	if err := doRequest(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "mirrorkv:", err)
		return 1
	}
	return 0
}

// doRequest sends o's request and prints its reply.
func doRequest(ctx context.Context, o clientOptions, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st, _, err := o.link.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// A listen-only router learns the route to the pair and follows a
	// takeover.
	router, err := rip.NewRouter(st, rip.Config{ListenOnly: true})
	if err != nil {
		return err
	}
	defer router.Close()
	cl, err := mirror.NewClient(mirror.ClientConfig{Stack: st, Server: o.server})
	if err != nil {
		return err
	}
	defer cl.Close()
	var req []byte
	switch o.op {
	case "put":
		req = mirrortest.Put(o.args[0], o.args[1])
	case "get":
		req = mirrortest.Get(o.args[0])
	case "cas":
		req = mirrortest.CAS(o.args[0], o.args[1], o.args[2])
	}
	// Until the route is known a send fails and is retried: no need to
	// wait for it first.
	reply, err := cl.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: no reply from %v: %w", o.op, o.server, err)
	}
	status, value, err := mirrortest.ParseReply(reply)
	if err != nil {
		return err
	}
	switch status {
	case mirrortest.StatusOK:
		if o.op == "get" {
			fmt.Fprintln(stdout, value)
		} else {
			fmt.Fprintln(stdout, "OK")
		}
		return nil
	case mirrortest.StatusNotFound:
		fmt.Fprintln(stdout, "not found")
		return fmt.Errorf("%s: key %q not found", o.op, o.args[0])
	case mirrortest.StatusMismatch:
		fmt.Fprintf(stdout, "mismatch: %s\n", value)
		return fmt.Errorf("cas: key %q holds %q, not %q", o.args[0], value, o.args[1])
	}
	return fmt.Errorf("%s: the server says the request is malformed (status %d)", o.op, status)
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
	t, err := listenTunnel(*listen, linkflag.DefaultNetwork)
	if err != nil {
		fmt.Fprintln(stderr, "mirrorkv relay:", linkflag.BindError(*listen, err))
		return 1
	}
	defer t.Close()
	fmt.Fprintf(stdout, "mirrorkv: relay at %s\n", t.Addr())
	<-ctx.Done()
	return 0
}
