package spx

import "testing"

// TestNewID: connection ids are never 0 or IDUnknown, and never one in
// use, even with the id space nearly full.
func TestNewID(t *testing.T) {
	m := &mux{conns: make(map[uint16]*Conn)}
	for i := 0; i < 0xFFFE; i++ {
		id, ok := m.newID()
		if !ok || id == 0 || id == IDUnknown {
			t.Fatalf("id %#x", id)
		}
		if _, dup := m.conns[id]; dup {
			t.Fatalf("id %#x handed out twice", id)
		}
		m.conns[id] = nil
	}
	if _, ok := m.newID(); ok {
		t.Error("an id handed out with all in use")
	}
}
