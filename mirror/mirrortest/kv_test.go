package mirrortest

import (
	"bytes"
	"fmt"
	"maps"
	"testing"

	"github.com/ipxkit/ipxkit/mirror"
)

func put(kv *KV, k, v string) { kv.Apply(mirror.Event{Data: Put(k, v)}) }

// A view is the store as it was: writes after it, to shards it shares
// and to ones it does not, never show in its snapshot, and a store
// restored from that snapshot equals the store at the view.
func TestViewIsolated(t *testing.T) {
	kv := NewKV()
	for i := range 2000 {
		put(kv, fmt.Sprint("k", i), "v0")
	}
	want := kv.Data()
	var direct bytes.Buffer
	if err := kv.Snapshot(&direct); err != nil {
		t.Fatal(err)
	}
	v := kv.View()
	for i := range 2000 {
		put(kv, fmt.Sprint("k", i), "v1")
		put(kv, fmt.Sprint("new", i), "x")
	}
	v2 := kv.View()
	put(kv, "k0", "v2")
	var img bytes.Buffer
	if err := v.Snapshot(&img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Bytes(), direct.Bytes()) {
		t.Fatal("the view's snapshot differs from the store's at the view")
	}
	r := NewKV()
	if err := r.Restore(&img); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(r.Data(), want) || r.Applied() != 2000 {
		t.Fatalf("restored %d keys at %d, want %d at 2000", len(r.Data()), r.Applied(), len(want))
	}
	var img2 bytes.Buffer
	v2.Snapshot(&img2)
	r2 := NewKV()
	if err := r2.Restore(&img2); err != nil {
		t.Fatal(err)
	}
	if d := r2.Data(); len(d) != 4000 || d["k0"] != "v1" {
		t.Fatalf("second view: %d keys, k0 = %q", len(d), d["k0"])
	}
	// The store itself saw every write, and a restored store takes
	// writes after a view of its own.
	if d := kv.Data(); d["k0"] != "v2" || d["k1"] != "v1" || len(d) != 4000 {
		t.Fatalf("store: %d keys, k0 = %q", len(d), d["k0"])
	}
	r.View()
	put(r, "k0", "after")
	if d := r.Data(); d["k0"] != "after" {
		t.Fatalf("restored store after a view: k0 = %q", d["k0"])
	}
}

func BenchmarkView(b *testing.B) {
	kv := NewKV()
	for i := range 262000 {
		put(kv, fmt.Sprint("pre", i), "v")
	}
	b.ResetTimer()
	for b.Loop() {
		kv.View()
		put(kv, "pre1", "w") // the first write after a view copies one shard
	}
}
