// Command mirrordemo shows a mirrored server pair surviving the crash of
// its primary. In one process it runs a primary (A), a secondary (B) and
// a client on a loopback IPX-over-UDP tunnel (or, with -memlan, an
// in-memory LAN). The client runs a key-value workload through
// mirror.Client: puts, gets, and compare-and-sets of increasing values.
// Partway through, the primary's link goes silent, as a crashed machine's
// does: it withdraws nothing and says goodbye to no one. The secondary
// notices, takes over, and the workload goes on.
//
// At the end it prints the servers' takeover log, the number of requests,
// the longest pause the client saw, and a check that every update the
// client saw acknowledged is present on the new primary. It exits 1 if a
// check fails, 2 on a usage error.
//
// Usage:
//
//	mirrordemo [-memlan] [-duration 3s] [-kill-after 1s] [-workers 4] [-keys 8]
//
// The MSL, the link that mirrors every request from the primary to the
// secondary, is an SPX connection over the same tunnel (or LAN) the
// clients use: the demo has one network, and SPX over it needs no second
// transport. A real pair gives the MSL a dedicated link.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	memlan    bool
	duration  time.Duration
	killAfter time.Duration
	workers   int
	keys      int
	verbose   bool
}

const usageText = `usage: mirrordemo [flags]

Runs a mirrored server pair (primary A, secondary B) and a key-value client
in one process, kills the primary partway through, and checks that the
client's work survived: every acknowledged update present on B, which took
over. The transport is a loopback IPX-over-UDP tunnel, or with -memlan an
in-memory LAN. Exits 1 if a check fails.

Flags:
`

func parse(args []string) (options, *flag.FlagSet, error) {
	o := options{}
	fs := linkflag.NewFlagSet("mirrordemo", usageText)
	fs.BoolVar(&o.memlan, "memlan", false, "use an in-memory LAN instead of the loopback UDP tunnel")
	fs.BoolVar(&o.memlan, "memlan-demo", false, "the same as -memlan, as the other example programs spell it")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "how long the workload runs")
	fs.DurationVar(&o.killAfter, "kill-after", time.Second, "when the primary crashes, from the workload's start")
	fs.IntVar(&o.workers, "workers", 4, "concurrent requests the client keeps going (1..64)")
	fs.IntVar(&o.keys, "keys", 8, "keys each worker writes (1..1000)")
	fs.BoolVar(&o.verbose, "v", false, "also print the servers' and the client's counters")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	var err error
	switch {
	case fs.NArg() > 0:
		err = linkflag.Usagef("unexpected arguments %q", fs.Args())
	case o.duration <= 0 || o.duration > time.Hour:
		err = linkflag.Usagef("-duration %v: want 0 < d <= 1h", o.duration)
	case o.killAfter < 0 || o.killAfter >= o.duration:
		err = linkflag.Usagef("-kill-after %v: want 0 <= k < -duration", o.killAfter)
	case o.workers < 1 || o.workers > 64:
		err = linkflag.Usagef("-workers %d: want 1..64", o.workers)
	case o.keys < 1 || o.keys > 1000:
		err = linkflag.Usagef("-keys %d: want 1..1000", o.keys)
	}
	return o, fs, err
}

// run is main without the process: 0 if every check passed, 1 if one
// failed or the demo could not run, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parse(args)
	if err != nil {
		return linkflag.Usage(stderr, fs, err)
	}
	d, err := newDemo(ctx, o, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "mirrordemo:", err)
		if d != nil {
			d.close()
		}
		return 1
	}
	ok := d.run(ctx)
	d.close()
	if !ok {
		fmt.Fprintln(stdout, "FAIL")
		return 1
	}
	fmt.Fprintln(stdout, "PASS")
	return 0
}
