//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
)

// TestNetnsFailover runs a mirrored pair, an ipxroute router and a client
// as separate processes, each in its own network namespace, over raw
// Ethernet (ipx/ether):
//
//	primary   eth0 ─┐
//	secondary eth0 ─┼─ bridge "lan", network a
//	router    eth0 ─┘
//	router    eth1 ─┬─ bridge "cln", network b
//	client    eth0 ─┘
//
// The servers share the LAN, which also carries their MSL (SPX, mirrorkv's
// default). The client reaches the pair's internal network only through
// the router, which learns the route by RIP from the servers. The client
// writes in a loop (one process, -batch); the test kills the primary with
// SIGKILL mid-workload and logs the pause the client saw, restarts the old
// primary as a secondary while the writes go on, waits until the pair is
// mirrored again, reads every acknowledged write back (puts of distinct
// keys, and a counter stepped by compare-and-set, which shows a request
// applied twice or lost), then kills the new primary too, so that the
// restarted server, which holds only what its resynchronisation gave it,
// serves the final reads.
//
// It needs root and iproute2; the namespaces are removed at the end,
// whatever the result.
func TestNetnsFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five processes for several seconds")
	}
	tp := netnstest.New(t, "mkv")
	mirrorkv := buildBinary(t)
	ipxroute := buildIpxroute(t)

	const (
		lanNet, clnNet = "0000000a", "0000000b"
		frame          = "ethernet_ii"
	)
	mac := func(seg, host byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, seg, host} }
	lan, cln := tp.Bridge("lan", false), tp.Bridge("cln", false)
	nsA, nsB, nsR, nsC := tp.Namespace("pri"), tp.Namespace("sec"), tp.Namespace("rtr"), tp.Namespace("cli")
	tp.Plug(lan, nsA, "eth0", mac(0xa, 1))
	tp.Plug(lan, nsB, "eth0", mac(0xa, 2))
	tp.Plug(lan, nsR, "eth0", mac(0xa, 0xfe))
	tp.Plug(cln, nsR, "eth1", mac(0xb, 0xfe))
	tp.Plug(cln, nsC, "eth0", mac(0xb, 1))
	waitForwarding(t, lan, 3)
	waitForwarding(t, cln, 2)
	nodeA, nodeB := lanNet+":"+mac(0xa, 1).String(), lanNet+":"+mac(0xa, 2).String()

	router := startIn(t, nsR, ipxroute, "-ether", "eth0:"+frame+":"+lanNet, "-ether", "eth1:"+frame+":"+clnNet)
	server := func(ns, role, peer string) *nsProc {
		return startIn(t, ns, mirrorkv, "-ether", "eth0:"+frame+":"+lanNet, "-role", role, "-peer", peer, "-key", testKey)
	}
	a := server(nsA, "primary", nodeB)
	b := server(nsB, "secondary", nodeA)
	waitStatus(t, a, "role=primary epoch=1 peer=mirrored")
	waitStatus(t, b, "role=secondary epoch=1 peer=mirrored")
	// The router has learnt the internal network from the primary.
	waitOutput(t, router.stdout, "change 00c0ffee: new")

	cl := startIn(t, nsC, mirrorkv, "client", "-ether", "eth0:"+frame+":"+clnNet, "-batch", "-timeout", "10s")
	replies := bufio.NewReader(cl.stdoutPipe)

	// The workload runs on its own goroutine so that the kill lands while
	// a request is in flight; ack reports each acknowledged write.
	type ack struct {
		i       int
		at, lat time.Duration // since start; latency
	}
	start := time.Now()
	acks := make(chan ack, 1024)
	stop := make(chan struct{})
	// abandon ends the workload if the test fails while it runs.
	abandon := make(chan struct{})
	t.Cleanup(func() { close(abandon) })
	wlErr := make(chan error, 1)
	go func() {
		defer close(acks)
		for i := 0; ; i++ {
			select {
			case <-stop:
				wlErr <- nil
				return
			default:
			}
			req := workload(i)
			sent := time.Now()
			fmt.Fprintln(cl.stdin, req)
			line, err := replies.ReadString('\n')
			if err != nil {
				wlErr <- fmt.Errorf("%s: reading the reply: %v", req, err)
				return
			}
			if line != "OK\n" {
				wlErr <- fmt.Errorf("%s: reply %q, want OK", req, line)
				return
			}
			select {
			case acks <- ack{i, time.Since(start), time.Since(sent)}:
			case <-abandon:
				wlErr <- nil
				return
			}
		}
	}()
	var acked []ack
	waitAcks := func(n int) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for len(acked) < n {
			select {
			case k, ok := <-acks:
				if !ok {
					t.Fatalf("the workload stopped after %d writes: %v", len(acked), <-wlErr)
				}
				acked = append(acked, k)
			case <-deadline:
				t.Fatalf("only %d of %d writes acknowledged within 30s", len(acked), n)
			}
		}
	}

	const beforeKill, afterKill, afterMirrored = 40, 40, 40
	waitAcks(beforeKill)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Since(start)
	a.cmd.Wait()
	waitAcks(beforeKill + afterKill)
	waitOutput(t, b.stderr, `msg="mirror: primary down (MSL silent and no answer on the LAN): taking over"`)

	// The pause the client saw: no write acknowledged from the last
	// before the kill to the first after it; and the longest write.
	var base []time.Duration
	var lastBefore, firstAfter, longest time.Duration
	for _, k := range acked {
		if k.at < killed {
			base = append(base, k.lat)
			lastBefore = k.at
			continue
		}
		if firstAfter == 0 {
			firstAfter = k.at
		}
		longest = max(longest, k.lat)
	}
	slices.Sort(base)
	t.Logf("failover over raw Ethernet: no write acknowledged for %v around the kill (kill to next ack %v); longest write %v; median write before the kill %v",
		(firstAfter - lastBefore).Round(time.Millisecond), (firstAfter - killed).Round(time.Millisecond),
		longest.Round(time.Millisecond), base[len(base)/2].Round(10*time.Microsecond))

	// The old primary comes back as a secondary while the writes go on,
	// and resynchronises from the new primary.
	restarted := time.Since(start)
	a = server(nsA, "secondary", nodeB)
	waitOutput(t, a.stderr, `msg="mirror: MSL up: receiving the primary's image"`)
	waitStatus(t, a, "role=secondary epoch=2 peer=mirrored")
	waitStatus(t, b, "role=primary epoch=2 peer=mirrored")
	mirrored := time.Since(start)
	waitAcks(len(acked) + afterMirrored)
	var resyncLongest time.Duration
	for _, k := range acked {
		if k.at > restarted && k.at-k.lat < mirrored {
			resyncLongest = max(resyncLongest, k.lat)
		}
	}
	t.Logf("resynchronisation: restart to mirrored (seen by status) %v; longest write meanwhile %v",
		(mirrored - restarted).Round(time.Millisecond), resyncLongest.Round(time.Millisecond))
	close(stop)
	for k := range acks { // the workload ends after its request in flight
		acked = append(acked, k)
	}
	if err := <-wlErr; err != nil {
		t.Fatal(err)
	}
	n := len(acked) // every write acknowledged, in order
	for i, k := range acked {
		if k.i != i {
			t.Fatalf("ack %d is of write %d", i, k.i)
		}
	}
	// Once idle, both servers have applied the same events (the
	// secondary acknowledges an event before it applies it: let it).
	for deadline := time.Now().Add(5 * time.Second); ; {
		sa, sb := waitStatus(t, a, "peer=mirrored"), waitStatus(t, b, "peer=mirrored")
		ga, gb := applied(sa), applied(sb)
		if ga == gb && ga >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied: restarted secondary %d, primary %d; want equal and at least the %d writes", ga, gb, n)
		}
	}
	t.Logf("%d writes acknowledged: %d before the kill; resynchronised after the restart", n, beforeKill)

	get := func(who string) {
		t.Helper()
		check := func(key, want string) {
			t.Helper()
			fmt.Fprintf(cl.stdin, "get %s\n", key)
			line, err := replies.ReadString('\n')
			if err != nil || line != want+"\n" {
				t.Fatalf("get %s from %s = %q, %v; want %q", key, who, line, err, want)
			}
		}
		for i := range (n + 1) / 2 {
			check(fmt.Sprintf("k%04d", i), fmt.Sprintf("v%04d", i))
		}
		// Each cas applied once: a second application of a retried
		// one would have failed it, and the count shows a lost one.
		check("n", fmt.Sprint(n/2))
	}
	get("the new primary")

	// The restarted server now serves alone: its state came only from
	// the resynchronisation.
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.cmd.Wait()
	get("the restarted server after a second takeover")
	waitStatus(t, a, "role=primary epoch=3 peer=none")

	cl.stdin.Close()
	if err := cl.cmd.Wait(); err != nil {
		t.Errorf("client: %v\nstderr:\n%s", err, cl.stderr)
	}
}

// workload returns the workload's request i: the even ones put key
// k(i/2), the odd ones count on key n with a cas from i/2 to i/2+1, so
// that a retried cas applied twice fails.
func workload(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("put k%04d v%04d", i/2, i/2)
	}
	old := fmt.Sprint(i / 2)
	if i == 1 {
		old = `""`
	}
	return fmt.Sprintf("cas n %s %d", old, i/2+1)
}

// startIn starts bin with args in network namespace ns: the process is
// forked from a thread switched into ns. It is killed at the end of the
// test, before the namespaces are removed, and its output logged if the
// test failed. Its stdin is a pipe; for a client (args[0] == "client")
// stdout is a pipe (stdoutPipe), for the others a buffer.
func startIn(t *testing.T, ns, bin string, args ...string) *nsProc {
	t.Helper()
	p := &nsProc{proc: proc{cmd: exec.Command(bin, args...), stdout: new(syncBuffer), stderr: new(syncBuffer)}}
	p.cmd.Stderr = p.stderr
	var err error
	if args[0] == "client" {
		if p.stdoutPipe, err = p.cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	} else {
		p.cmd.Stdout = p.stdout
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	netnstest.MustIn(t, ns, p.cmd.Start)
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s %q in %s:\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, ns, p.stdout, p.stderr)
		}
	})
	return p
}

// waitForwarding waits until the n ports of the bridge in namespace br
// forward: a port has no carrier until the kernel's link watcher has
// seen its veth come up, up to a second or so after Plug, and drops
// every frame until then.
func waitForwarding(t *testing.T, br string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ip", "-n", br, "-d", "link", "show", "master", "br0").CombinedOutput()
		if err != nil {
			t.Fatalf("ip -n %s link show master br0: %v\n%s", br, err, out)
		}
		s := string(out)
		if strings.Count(s, "bridge_slave state forwarding") == n && !strings.Contains(s, "NO-CARRIER") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ports of bridge %s do not forward within 10s:\n%s", br, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nsProc is a process in a namespace; stdoutPipe is a client's stdout.
type nsProc struct {
	proc
	stdoutPipe io.ReadCloser
}

// buildIpxroute builds examples/ipxroute, the router.
func buildIpxroute(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ipxroute")
	out, err := exec.Command("go", "build", "-o", bin, "../ipxroute").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ipxroute: %v\n%s", err, out)
	}
	return bin
}

// waitStatus asks p for its status until a status line holds want, and
// returns that line.
func waitStatus(t *testing.T, p *nsProc, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	// Only lines printed from now on answer.
	for seen := len(p.stdout.String()); ; {
		io.WriteString(p.stdin, "status\n")
		time.Sleep(50 * time.Millisecond)
		out := p.stdout.String()
		lines := strings.Split(out[seen:], "\n")
		seen = len(out) - len(lines[len(lines)-1])
		for _, l := range lines[:len(lines)-1] {
			if strings.HasPrefix(l, "mirrorkv: status:") && strings.Contains(l, want) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status with %q within 15s:\n%s", want, out)
		}
	}
}

var appliedRE = regexp.MustCompile(` applied=(\d+) `)

// applied returns a status line's applied count, or -1.
func applied(status string) int {
	m := appliedRE.FindStringSubmatch(status)
	if m == nil {
		return -1
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}
