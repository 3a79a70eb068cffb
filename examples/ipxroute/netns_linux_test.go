package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
)

// TestMain lets the test binary run as the ipxroute command itself when
// IPXROUTE_RUN_MAIN is set, so tests can start it inside a network
// namespace with ip netns exec.
func TestMain(m *testing.M) {
	if os.Getenv("IPXROUTE_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestEtherNetns runs two ipxroute processes in two network namespaces
// joined by a veth pair, both on network b in 802.2 framing; one also
// runs the memlan demo. The other learns the demo's networks over raw
// Ethernet. Needs root and iproute2.
func TestEtherNetns(t *testing.T) {
	const ifname = "ipx0"
	nsA, nsB := netnstest.Pair(t, "ipxrt", ifname, nil, nil)

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(ctx context.Context, ns string, out *bytes.Buffer, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, self}, args...)...)
		cmd.Env = append(os.Environ(), "IPXROUTE_RUN_MAIN=1")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var outA, outB bytes.Buffer
	// B broadcasts every second, so that A learns the routes even when
	// a loaded machine starts B after A's start request.
	b := start(ctx, nsB, &outB, "-ether", ifname+":802.2:b", "-memlan-demo", "-interval", "1s", "-duration", "6s")
	// A starts once B runs; its start request is answered at once.
	time.Sleep(time.Second)
	a := start(ctx, nsA, &outA, "-ether", ifname+":802.2:b", "-duration", "3s")
	errA, errB := a.Wait(), b.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("exit: %v, %v\nA:\n%s\nB:\n%s", errA, errB, outA.String(), outB.String())
	}
	if !strings.Contains(outA.String(), "change 00000004: new, now 3 hops 3 ticks via link 1") {
		t.Errorf("A did not learn network 4 through B:\n%s\nB:\n%s", outA.String(), outB.String())
	}
}
