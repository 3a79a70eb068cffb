// Command ipxserver runs an IPX-over-UDP tunnel server compatible with
// DOSBox ("ipxnet connect HOST PORT" in DOSBox) and with the udp link of
// this module (udp.Dial, ipxping -link udp). It relays IPX packets between
// the registered clients and logs registrations and expiries.
//
// Usage:
//
//	ipxserver [-addr 127.0.0.1:213] [-max-clients 256] [-max-per-host 64]
//	          [-timeout 10m] [-keepalive 5s] [-v]
//
// Port 213, the IPX tunnel's port, is privileged; choose a port above
// 1023 to run unprivileged, and -addr :PORT to serve every interface.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ipxkit/ipxkit/ipx/udp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

const usageText = `usage: ipxserver [flags]

Runs a DOSBox-compatible IPX tunnel server: IPX packets carried in UDP
datagrams, relayed between registered clients. DOSBox connects with
"ipxnet connect HOST PORT". Registrations and expiries are logged to
stderr; statistics are logged on exit.

Flags:
`

// run serves until ctx ends and returns the exit status. ready, if not
// nil, is told the bound address once the server listens.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) int {
	fs := flag.NewFlagSet("ipxserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", fmt.Sprintf("127.0.0.1:%d", udp.DefaultPort), "UDP `address` to listen on (IPv4; :PORT for every interface)")
	maxClients := fs.Int("max-clients", 256, "most clients registered at once")
	maxPerHost := fs.Int("max-per-host", 64, "most clients from one IP address")
	timeout := fs.Duration("timeout", 10*time.Minute, "forget a client silent this long")
	keepalive := fs.Duration("keepalive", 5*time.Second, "ping a client nothing was sent to for this long (negative: never)")
	verbose := fs.Bool("v", false, "log refusals and other debug events")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "ipxserver: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	s, err := udp.ListenServer(*addr, udp.ServerConfig{
		MaxClients:    *maxClients,
		MaxPerHost:    *maxPerHost,
		ClientTimeout: *timeout,
		Keepalive:     *keepalive,
		Logger:        logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "ipxserver: %v\n", err)
		return 1
	}
	logger.Info("ipxserver: listening", "addr", s.Addr())
	if ready != nil {
		ready(s.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	select {
	case <-ctx.Done():
		s.Close()
		err = <-served
	case err = <-served:
	}
	st := s.Stats()
	logger.Info("ipxserver: stopped", "clients", st.Clients, "registrations", st.Registrations,
		"unicasts", st.Unicasts, "broadcasts", st.Broadcasts, "expired", st.Expired,
		"refused", st.RefusedFull+st.RefusedHost+st.RefusedRate+st.RefusedNotIPv4,
		"dropped", st.DropMalformed+st.DropOversize+st.DropUnregistered+st.DropSpoofed+st.DropNoDest)
	if err != nil {
		fmt.Fprintf(stderr, "ipxserver: %v\n", err)
		return 1
	}
	return 0
}
