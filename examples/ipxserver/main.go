// Command ipxserver runs an IPX-over-UDP tunnel server compatible with
// DOSBox ("ipxnet connect HOST PORT" in DOSBox) and with the udp link of
// this module (udp.Dial, ipxping -link udp). It relays IPX packets between
// the registered clients and logs registrations, dropped clients, refused
// registrations and dropped datagrams (rate-limited).
//
// Usage:
//
//	ipxserver [-addr 127.0.0.1:213] [-max-clients 256] [-max-per-host 64]
//	          [-timeout 10m] [-keepalive 5s] [-keepalive-misses 3] [-v]
//
// Port 213, the IPX tunnel's port, is privileged; choose a port above
// 1023 to run unprivileged, and -addr :PORT to serve every interface.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/examples/internal/serve"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/sap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

const usageText = `usage: ipxserver [flags]

Runs a DOSBox-compatible IPX tunnel server: IPX packets carried in UDP
datagrams, relayed between registered clients. DOSBox connects with
"ipxnet connect HOST PORT". Registrations, clients dropped (silent, or
deaf to keepalives), refused registrations and dropped datagrams are
logged to stderr, at most one line per reason every 5 s with the number
held back; statistics are logged on exit. With -echo the server answers
ipxping at its own node, and with -sap it advertises services there, so
that ipxping and slist find something on the tunnel.

Port 213, the tunnel's usual port, needs root; choose one above 1023,
e.g. -addr 127.0.0.1:21300, to run unprivileged.

Flags:
`

// run serves until ctx ends and returns the exit status. ready, if not
// nil, is told the bound address once the server listens.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) int {
	fs := linkflag.NewFlagSet("ipxserver", usageText)
	addr := fs.String("addr", fmt.Sprintf("127.0.0.1:%d", udp.DefaultPort), "UDP `address` to listen on (IPv4; :PORT for every interface)")
	maxClients := fs.Int("max-clients", 256, "most clients registered at once")
	maxPerHost := fs.Int("max-per-host", 64, "most clients from one IP address")
	timeout := fs.Duration("timeout", 10*time.Minute, "forget a client silent this long")
	keepalive := fs.Duration("keepalive", 5*time.Second, "keepalive round: ping a client silent or sent nothing for this long (0: never)")
	misses := fs.Int("keepalive-misses", 3, "drop a client after this many unanswered keepalives (0: never)")
	verbose := fs.Bool("v", false, "log debug events too")
	var services serve.Flags
	services.Register(fs)
	err := fs.Parse(args)
	switch {
	case err != nil:
	case fs.NArg() != 0:
		err = linkflag.Usagef("unexpected arguments %q", fs.Args())
	case *maxClients <= 0:
		err = linkflag.Usagef("-max-clients %d: must be positive", *maxClients)
	case *maxPerHost <= 0:
		err = linkflag.Usagef("-max-per-host %d: must be positive", *maxPerHost)
	case *timeout <= 0:
		err = linkflag.Usagef("-timeout %v: must be positive", *timeout)
	case *keepalive < 0:
		err = linkflag.Usagef("-keepalive %v: must not be negative", *keepalive)
	case *misses < 0:
		err = linkflag.Usagef("-keepalive-misses %d: must not be negative", *misses)
	}
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	if *keepalive == 0 {
		*keepalive = -1 // udp.ServerConfig's "never"
	}
	if *misses == 0 {
		*misses = -1 // likewise
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	s, err := udp.ListenServer(*addr, udp.ServerConfig{
		MaxClients:      *maxClients,
		MaxPerHost:      *maxPerHost,
		ClientTimeout:   *timeout,
		Keepalive:       *keepalive,
		KeepaliveMisses: *misses,
		Logger:          logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "ipxserver: %v\n", linkflag.BindError(*addr, err))
		return 1
	}
	logger.Info("ipxserver: listening", "addr", s.Addr())
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	stopServices := func() {}
	if services.Echo || len(services.SAP) > 0 {
		stopServices, err = startServices(s, services, logger)
		if err != nil {
			s.Close()
			<-served
			fmt.Fprintf(stderr, "ipxserver: %v\n", err)
			return 1
		}
	}
	if ready != nil {
		ready(s.Addr())
	}
	select {
	case <-ctx.Done():
		err = nil
	case err = <-served:
	}
	stopServices()
	s.Close()
	if serr := <-served; err == nil && !errors.Is(serr, net.ErrClosed) {
		err = serr
	}
	st := s.Stats()
	logger.Info("ipxserver: stopped", "clients", st.Clients, "registrations", st.Registrations,
		"unicasts", st.Unicasts, "broadcasts", st.Broadcasts, "expired", st.Expired,
		"unresponsive", st.Unresponsive, "replaced", st.Replaced,
		"refused", st.RefusedFull+st.RefusedHost+st.RefusedRate+st.RefusedNotIPv4,
		"dropped", st.DropMalformed+st.DropOversize+st.DropUnregistered+st.DropSpoofed+st.DropNoDest,
		"log_suppressed", st.LogSuppressed)
	if err != nil {
		fmt.Fprintf(stderr, "ipxserver: %v\n", err)
		return 1
	}
	return 0
}

// startServices puts a Stack on the server's Port, its own node on the
// tunnel, that answers ping and advertises services there. It returns
// the function that withdraws the services and closes the Stack.
func startServices(s *udp.Server, f serve.Flags, logger *slog.Logger) (func(), error) {
	port, err := s.AttachPort()
	if err != nil {
		return nil, err
	}
	// A DOSBox tunnel is network 0, "this network", to its clients.
	stack, err := linkflag.NewStack(port, 0, ipx.StackConfig{Logger: logger})
	if err != nil {
		return nil, err
	}
	svc, err := serve.Start(stack, f, false, sap.Config{Logger: logger})
	if err != nil {
		stack.Close()
		return nil, err
	}
	for _, e := range f.SAP {
		logger.Info("ipxserver: advertising", "type", fmt.Sprintf("%04x", uint16(e.Type)), "name", e.Name.String(),
			"addr", ipx.Addr{Node: port.Node(), Socket: e.Addr.Socket})
	}
	if f.Echo {
		logger.Info("ipxserver: answering ipxping", "addr", ipx.Addr{Node: port.Node(), Socket: echo.Socket})
	}
	return func() {
		svc.Close()
		stack.Close()
	}, nil
}
