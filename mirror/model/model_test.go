package model

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// check is one spin run of roles.pml: the configuration's -D switches,
// and whether spin must find the property violated (a documented window,
// kept checked so that it stays the window the README describes).
type check struct {
	name    string
	defines []string
	// want is "" when the search must finish clean; otherwise a string
	// pan's report must contain (it found the violation).
	want string
	// stuck also reports states where nothing can happen (pan without -E).
	stuck bool
	// big: millions of states, worth compiling pan with optimisation.
	big bool
	why string
}

var checks = []check{
	{
		name:    "arbiter",
		big:     true,
		defines: []string{"ARBITER", "LOSSY", "PROP_EPOCH", "PROP_ONE", "PROP_MIRROR"},
		why:     "with the arbiter, lossy LAN and MSL: one server answers at a time, and no event acknowledged while mirrored is lost",
	},
	{
		name:    "arbiter-claim-mark",
		big:     true,
		defines: []string{"ARBITER", "LOSSY", "ALONE_CLAIM", "SYNC_MARK", "PROP_EPOCH", "PROP_ONE", "PROP_MIRROR", "PROP_ALL"},
		why:     "with the arbiter, a new grant before answering alone and the mirrored marker: no acknowledged event is ever lost",
	},
	{
		name:    "no-arbiter",
		defines: []string{"PROP_EPOCH", "PROP_ONE", "PROP_MIRROR"},
		why:     "without an arbiter and with a LAN that answers probes: one server answers at a time, nothing acknowledged while mirrored is lost",
	},
	{
		name:    "no-arbiter-partition-epochs",
		big:     true,
		defines: []string{"LOSSY", "PROP_EPOCH", "PROP_MIRROR"},
		why:     "without an arbiter, a full partition still never gives two servers one epoch, nor loses what was acknowledged while mirrored",
	},
	{
		name:    "no-arbiter-partition-two-primaries",
		defines: []string{"LOSSY", "PROP_ONE"},
		want:    "assertion violated  !(((role[0]==2)&&(role[1]==2)))",
		why:     "documented window: without an arbiter a full partition makes two primaries, in different epochs",
	},
	{
		name:    "syncing-window",
		defines: []string{"TIMELY", "MAXCRASH=1", "MAXCUT=0", "PROP_ALL"},
		want:    "assertion violated",
		why: "finding, fixed in the code by the mirrored marker (msgMirrored, loop.mirrored): without it, one crash of a " +
			"primary whose secondary restored the image but not the events after it loses events acknowledged at once while syncing",
	},
	{
		name:    "syncing-window-marked",
		defines: []string{"TIMELY", "MAXCRASH=1", "MAXCUT=0", "SYNC_MARK", "PROP_ALL"},
		why:     "the mirrored marker, as the code now sends it, closes the syncing window: a single crash loses nothing",
	},
	{
		name:    "arbiter-alone-window",
		defines: []string{"ARBITER", "LOSSY", "SYNC_MARK", "PROP_ALL"},
		want:    "assertion violated",
		why:     "documented window: with an arbiter but no new grant before answering alone, a lost probe loses what the old primary acknowledged alone",
	},
	{
		name:    "no-arbiter-stuck",
		defines: []string{"PROP_EPOCH"},
		stuck:   true,
		want:    "invalid end state",
		why: "finding (liveness): a deactivated secondary never takes over when its primary then crashes: " +
			"nobody serves, though the deactivated one holds every event",
	},
}

var errorsRE = regexp.MustCompile(`errors: (\d+)`)

// TestModel runs spin on roles.pml in each configuration of checks.
func TestModel(t *testing.T) {
	for _, tool := range []string{"spin", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("model: %s is not installed (apt-get install spin gcc): the role protocol's model is not checked", tool)
		}
	}
	src, err := os.ReadFile("roles.pml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "roles.pml"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(name string, args ...string) string {
				t.Helper()
				cmd := exec.CommandContext(t.Context(), name, args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("model: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			var spinArgs []string
			for _, d := range c.defines {
				spinArgs = append(spinArgs, "-D"+d)
			}
			start := time.Now()
			run("spin", append(append([]string{"-a"}, spinArgs...), "roles.pml")...)
			opt := "-O0" // a small search takes less time than compiling pan well
			if c.big {
				opt = "-O2"
			}
			run("gcc", opt, "-DSAFETY", "-o", "pan", "pan.c")
			panArgs := []string{"-m100000"}
			if !c.stuck {
				panArgs = append(panArgs, "-E") // states where nothing happens are liveness, not these properties
			}
			out := run("./pan", panArgs...)
			t.Logf("%s (%v): %s", c.why, time.Since(start).Round(time.Millisecond), summary(out))
			m := errorsRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("model: pan's report has no error count:\n%s", out)
			}
			if strings.Contains(out, "max search depth too small") {
				t.Fatalf("model: the search was cut at the depth bound; raise -m:\n%s", out)
			}
			switch {
			case c.want == "" && m[1] != "0":
				trail := run("spin", append(append([]string{"-t", "-p", "-g"}, spinArgs...), "roles.pml")...)
				t.Fatalf("model: %s: spin found a violation:\n%s\ntrail:\n%s", c.why, out, trail)
			case c.want != "" && m[1] == "0":
				t.Fatalf("model: %s: spin found no violation, and the README documents one; update both:\n%s", c.why, out)
			case c.want != "" && !strings.Contains(out, c.want):
				t.Fatalf("model: %s: spin found another violation than %q:\n%s", c.why, c.want, out)
			}
		})
	}
}

// summary is pan's result in one line: the violation or the states.
func summary(out string) string {
	var parts []string
	for line := range bytes.Lines([]byte(out)) {
		s := strings.TrimSpace(string(line))
		if strings.HasPrefix(s, "pan:1:") || strings.Contains(s, "errors:") || strings.HasSuffix(s, "states, stored") {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}
