package mirror_test

// The simulation: a mirrored pair and several clients on memlan, in one
// testing/synctest bubble, under one seed that draws a schedule of
// faults and each client's workload. Afterwards the clients' history is
// checked for linearizability against a key-value model (porcupine), and
// the run for three more properties: at most one primary per epoch, no
// acknowledged write lost, and mirrored operation back within
// simRecoveryBound once the faults stop.
//
// A failing seed prints itself and the command that replays it. The
// schedule and the workload replay exactly; the goroutines' interleaving
// inside the bubble, and so the packets memlan's faults fall on, may
// differ, so a replay fails the same way most of the time, not always.

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// simDefaultFaults are the faults CI's schedules draw from: the ones the
// pair must survive today. See simFaultKinds for all of them.
const simDefaultFaults = "kill,msl,lan,loss,dup,delay"

// simArbiterFaults are the faults of TestSimulationArbiter's schedules:
// with an arbiter, full partitions between the servers (isolatesec, and
// msl and lan cuts at once) and an unreachable arbiter as well.
const simArbiterFaults = "kill,isolate,isolatesec,msl,lan,loss,dup,delay,arbiter"

// simPartitionFaults are TestSimulationPartitions': the default faults
// and a server cut off on both links, without an arbiter.
const simPartitionFaults = "kill,isolate,isolatesec,msl,lan,loss,dup,delay"

var (
	simSeed   = flag.Uint64("sim.seed", 0, "run only this simulation seed (replays a failure)")
	simSeeds  = flag.Int("sim.seeds", simDefaultSeeds, "number of simulation seeds each TestSimulation* runs (default: TestSimulationPartitions an eighth of this)")
	simFirst  = flag.Uint64("sim.first", 1, "first simulation seed")
	simFaults = flag.String("sim.faults", "", "comma-separated fault kinds the simulation draws from (default "+simDefaultFaults+
		", "+simArbiterFaults+" with an arbiter, "+simPartitionFaults+" for TestSimulationPartitions): "+
		strings.Join(simFaultKinds, ","))
	simKnown = flag.Bool("sim.known", false, "also run the seeds of simKnownFailures")
	simDump  = flag.String("sim.dump", "", "log every operation on this key, and the divergence windows")
	simHTML  = flag.String("sim.html", "", "directory for porcupine's visualisation of a failing seed (default: the temp directory)")
)

// simKnownFailures are the seeds of the default schedules that fail
// because of a bug in the pair, not in the harness, each with its
// diagnosis. TestSimulation skips them unless -sim.known is set or
// -sim.seed names one; remove a seed once its bug is fixed.
var simKnownFailures = map[uint64]string{
	// 114 (a client's route poisoned by the old next hop, then the new
	// primary's "active" offer held down) was fixed in rip: a 1-hop
	// offer is never held down.
}

// simFaultKinds are the faults a schedule can hold:
//
//   - kill: the primary or the secondary crashes (its links fall silent,
//     it stops) and restarts later as a fresh secondary;
//   - isolate: the primary falls silent on both links and comes back
//     later as it was (memlan Crash then Restore): the server kept
//     running, alone, and returns believing it is primary;
//   - isolatesec: the same for the secondary. Cut off from the primary
//     on both paths, it takes over; that is a full partition between the
//     servers, the divergence window of a pair without an arbiter;
//   - msl: the MSL is cut for a while;
//   - lan: a LAN partition: a client from a server, or the servers from
//     each other (only while the MSL is up: with no arbiter, a full
//     partition between the servers is the documented divergence window);
//   - loss, dup, delay: packet loss, duplication, delay and jitter on the
//     LAN, on the MSL segment or both, for a while;
//   - arbiter: the arbiter is unreachable for a while (with one).
//
// Two more widen the schedules to cases the pair does not survive today
// (see the report in BENCHMARKS.md, "mirror simulation"):
//
//   - fastkill: a killed server restarts within MSLTimeout+ProbeTimeout,
//     before its partner's takeover decision (else restarts come 1 to
//     4 s later);
//   - probeloss: one path between the servers (MSL or LAN) may lose
//     packets while the other is cut or lossy too, so that the MSL fails
//     and the secondary's LAN probe of a live primary can fail as well.
//   - eagerkill: kill and isolate strike as soon as the pair reports
//     mirrored (else they wait until the secondary also acknowledged
//     every event the primary answered alone while it joined).
var simFaultKinds = []string{"kill", "isolate", "isolatesec", "msl", "lan", "loss", "dup", "delay", "arbiter", "fastkill", "probeloss", "eagerkill"}

// Simulation constants.
const (
	simClients       = 4
	simKeys          = 4
	simFaultPhase    = 20 * time.Second // faults start and end within it
	simOpTimeout     = 2 * time.Second  // per request: past it, the outcome is unknown
	simRecoveryBound = 30 * time.Second // mirrored again within this once faults stop
	simCheckTimeout  = 30 * time.Second // porcupine's budget per seed, real time
	// simFinalReadTimeout bounds each read-back once the faults stopped.
	// A client that missed a takeover's notifications follows the new
	// primary at its next periodic RIP update (every 60 s) at the latest.
	simFinalReadTimeout = 2 * time.Minute
	// simHangAfter is the real time after which a seed's bubble is
	// declared stuck.
	simHangAfter = 3 * time.Minute
)

func TestSimulation(t *testing.T) { simulateSeeds(t, false, simDefaultFaults, simDefaultSeeds) }

// TestSimulationArbiter runs the simulation with an arbiter (package
// mirror/ipxarbiter) on the LAN, and full partitions between the servers
// among the faults: with an arbiter, no acknowledged write may be lost
// even then.
func TestSimulationArbiter(t *testing.T) {
	simulateSeeds(t, true, simArbiterFaults, simDefaultSeeds)
}

// TestSimulationPartitions runs schedules in which a server is cut off
// on both its links and comes back as it was, without an arbiter. An
// isolated primary returns believing it is primary and must step down
// without answering under its old epoch; a cut-off secondary takes over
// beside a live primary, the divergence window the checker allows for
// (see relaxWindows). Outside those windows no acknowledged write
// may be lost, and the pair is mirrored again within simRecoveryBound.
// A seed costs several times a default one (porcupine searches the
// windows' operations of unknown outcome), so it runs fewer.
func TestSimulationPartitions(t *testing.T) {
	simulateSeeds(t, false, simPartitionFaults, simDefaultSeeds/8)
}

// simRegressions are seeds that found a bug in the pair, with the faults
// they ran under, kept as regression tests beyond the default schedules.
var simRegressions = []struct {
	seed    uint64
	faults  string
	arbiter bool
	bug     string
}{
	{116, "kill,isolate,msl,lan,loss,dup,delay", false,
		"a primary back from isolation stepped down and joined, its session died, and the answer to the LAN probe it sent as a primary (none: the LAN was cut) made it take over, unsynced, beside the live primary"},
	{776, simArbiterFaults, true,
		"a secondary's takeover claim timed out as the arbiter came back, but was granted; a probe then found the old primary back and the secondary stood down, the old primary was denied, and nobody served (found by the 10,000-seed run, as were 2610, 3181, 3695, 7923 and 8206)"},
	{2610, simArbiterFaults, true, "as 776"},
	{77, simArbiterFaults, true,
		"a secondary whose takeover claim was in flight joined the returning primary on a dial it had started before; it then dropped the grant it got, the primary was denied, and neither server was primary again"},
}

// TestSimulationRegressions replays simRegressions.
func TestSimulationRegressions(t *testing.T) {
	if *simSeed != 0 {
		t.Skip("-sim.seed replays one seed of TestSimulation")
	}
	for _, r := range simRegressions {
		t.Run(fmt.Sprint("seed=", r.seed), func(t *testing.T) {
			faults, err := parseFaults(r.faults)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s; replay with -sim.faults=%s", r.bug, r.faults)
			runSimulation(t, r.seed, faults, r.arbiter)
		})
	}
}

// simulateSeeds runs the seeds the flags choose, by default seeds of
// them under faults.
func simulateSeeds(t *testing.T, arbiter bool, faultsDefault string, seeds int) {
	fs := *simFaults
	if fs == "" {
		fs = faultsDefault
	}
	faults, err := parseFaults(fs)
	if err != nil {
		t.Fatal(err)
	}
	if faults["arbiter"] && !arbiter {
		t.Fatal("-sim.faults: arbiter needs TestSimulationArbiter")
	}
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "sim.seeds" {
			seeds = *simSeeds
		}
	})
	first, n := *simFirst, uint64(max(seeds, 0))
	if *simSeed != 0 {
		first, n = *simSeed, 1
	}
	var mu sync.Mutex
	var took []time.Duration
	var recovery time.Duration
	t.Cleanup(func() {
		if len(took) == 0 {
			return
		}
		var sum time.Duration
		for _, d := range took {
			sum += d
		}
		t.Logf("%d seeds from %d, faults %q: %v each on average (real time), slowest recovery %v (fake time)",
			len(took), first, fs, sum/time.Duration(len(took)), recovery)
	})
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			if why, ok := simKnownFailures[seed]; ok && *simSeed == 0 && !*simKnown && !arbiter && fs == simDefaultFaults {
				t.Skipf("known failure, a mirror bug: %s; replay with %s", why, replayCommand(t, seed))
			}
			if *simSeed == 0 {
				t.Parallel()
			}
			start := time.Now()
			r := runSimulation(t, seed, faults, arbiter)
			mu.Lock()
			took = append(took, time.Since(start))
			recovery = max(recovery, r.recovery)
			mu.Unlock()
		})
	}
}

// simResult is what a run reports to the caller.
type simResult struct {
	recovery time.Duration
}

func parseFaults(s string) (map[string]bool, error) {
	m := make(map[string]bool)
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(simFaultKinds, f) {
			return nil, fmt.Errorf("-sim.faults: unknown fault %q, want some of %v", f, simFaultKinds)
		}
		m[f] = true
	}
	return m, nil
}

// replayCommand is the one line that runs seed again, in the test t
// (a seed's subtest) belongs to.
func replayCommand(t *testing.T, seed uint64) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	cmd := fmt.Sprintf("go test ./mirror -run '%s$' -sim.seed=%d", name, seed)
	if *simFaults != "" {
		cmd += fmt.Sprintf(" -sim.faults=%s", *simFaults)
	}
	return cmd + " -v"
}

// The schedule.

type simFault struct {
	at, dur time.Duration
	kind    string
	// primary: the fault hits the primary (else the secondary), as the
	// roles stand when it starts.
	primary bool
	// client is the client a LAN partition cuts off; -1: the servers
	// from each other.
	client int
	seg    string // impairments: "lan", "msl" or "both"
	imp    memlan.Impairments
}

func (f simFault) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "at %v for %v: %s", f.at, f.dur, f.kind)
	who := "secondary"
	if f.primary {
		who = "primary"
	}
	switch f.kind {
	case "kill", "isolate":
		fmt.Fprintf(&b, " the %s", who)
	case "arbiter":
		b.WriteString(" unreachable")
	case "lan":
		if f.client < 0 {
			b.WriteString(" the servers from each other")
		} else {
			fmt.Fprintf(&b, " client %d from the %s", f.client, who)
		}
	case "impair":
		fmt.Fprintf(&b, " %s loss %.2f dup %.2f delay %v jitter %v", f.seg, f.imp.Loss, f.imp.Duplicate, f.imp.Delay, f.imp.Jitter)
	}
	return b.String()
}

// schedule draws the faults of a run: one starts every 0.5 to 2.5 s, each
// lasting 0.2 to 4 s, all over by the end of the fault phase.
func schedule(r *rand.Rand, faults map[string]bool) []simFault {
	var kinds []string
	for _, k := range simFaultKinds {
		if faults[k] && k != "loss" && k != "dup" && k != "delay" && k != "fastkill" && k != "probeloss" && k != "eagerkill" {
			kinds = append(kinds, k)
		}
	}
	if faults["loss"] || faults["dup"] || faults["delay"] {
		kinds = append(kinds, "impair")
	}
	var out []simFault
	if len(kinds) == 0 {
		return nil
	}
	dur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) }
	at := time.Second
	for {
		at += dur(500*time.Millisecond, 2500*time.Millisecond)
		f := simFault{at: at, dur: dur(200*time.Millisecond, 4*time.Second), kind: kinds[r.IntN(len(kinds))],
			primary: r.IntN(2) == 0, client: -1}
		switch f.kind {
		case "isolate":
			f.primary = true
		case "isolatesec":
			f.kind, f.primary = "isolate", false
		}
		switch f.kind {
		case "kill":
			if faults["fastkill"] && r.IntN(2) == 0 {
				f.dur = dur(50*time.Millisecond, 700*time.Millisecond)
			} else {
				f.dur = dur(time.Second, 4*time.Second)
			}
		case "lan":
			if r.IntN(3) != 0 {
				f.client = r.IntN(simClients)
			}
		case "impair":
			f.seg = []string{"lan", "msl", "both"}[r.IntN(3)]
			if faults["loss"] {
				f.imp.Loss = r.Float64() * 0.2
			}
			if faults["dup"] {
				f.imp.Duplicate = r.Float64() * 0.2
			}
			if faults["delay"] {
				f.imp.Delay = time.Duration(r.IntN(20)) * time.Millisecond
				f.imp.Jitter = time.Duration(r.IntN(20)) * time.Millisecond
			}
		}
		if f.at+f.dur > simFaultPhase {
			return out
		}
		out = append(out, f)
	}
}

// The history.

type kvInput struct {
	op          byte // mirrortest.OpPut, OpGet, OpCAS
	key, a, b   string
	client, seq int
}

type kvOutput struct {
	unknown bool // timed out: applied or not
	// from and at: when the request went and the reply came, since
	// simEpoch.
	from, at time.Duration
	status   byte
	value    string
}

// kvModel is a linearizable key-value store, partitioned by key: a
// partition's state is the key's value, "" when missing (the workload
// never writes "").
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := make(map[string][]porcupine.Operation)
		for _, o := range h {
			k := o.Input.(kvInput).key
			by[k] = append(by[k], o)
		}
		var out [][]porcupine.Operation
		for _, k := range slices.Sorted(maps.Keys(by)) {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.op {
		case mirrortest.OpPut:
			return out.unknown || out.status == mirrortest.StatusOK, in.a
		case mirrortest.OpGet:
			switch {
			case out.unknown:
				return true, s
			case out.status == mirrortest.StatusOK:
				return s != "" && out.value == s, s
			case out.status == mirrortest.StatusNotFound:
				return s == "", s
			}
		case mirrortest.OpCAS:
			switch {
			case out.unknown:
				if s == in.a {
					return true, in.b
				}
				return true, s
			case out.status == mirrortest.StatusOK:
				return s == in.a, in.b
			case out.status == mirrortest.StatusMismatch:
				return s != in.a && out.value == s, s
			}
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		var res string
		switch {
		case out.unknown:
			res = "?"
		case out.status == mirrortest.StatusOK:
			res = fmt.Sprintf("ok %q", out.value)
		case out.status == mirrortest.StatusNotFound:
			res = "not found"
		case out.status == mirrortest.StatusMismatch:
			res = fmt.Sprintf("mismatch %q", out.value)
		default:
			res = fmt.Sprintf("status %d", out.status)
		}
		switch in.op {
		case mirrortest.OpPut:
			return fmt.Sprintf("put(%s, %q) -> %s", in.key, in.a, res)
		case mirrortest.OpGet:
			return fmt.Sprintf("get(%s) -> %s", in.key, res)
		default:
			return fmt.Sprintf("cas(%s, %q, %q) -> %s", in.key, in.a, in.b, res)
		}
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

// history records operations with a logical clock: an operation that
// returned before another was invoked has the smaller timestamps.
type history struct {
	clock atomic.Int64
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return h.clock.Add(1) }

func (h *history) add(o porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

// do runs one operation through c and records it. A read that timed out
// is left out: whatever happened, it changed nothing.
func (h *history) do(c *mirrortest.Client, client int, in kvInput, timeout time.Duration) kvOutput {
	var req []byte
	switch in.op {
	case mirrortest.OpPut:
		req = mirrortest.Put(in.key, in.a)
	case mirrortest.OpGet:
		req = mirrortest.Get(in.key)
	default:
		req = mirrortest.CAS(in.key, in.a, in.b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	call, at := h.now(), time.Since(simEpoch)
	r, err := c.Do(ctx, req)
	ret, until := h.now(), time.Since(simEpoch)
	var out kvOutput
	if err != nil {
		out.unknown = true
		ret = math.MaxInt64
	} else {
		out.status, out.value, _ = mirrortest.ParseReply(r)
		out.from, out.at = at, until
	}
	if !(out.unknown && in.op == mirrortest.OpGet) {
		meta := fmt.Sprintf("%v..%v", at.Round(time.Millisecond), until.Round(time.Millisecond))
		h.add(porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret, Metadata: meta})
	}
	return out
}

// workload runs client i's requests until stop closes: puts, gets and
// compare-and-sets on a few keys, each value written unique.
func workload(h *history, c *mirrortest.Client, i int, r *rand.Rand, stop <-chan struct{}) {
	seen := make(map[string]string) // the client's last view of each key
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprint("k", r.IntN(simKeys))
		val := fmt.Sprintf("c%d.%d", i, n)
		in := kvInput{key: key, client: i, seq: n}
		switch x := r.IntN(10); {
		case x < 4:
			in.op, in.a = mirrortest.OpPut, val
		case x < 7:
			in.op = mirrortest.OpGet
		default:
			in.op, in.a, in.b = mirrortest.OpCAS, seen[key], val
		}
		out := h.do(c, i, in, simOpTimeout)
		switch {
		case out.unknown:
		case in.op == mirrortest.OpPut || in.op == mirrortest.OpCAS && out.status == mirrortest.StatusOK:
			seen[key] = val
		default:
			seen[key] = out.value
		}
		time.Sleep(time.Duration(r.IntN(50)) * time.Millisecond)
	}
}

// The run.

// simServers tracks the pair's server instances and who was primary in
// each epoch, through their subscriptions.
type simServers struct {
	mu      sync.Mutex
	gen     map[string]int
	subs    []simSub
	primary map[uint32][]string // epoch: the instances that were primary in it
	missed  []string
	changes atomic.Uint64 // role and peer changes seen
	// now holds the instances that are primary, by name, with their
	// epoch; windows the spans in which two were, one of them in an
	// older epoch: a full partition's divergence window (see
	// simWindows).
	now     map[string]simPrimary
	windows []simWindow
}

// simPrimary is an instance that is primary: its epoch, and since when
// it runs alone (-1: mirrored or syncing).
type simPrimary struct {
	epoch uint32
	alone time.Duration
}

// simWindow is a span in which stale, primary of an older epoch, may
// answer beside a newer primary.
type simWindow struct {
	stale    string
	from, to time.Duration // to < 0: still open
}

// roleLocked follows instance name's role changes for the windows. A
// window opens when a server takes over while another, of an older
// epoch, is still primary; it starts when that one began to run alone
// (what it acknowledged since is lost when they meet) and ends when it
// steps down.
func (w *simServers) roleLocked(name string, r mirror.Role, p mirror.PeerState, epoch uint32) {
	at := time.Since(simEpoch)
	if r != mirror.RolePrimary {
		delete(w.now, name)
		for i := range w.windows {
			if w.windows[i].stale == name && w.windows[i].to < 0 {
				w.windows[i].to = at
			}
		}
		return
	}
	cur, was := w.now[name]
	if !was || p != mirror.PeerNone {
		cur.alone = -1
	}
	if p == mirror.PeerNone && cur.alone < 0 {
		cur.alone = at
	}
	cur.epoch = epoch
	w.now[name] = cur
	for other, o := range w.now {
		if other != name && o.epoch < epoch {
			from := at
			if o.alone >= 0 {
				from = o.alone
			}
			w.windows = append(w.windows, simWindow{stale: other, from: from, to: -1})
		}
	}
}

type simSub struct {
	name string
	sub  *mirror.Subscription
	done chan struct{}
}

// watch follows server s, a new instance of s.Name.
func (w *simServers) watch(s *mirrortest.Server) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen[s.Name]++
	name := fmt.Sprintf("%s#%d", s.Name, w.gen[s.Name])
	sub := s.Subscribe(4096)
	ss := simSub{name: name, sub: sub, done: make(chan struct{})}
	w.subs = append(w.subs, ss)
	if st := s.Status(); st.Role == mirror.RolePrimary {
		w.addLocked(st.Epoch, name)
		w.roleLocked(name, st.Role, st.Peer, st.Epoch)
	}
	go func() {
		defer close(ss.done)
		for c := range sub.C {
			w.changes.Add(1)
			w.mu.Lock()
			if c.Missed > 0 {
				w.missed = append(w.missed, fmt.Sprintf("%s missed %d changes", name, c.Missed))
			}
			if c.Role == mirror.RolePrimary {
				w.addLocked(c.Epoch, name)
			}
			w.roleLocked(name, c.Role, c.Peer, c.Epoch)
			w.mu.Unlock()
		}
	}()
}

func (w *simServers) addLocked(epoch uint32, name string) {
	if !slices.Contains(w.primary[epoch], name) {
		w.primary[epoch] = append(w.primary[epoch], name)
	}
}

func (w *simServers) close() {
	for _, s := range w.subs {
		s.sub.Close()
		<-s.done
	}
}

// simRun is one seed's run, inside its bubble.
type simRun struct {
	t     *testing.T
	p     *mirrortest.Pair
	w     *simServers
	down  *mirrortest.Server // killed, to restart
	alone *mirrortest.Server // isolated, to restore
	// The two paths between the servers: cut, or losing packets.
	paths simPaths
	cut   map[[2]ipx.Node]bool
	imp   map[string]bool
	// probeLoss (-sim.faults has probeloss) lets one path lose packets
	// while the other is cut or lossy too.
	probeLoss bool
	// arbiter: the pair has one, so a full partition between the
	// servers is allowed.
	arbiter bool
	// eagerKill (-sim.faults has eagerkill) crashes a server as soon as
	// the pair reports mirrored.
	eagerKill bool
	log       []string
}

// simPaths is the state of the paths between the servers.
type simPaths struct{ mslCut, mslLossy, lanCut, lanLossy bool }

// refuse says why the paths may not be as p, or "". Both cut is a full
// partition between the servers: with no arbiter, the documented
// divergence window. One cut and the other lossy (or both lossy) lets
// the secondary's LAN probe of a live primary fail: that is probeloss.
func (s *simRun) refuse(p simPaths) string {
	if s.arbiter {
		return ""
	}
	switch {
	case p.mslCut && p.lanCut:
		return "the servers would be fully partitioned"
	case !s.probeLoss && (p.mslCut || p.mslLossy) && (p.lanCut || p.lanLossy):
		return "both paths between the servers would be cut or lossy (probeloss)"
	}
	return ""
}

func (s *simRun) logf(format string, args ...any) {
	var routes []string
	for _, c := range s.p.Clients {
		r, ok := c.Router.Table().Lookup(mirrortest.InternalNet)
		if !ok {
			routes = append(routes, "none")
			continue
		}
		routes = append(routes, fmt.Sprintf("%x/%d/%d", r.NextHop[5], r.Hops, r.Ticks))
	}
	s.log = append(s.log, fmt.Sprintf("%8v ", time.Since(simEpoch).Round(time.Millisecond))+fmt.Sprintf(format, args...)+
		" [routes "+strings.Join(routes, " ")+"]")
}

// simEpoch is the bubble's start: fake time starts at the same instant
// in every bubble.
var simEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *simRun) role(primary bool) *mirrortest.Server {
	p := s.p
	if (p.A.Status().Role == mirror.RolePrimary) == primary {
		return p.A
	}
	return p.B
}

// settled waits until the pair is mirrored and the secondary holds every
// event the primary applied when it first saw it so, with no role or
// peer change in between. The primary reports mirrored once the
// secondary acknowledged the image, while the events it answered alone
// during the transfer may still be on their way.
func (s *simRun) settled() bool {
	return mirrortest.WaitFor(3*time.Second, func() bool {
		if !s.mirrored() {
			return false
		}
		synctest.Wait()
		n := s.w.changes.Load()
		pr := s.role(true)
		floor := pr.Status().Applied
		if !mirrortest.WaitFor(time.Second, func() bool { return pr.Status().Acked >= floor }) {
			return false
		}
		synctest.Wait()
		return s.w.changes.Load() == n && s.mirrored()
	})
}

func (s *simRun) mirrored() bool {
	return s.p.A.Status().Peer == mirror.PeerMirrored && s.p.B.Status().Peer == mirror.PeerMirrored
}

// start applies f if it may happen now, and returns the undo to run when
// it ends, or nil.
func (s *simRun) start(f simFault) func() {
	p := s.p
	skip := func(why string) func() {
		s.logf("skipped %v: %s", f, why)
		return nil
	}
	switch f.kind {
	case "kill", "isolate":
		if s.down != nil || s.alone != nil {
			return skip("a server is already down")
		}
		// One failure at a time: crashing a server whose partner holds
		// no complete image is a double failure, which loses data by
		// design. Wait a little for the pair to be mirrored.
		if !mirrortest.WaitFor(2*time.Second, s.mirrored) {
			return skip("not mirrored")
		}
		if !s.eagerKill && !s.settled() {
			return skip("the secondary does not hold the events answered while it joined (eagerkill)")
		}
		v := s.role(f.primary)
		pa, pb := s.p.A.Status(), s.p.B.Status()
		s.logf("%v: %s (A %v applied %d acked %d, B %v applied %d)", f, v.Name, pa.Role, pa.Applied, pa.Acked, pb.Role, pb.Applied)
		if f.kind == "isolate" {
			p.Crash(v)
			s.alone = v
			return func() {
				v.LAN.Restore()
				v.MSL.Restore()
				s.alone = nil
				s.logf("restored %s", v.Name)
			}
		}
		p.Kill(v)
		s.down = v
		return func() {
			n := p.Restart(v)
			s.w.watch(n)
			s.down = nil
			s.logf("restarted %s as a fresh secondary", v.Name)
		}
	case "arbiter":
		if p.ArbiterLink.Crashed() {
			return skip("already unreachable")
		}
		p.ArbiterLink.Crash()
		s.logf("%v", f)
		return func() {
			p.ArbiterLink.Restore()
			s.logf("arbiter reachable again")
		}
	case "msl":
		next := s.paths
		next.mslCut = true
		if s.paths.mslCut {
			return skip("already cut")
		}
		if why := s.refuse(next); why != "" {
			return skip(why)
		}
		p.CutMSL()
		s.paths.mslCut = true
		s.logf("%v", f)
		return func() {
			p.HealMSL()
			s.paths.mslCut = false
			s.logf("MSL healed")
		}
	case "lan":
		var a, b ipx.Node
		if f.client < 0 {
			next := s.paths
			next.lanCut = true
			if s.paths.lanCut {
				return skip("already cut")
			}
			if why := s.refuse(next); why != "" {
				return skip(why)
			}
			a, b = p.A.Node, p.B.Node
			s.paths.lanCut = true
		} else {
			a, b = s.role(f.primary).Node, p.Clients[f.client].Stack.Links()[0].Node
		}
		if s.cut[[2]ipx.Node{a, b}] {
			return skip("already cut")
		}
		s.cut[[2]ipx.Node{a, b}] = true
		p.LAN.SetReachable(a, b, false)
		p.LAN.SetReachable(b, a, false)
		s.logf("%v: %v from %v", f, a, b)
		return func() {
			p.LAN.SetReachable(a, b, true)
			p.LAN.SetReachable(b, a, true)
			delete(s.cut, [2]ipx.Node{a, b})
			if f.client < 0 {
				s.paths.lanCut = false
			}
			s.logf("LAN healed: %v and %v", a, b)
		}
	case "impair":
		lan, msl := f.seg != "msl", f.seg != "lan"
		if lan && s.imp["lan"] || msl && s.imp["msl"] {
			return skip("already impaired")
		}
		if lan && msl && f.imp.Loss > 0 && s.refuse(simPaths{mslLossy: true, lanLossy: true}) != "" {
			f.imp.Loss = 0
			s.logf("no loss on both paths at once (probeloss)")
		}
		next := s.paths
		next.lanLossy = next.lanLossy || lan && f.imp.Loss > 0
		next.mslLossy = next.mslLossy || msl && f.imp.Loss > 0
		if why := s.refuse(next); why != "" {
			return skip(why)
		}
		var segs []*memlan.Segment
		if lan {
			segs = append(segs, p.LAN)
			s.imp["lan"] = true
		}
		if msl {
			segs = append(segs, p.MSLSeg)
			s.imp["msl"] = true
		}
		for _, seg := range segs {
			seg.SetImpairments(f.imp)
		}
		s.paths = next
		s.logf("%v", f)
		return func() {
			for _, seg := range segs {
				seg.SetImpairments(memlan.Impairments{})
			}
			if lan {
				delete(s.imp, "lan")
				s.paths.lanLossy = false
			}
			if msl {
				delete(s.imp, "msl")
				s.paths.mslLossy = false
			}
			s.logf("%s impairments cleared", f.seg)
		}
	}
	return nil
}

// chaos runs the schedule: each fault starts at its time if it may, and
// is undone when it ends; at the end of the fault phase, whatever is
// still in force is undone.
func (s *simRun) chaos(faults []simFault) {
	type undo struct {
		at time.Duration
		f  func()
	}
	var undos []undo
	runUndos := func(until time.Duration) {
		for len(undos) > 0 && undos[0].at <= until {
			u := undos[0]
			undos = undos[1:]
			sleepUntil(u.at)
			u.f()
		}
	}
	for _, f := range faults {
		runUndos(f.at)
		sleepUntil(f.at)
		if u := s.start(f); u != nil {
			// A fault that waited for its precondition still lasts its
			// whole duration.
			undos = append(undos, undo{time.Since(simEpoch) + f.dur, u})
			slices.SortStableFunc(undos, func(a, b undo) int { return cmp.Compare(a.at, b.at) })
		}
	}
	runUndos(math.MaxInt64)
	sleepUntil(simFaultPhase)
}

func sleepUntil(d time.Duration) {
	time.Sleep(time.Until(simEpoch.Add(d)))
}

// simOutcome is what the bubble hands the checks outside it.
type simOutcome struct {
	ops      []porcupine.Operation
	final    map[string]kvOutput // each key read back once the faults stopped
	primary  map[uint32][]string
	missed   []string
	log      []string
	faults   []simFault
	recovery time.Duration
	problems []string // checks that failed inside the bubble
	windows  []simWindow
}

func runSimulation(t *testing.T, seed uint64, faults map[string]bool, arbiter bool) simResult {
	var o simOutcome
	defer func() {
		if t.Failed() || *simSeed != 0 {
			t.Logf("seed %d failed; schedule:", seed)
			for _, f := range o.faults {
				t.Logf("  %v", f)
			}
			t.Logf("what happened:")
			for _, l := range o.log {
				t.Logf("  %s", l)
			}
		}
		if t.Failed() {
			t.Errorf("seed %d failed: replay with\n\t%s", seed, replayCommand(t, seed))
		}
	}()
	// A bubble whose fake clock cannot advance (a goroutine blocked on a
	// sync.Mutex is not durably blocked) hangs on the real clock: say
	// which seed it was before the test binary's own timeout.
	watchdog := time.AfterFunc(simHangAfter, func() {
		panic(fmt.Sprintf("seed %d still running after %v of real time: the bubble is stuck; replay with\n\t%s",
			seed, simHangAfter, replayCommand(t, seed)))
	})
	defer watchdog.Stop()
	synctest.Test(t, func(t *testing.T) {
		if !time.Now().Equal(simEpoch) {
			t.Fatalf("the bubble starts at %v, not %v", time.Now(), simEpoch)
		}
		o = simulate(t, seed, faults, arbiter)
	})
	for _, p := range o.problems {
		t.Error(p)
	}
	for _, m := range o.missed {
		t.Errorf("harness: %s: the epoch check is incomplete", m)
	}
	for epoch, names := range o.primary {
		if len(names) > 1 {
			t.Errorf("epoch %d had %d primaries: %v", epoch, len(names), names)
		}
	}
	unknown := 0
	for _, op := range o.ops {
		if op.Output.(kvOutput).unknown {
			unknown++
		}
	}
	t.Logf("seed %d: %d operations (%d of unknown outcome), %d epochs, mirrored %v after the faults",
		seed, len(o.ops), unknown, len(o.primary), o.recovery)
	if !arbiter && len(o.windows) > 0 {
		var n int
		o.ops, n = relaxWindows(o.ops, o.windows)
		t.Logf("seed %d: %d divergence windows (a full partition without an arbiter): %d replies in them taken as of unknown outcome",
			seed, len(o.windows), n)
	}
	if *simDump != "" {
		for _, op := range o.ops {
			if op.Input.(kvInput).key == *simDump {
				res := op.Output.(kvOutput)
				t.Logf("client %d %s [%v..%v]", op.ClientId, kvModel.DescribeOperation(op.Input, op.Output), res.from, res.at)
			}
		}
		for _, w := range o.windows {
			t.Logf("divergence window: %s from %v to %v", w.stale, w.from, w.to)
		}
	}
	checkLostWrites(t, o.ops, o.final)
	checkLinearizable(t, seed, o.ops)
	return simResult{recovery: o.recovery}
}

func simulate(t *testing.T, seed uint64, faults map[string]bool, arbiter bool) simOutcome {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var log *slog.Logger
	if *simSeed != 0 {
		log = logger(t)
	}
	p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: simClients, Seed: seed, Logger: log, Arbiter: arbiter})
	o := simOutcome{faults: schedule(r, faults)}
	if !p.WaitMirrored(5*time.Second) || !p.WaitRoutes(5*time.Second) {
		t.Fatalf("not mirrored at the start: A %+v, B %+v", p.A.Status(), p.B.Status())
	}
	// The clock restarts at the start of the schedule: faults' times
	// count from there.
	sleepUntil(time.Second)
	w := &simServers{gen: make(map[string]int), primary: make(map[uint32][]string), now: make(map[string]simPrimary)}
	w.watch(p.A)
	w.watch(p.B)
	s := &simRun{t: t, p: p, w: w, cut: make(map[[2]ipx.Node]bool), imp: make(map[string]bool), probeLoss: faults["probeloss"], eagerKill: faults["eagerkill"], arbiter: arbiter}
	h := &history{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range p.Clients {
		cr := rand.New(rand.NewPCG(seed, uint64(i+1)))
		wg.Go(func() { workload(h, c, i, cr, stop) })
	}
	s.chaos(o.faults)
	// Faults over: the pair must be mirrored again within the bound,
	// while the clients go on.
	healed := time.Now()
	s.logf("faults over")
	if !p.WaitMirrored(simRecoveryBound) {
		o.problems = append(o.problems, fmt.Sprintf("not mirrored %v after the faults stopped: A %+v, B %+v",
			simRecoveryBound, p.A.Status(), p.B.Status()))
	}
	o.recovery = time.Since(healed)
	s.logf("mirrored after %v", o.recovery)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	// Read every key back.
	o.final = make(map[string]kvOutput)
	for k := range simKeys {
		key := fmt.Sprint("k", k)
		start := time.Now()
		out := h.do(p.Clients[0], 0, kvInput{op: mirrortest.OpGet, key: key, client: 0, seq: -1}, simFinalReadTimeout)
		if d := time.Since(start); d > simOpTimeout {
			s.logf("final read of %s took %v", key, d)
		}
		if out.unknown {
			c := p.Clients[0]
			r, ok := c.Router.Table().Lookup(mirrortest.InternalNet)
			o.problems = append(o.problems, fmt.Sprintf("final read of %s timed out: client 0's route %+v (%v), stats %+v; A %v, B %v",
				key, r, ok, c.Stats(), p.A.Node, p.B.Node))
		}
		o.final[key] = out
	}
	// Both engines hold the same data. Status takes the server's lock,
	// which orders the reads after the engine's last Apply.
	if a, b := p.A.Status(), p.B.Status(); a.Applied == b.Applied {
		if da, db := p.A.KV.Data(), p.B.KV.Data(); !maps.Equal(da, db) {
			o.problems = append(o.problems, fmt.Sprintf("mirrored engines differ at event %d: A %v, B %v", a.Applied, da, db))
		}
	}
	w.close()
	w.mu.Lock()
	o.primary, o.missed, o.windows = w.primary, w.missed, w.windows
	w.mu.Unlock()
	h.mu.Lock()
	o.ops = h.ops
	h.mu.Unlock()
	o.log = s.log
	return o
}

// simWindowSlack covers replies a stale primary sent just before it
// stepped down, still on their way.
const simWindowSlack = 200 * time.Millisecond

// relaxWindows is what the checker knows of the divergence window
// without an arbiter (mirror/doc.go, "Partitions"): a primary of an
// older epoch may answer beside the newer one from the takeover until
// the two meet, and what it acknowledged alone is then lost. A request
// in flight during a window may have been answered so: its outcome is
// taken as unknown (a read's is dropped). It returns the history and how many
// replies it relaxed.
func relaxWindows(ops []porcupine.Operation, ws []simWindow) ([]porcupine.Operation, int) {
	in := func(from, at time.Duration) bool {
		for _, w := range ws {
			if at >= w.from && (w.to < 0 || from <= w.to+simWindowSlack) {
				return true
			}
		}
		return false
	}
	n := 0
	out := ops[:0]
	for _, o := range ops {
		res := o.Output.(kvOutput)
		if !res.unknown && in(res.from, res.at) {
			n++
			if o.Input.(kvInput).op == mirrortest.OpGet {
				continue
			}
			res.unknown = true
			o.Output, o.Return = res, math.MaxInt64
		}
		out = append(out, o)
	}
	return out, n
}

// checkLostWrites checks the value each key holds once the faults
// stopped against the writes acknowledged: it is the latest acknowledged
// write's value, or that of a write not over before the latest
// acknowledged one started (concurrent, later, or of unknown outcome).
func checkLostWrites(t *testing.T, ops []porcupine.Operation, final map[string]kvOutput) {
	t.Helper()
	type write struct {
		call, ret int64
		value     string
		acked     bool
	}
	writes := make(map[string][]write)
	for _, o := range ops {
		in, out := o.Input.(kvInput), o.Output.(kvOutput)
		if in.seq < 0 {
			continue // the final reads
		}
		var v string
		switch {
		case in.op == mirrortest.OpPut:
			v = in.a
		case in.op == mirrortest.OpCAS && (out.unknown || out.status == mirrortest.StatusOK):
			v = in.b
		default:
			continue
		}
		writes[in.key] = append(writes[in.key], write{o.Call, o.Return, v, !out.unknown})
	}
	for key, got := range final {
		if got.unknown {
			continue
		}
		var last *write
		for i, w := range writes[key] {
			if w.acked && (last == nil || w.ret > last.ret) {
				last = &writes[key][i]
			}
		}
		if last == nil {
			continue
		}
		if got.status != mirrortest.StatusOK {
			t.Errorf("lost write: %s is missing; the last acknowledged write set %q", key, last.value)
			continue
		}
		ok := got.value == last.value
		for _, w := range writes[key] {
			ok = ok || w.value == got.value && w.ret > last.call
		}
		if !ok {
			t.Errorf("lost write: %s = %q; the last acknowledged write set %q and no write concurrent with or after it wrote %q",
				key, got.value, last.value, got.value)
		}
	}
}

// checkLinearizable checks the history against kvModel, and on failure
// writes porcupine's visualisation to a file and names it.
func checkLinearizable(t *testing.T, seed uint64, ops []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, simCheckTimeout)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Logf("linearizability check of %d operations gave up after %v", len(ops), simCheckTimeout)
		return
	}
	dir := *simHTML
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("mirror-sim-seed-%d.html", seed))
	if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
		t.Errorf("history of %d operations not linearizable; visualisation failed: %v", len(ops), err)
		return
	}
	t.Errorf("history of %d operations not linearizable: see %s", len(ops), path)
	explainIllegal(t, ops, info)
}

// explainIllegal logs, for each key whose history is not linearizable,
// the operations around the first one no linearization could take: the
// last few the longest partial linearization holds, then every one
// invoked before the blocked operation returned.
func explainIllegal(t *testing.T, ops []porcupine.Operation, info porcupine.LinearizationInfo) {
	t.Helper()
	parts := kvModel.Partition(ops)
	partials := info.PartialLinearizationsOperations()
	for i, part := range parts {
		if porcupine.CheckOperations(kvModel, part) || i >= len(partials) {
			continue
		}
		var longest []porcupine.Operation
		for _, l := range partials[i] {
			if len(l) > len(longest) {
				longest = l
			}
		}
		in := make(map[[2]int64]bool)
		for _, o := range longest {
			in[[2]int64{o.Call, o.Return}] = true
		}
		// The blocked operation: the first to return that no
		// linearization could take.
		var blocked *porcupine.Operation
		for j, o := range part {
			if !in[[2]int64{o.Call, o.Return}] && (blocked == nil || o.Return < blocked.Return) {
				blocked = &part[j]
			}
		}
		key := part[0].Input.(kvInput).key
		t.Logf("key %s: %d operations, the longest linearization takes %d; its last ones:", key, len(part), len(longest))
		for _, o := range longest[max(0, len(longest)-5):] {
			t.Logf("    %s", describeOp(o))
		}
		if blocked == nil {
			continue
		}
		t.Logf("  and none can take next, of these invoked before %s returned:", kvModel.DescribeOperation(blocked.Input, blocked.Output))
		sorted := slices.SortedFunc(slices.Values(part), func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		for _, o := range sorted {
			if !in[[2]int64{o.Call, o.Return}] && o.Call <= blocked.Return {
				t.Logf("    %s", describeOp(o))
			}
		}
	}
}

func describeOp(o porcupine.Operation) string {
	return fmt.Sprintf("client %d %s [%v]", o.ClientId, kvModel.DescribeOperation(o.Input, o.Output), o.Metadata)
}
