package main

import (
	"bufio"
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/ipxarbiter"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/spx"
)

const serverUsage = `usage: mirrorkv [link flags] -role primary|secondary -peer NET:NODE -key HEX [flags]
       mirrorkv client [link flags] [-server NET:NODE:SOCKET] put KEY VALUE | get KEY | cas KEY OLD NEW
       mirrorkv relay [-listen host:port]
       mirrorkv arbiter [link flags] -key HEX|-key-file F [-socket HEX] [-state FILE]

Runs one server of a mirrored key-value pair. The other server runs the
same command with the other -role and this one's LAN address as -peer.
Status: send SIGUSR1 or type "status". Planned switchover (hand the
primary role to the mirrored secondary, for maintenance; type it again on
the new primary to hand it back): type "switchover". Stop: SIGINT or
SIGTERM.

With -arbiter (give it to both servers) a server answers alone, or takes
over, only in an epoch the arbiter ("mirrorkv arbiter") granted it, so
that a full partition between the servers cannot make two primaries; but
while the arbiter is unreachable neither can go on alone.

With -health-fail-file, the server's health check fails while that file
exists: "touch FILE" on the primary hands the primary role to a mirrored
secondary whose own check passes, as "switchover" does (otherwise the
primary stays and logs why); "rm FILE" ends the failure. The role does
not come back by itself: a switchover moves it back.

Flags:
`

// serverOptions are a server's command line.
type serverOptions struct {
	link         linkFlags
	role         mirror.Role
	peer         ipx.Addr
	mslListen    ipx.Socket
	mslPeer      ipx.Addr
	key          []byte
	internalNet  ipx.Network
	internalNode ipx.Node
	socket       ipx.Socket
	debugAddr    string
	// arbiter is the arbiter's address, zero for none; arbiterKey its
	// key.
	arbiter    ipx.Addr
	arbiterKey []byte
	// healthFile, if set, is the file whose presence fails the health
	// check, run every healthInterval.
	healthFile     string
	healthInterval time.Duration
}

func parseServer(args []string) (serverOptions, *flag.FlagSet, error) {
	o := serverOptions{mslListen: defaultMSLSocket, internalNode: defaultInternalNode, socket: mirror.DefaultSocket}
	fs := linkflag.NewFlagSet("mirrorkv", serverUsage)
	o.link.register(fs)
	var role, peer, mslListen, mslPeer, key, keyFile, node, socket string
	fs.StringVar(&role, "role", "", "the `role` this server starts in: primary or secondary (required)")
	fs.StringVar(&peer, "peer", "", "the other server's LAN address, `NET:NODE` in hex (required)")
	fs.StringVar(&mslListen, "msl-listen", defaultMSLSocket.String(), "the `socket` (hex) this server's MSL listens at")
	fs.StringVar(&mslPeer, "msl-peer", "", "the other server's MSL address, `NET:NODE:SOCKET` (default the peer's LAN address at the -msl-listen socket)")
	fs.StringVar(&key, "key", "", "the MSL key, the same on both servers: `hex`, at least 16 bytes")
	fs.StringVar(&keyFile, "key-file", "", "a `file` holding the MSL key in hex, instead of -key")
	o.internalNet = defaultInternalNet
	fs.Func("internal-net", "the engine's internal `network` (hex), the same on both servers (default 00c0ffee)", func(s string) error {
		n, err := linkflag.ParseNetwork(s)
		o.internalNet = n
		return err
	})
	fs.StringVar(&node, "internal-node", defaultInternalNode.String(), "the engine's `node` on its internal network")
	fs.StringVar(&socket, "socket", mirror.DefaultSocket.String(), "the engine's `socket` (hex)")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve expvar counters at http://`host:port`/debug/vars")
	var arbiter, arbiterKey, arbiterKeyFile string
	fs.StringVar(&arbiter, "arbiter", "", "use the arbiter at `NET:NODE[:SOCKET]` (\"mirrorkv arbiter\"; default socket "+ipxarbiter.DefaultSocket.String()+"), on both servers")
	fs.StringVar(&arbiterKey, "arbiter-key", "", "the arbiter's key: `hex`, at least 16 bytes (default the MSL key)")
	fs.StringVar(&arbiterKeyFile, "arbiter-key-file", "", "a `file` holding the arbiter's key in hex, instead of -arbiter-key")
	fs.StringVar(&o.healthFile, "health-fail-file", "", "a health check that fails while `PATH` exists: touch it on the primary to hand its role to the secondary")
	fs.DurationVar(&o.healthInterval, "health-interval", mirror.DefaultHealthInterval, "run the -health-fail-file check this often")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		return o, fs, linkflag.Usagef("unexpected arguments %q (a client starts with \"mirrorkv client\")", fs.Args())
	}
	if err := o.link.choose(); err != nil {
		return o, fs, err
	}
	var err error
	switch role {
	case "primary":
		o.role = mirror.RolePrimary
	case "secondary":
		o.role = mirror.RoleSecondary
	default:
		return o, fs, linkflag.Usagef("-role %q: want primary or secondary", role)
	}
	if peer == "" {
		return o, fs, linkflag.Usagef("-peer is required")
	}
	if o.peer, err = parseNetNode(peer); err != nil {
		return o, fs, linkflag.Usagef("-peer %v", err)
	}
	if o.mslListen, err = parseSocket(mslListen); err != nil {
		return o, fs, linkflag.Usagef("-msl-listen: %v", err)
	}
	o.mslPeer = ipx.Addr{Net: o.peer.Net, Node: o.peer.Node, Socket: o.mslListen}
	if mslPeer != "" {
		if o.mslPeer, err = linkflag.ParseAddr(mslPeer, 0); err != nil {
			return o, fs, linkflag.Usagef("-msl-peer: %v", err)
		}
	}
	if o.key, err = chooseKey("key", key, keyFile); err != nil {
		return o, fs, err
	}
	if o.key == nil {
		return o, fs, linkflag.Usagef("-key or -key-file is required")
	}
	if o.internalNode, err = ipx.ParseNode(node); err != nil {
		return o, fs, linkflag.Usagef("-internal-node: %v", err)
	}
	if o.socket, err = parseSocket(socket); err != nil {
		return o, fs, linkflag.Usagef("-socket: %v", err)
	}
	if err := o.parseArbiterFlags(arbiter, arbiterKey, arbiterKeyFile); err != nil {
		return o, fs, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case o.healthInterval <= 0:
		return o, fs, linkflag.Usagef("-health-interval %v: want positive", o.healthInterval)
	case set["health-interval"] && o.healthFile == "":
		return o, fs, linkflag.Usagef("-health-interval needs -health-fail-file")
	}
	return o, fs, nil
}

// parseArbiterFlags sets o.arbiter and o.arbiterKey from -arbiter and
// its key flags, after the MSL key.
func (o *serverOptions) parseArbiterFlags(arbiter, key, keyFile string) error {
	if arbiter == "" {
		if key != "" || keyFile != "" {
			return linkflag.Usagef("-arbiter-key and -arbiter-key-file need -arbiter")
		}
		return nil
	}
	var err error
	if o.arbiter, err = linkflag.ParseAddr(arbiter, ipxarbiter.DefaultSocket); err != nil {
		return linkflag.Usagef("-arbiter: %v", err)
	}
	if o.arbiter.Node == (ipx.Node{}) || o.arbiter.Node.IsBroadcast() || o.arbiter.Socket == 0 {
		return linkflag.Usagef("-arbiter %q: want a host's address and a nonzero socket", arbiter)
	}
	if o.arbiterKey, err = chooseKey("arbiter-key", key, keyFile); err != nil {
		return err
	}
	if o.arbiterKey == nil {
		o.arbiterKey = o.key
	}
	return nil
}

// runServer runs a server until ctx ends.
func runServer(ctx context.Context, o serverOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	st, lan, err := o.link.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.AddLinkConfig(ipx.NewInternalLink(o.internalNode), ipx.LinkConfig{Network: o.internalNet, Shared: true}); err != nil {
		return fmt.Errorf("internal network: %w", err)
	}
	router, err := rip.NewRouter(st, rip.Config{
		Shared: map[ipx.Network]rip.SharedState{o.internalNet: rip.SharedStandby},
	})
	if err != nil {
		return err
	}
	defer router.Close()
	ln, err := spx.ListenConfig(st, o.mslListen, mslSPX)
	if err != nil {
		return fmt.Errorf("MSL listener: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var arb *loggedArbiter
	var health *failFile
	cfg := mirror.Config{
		Stack: st, Router: router, Engine: mirrortest.NewKV(), EngineVersion: "mirrorkv1",
		Network: o.internalNet, Node: o.internalNode, Socket: o.socket, Start: o.role, Key: o.key,
		Peer:     o.peer,
		Listener: ln,
		Dial: func(ctx context.Context) (net.Conn, error) {
			return spx.DialConfig(ctx, st, o.mslPeer, mslSPX)
		},
		Logger: log,
	}
	if o.arbiter != (ipx.Addr{}) {
		cl, err := ipxarbiter.NewClient(ipxarbiter.ClientConfig{
			Stack: st, Arbiter: o.arbiter, Network: o.internalNet, Key: o.arbiterKey,
		})
		if err != nil {
			ln.Close()
			return err
		}
		arb = &loggedArbiter{arb: cl, log: log}
		cfg.Arbiter = arb
	}
	if o.healthFile != "" {
		health = &failFile{path: o.healthFile}
		cfg.Health, cfg.HealthInterval = health.check, o.healthInterval
	}
	srv, err := mirror.NewServer(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	show := func() string { return formatStatus(srv, arb, o.arbiter, health) }
	var out sync.Mutex // status lines come from two goroutines
	printf := func(format string, a ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(stdout, format, a...)
	}
	printf("mirrorkv: serving %v as %v; LAN address %v:%v, MSL at socket %v, peer %v:%v\n",
		ipx.Addr{Net: o.internalNet, Node: o.internalNode, Socket: o.socket}, o.role, lan.Net, lan.Node,
		o.mslListen, o.peer.Net, o.peer.Node)
	if arb != nil {
		printf("mirrorkv: arbiter at %v\n", o.arbiter)
	}
	if health != nil {
		printf("mirrorkv: health check: fails while %s exists, every %v\n", o.healthFile, o.healthInterval)
	}

	if o.debugAddr != "" {
		hs, addr, err := serveExpvar(o.debugAddr, srv)
		if err != nil {
			return err
		}
		defer hs.Close()
		printf("mirrorkv: expvar counters at http://%s/debug/vars\n", addr)
	}

	status := make(chan struct{}, 1)
	switchover := make(chan struct{}, 1)
	stopSig := notifyStatus(status)
	defer stopSig()
	go readCommands(stdin, status, switchover)
	for {
		select {
		case <-ctx.Done():
			printf("mirrorkv: stopping\n")
			return nil
		case <-st.Done():
			return errors.New("the stack closed: the link failed")
		case <-status:
			printf("%s\n", show())
		case <-switchover:
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := srv.Switchover(sctx)
			cancel()
			if err != nil {
				printf("mirrorkv: switchover failed: %v\n", err)
			} else {
				printf("mirrorkv: switchover done: %s\n", show())
			}
		}
	}
}

// readCommands asks for the status at each "status" line of r, and for a
// switchover at each "switchover" line. It ends at EOF, which leaves the
// server running.
func readCommands(r io.Reader, status, switchover chan<- struct{}) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var ch chan<- struct{}
		switch strings.TrimSpace(sc.Text()) {
		case "status":
			ch = status
		case "switchover":
			ch = switchover
		default:
			continue
		}
		select {
		case ch <- struct{}{}:
		default: // one is pending already
		}
	}
}

// formatStatus says the server's state in one line: with an arbiter
// (arb not nil, at addr) its last answer and the claims, with a health
// check its state and the failed checks.
func formatStatus(srv *mirror.Server, arb *loggedArbiter, addr ipx.Addr, health *failFile) string {
	s, c := srv.Status(), srv.Stats()
	heard := "never"
	if !s.LastHeard.IsZero() {
		heard = time.Since(s.LastHeard).Round(time.Millisecond).String() + " ago"
	}
	var extra string
	if arb != nil {
		extra += fmt.Sprintf(" arbiter=%v last-claim=%s claims=%d denials=%d", addr, arb.lastClaim(), c.Claims, c.Denials)
	}
	if health != nil {
		extra += fmt.Sprintf(" health=%s unhealthy=%d", health.state(), c.Unhealthy)
	}
	return fmt.Sprintf("mirrorkv: status: role=%v epoch=%d peer=%v applied=%d acked=%d lag=%d events/%v last-heard=%s clients=%d requests=%d replies=%d takeovers=%d msl-failures=%d",
		s.Role, s.Epoch, s.Peer, s.Applied, s.Acked, s.LagEvents, s.LagTime, heard, s.Clients,
		c.Requests, c.Replies, c.Takeovers, c.MSLFailures) + extra
}

// mslSPX configures the MSL's SPX connections. A server closes a failed
// MSL and must not wait there for a dead peer to acknowledge: Close
// returns at once. Each MSL message is answered at once (an event by its
// ack, a heartbeat by the next), so the answers carry SPX's acks.
var mslSPX = spx.Config{Linger: -1, PiggybackAcks: true}

// published is the server whose counters expvar shows: expvar.Publish
// takes a name once per process.
var (
	published   atomic.Pointer[mirror.Server]
	publishOnce sync.Once
)

// serveExpvar publishes the server's counters as "mirror" and serves
// expvar's handler at addr.
func serveExpvar(addr string, srv *mirror.Server) (*http.Server, net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("-debug-addr: %w", err)
	}
	published.Store(srv)
	publishOnce.Do(func() {
		expvar.Publish("mirror", expvar.Func(func() any {
			if s := published.Load(); s != nil {
				return s.Var().(expvar.Func)()
			}
			return nil
		}))
	})
	mux := http.NewServeMux()
	mux.Handle("/debug/vars", expvar.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l)
	return hs, l.Addr(), nil
}
