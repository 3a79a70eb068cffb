package mirror

import (
	"slices"
	"testing"
)

// inFlight counts the event messages a mirrored secondary has not
// acknowledged, and forgets those an ack covers, and any past the
// primary's own state, for which no ack can come.
func TestInFlight(t *testing.T) {
	for _, tc := range []struct {
		name        string
		flights     []uint64
		acked, seq  uint64
		want        int
		wantFlights []uint64
	}{
		{"none", nil, 0, 0, 0, nil},
		{"all waiting", []uint64{3, 5, 9}, 2, 9, 3, []uint64{3, 5, 9}},
		{"oldest acked", []uint64{3, 5, 9}, 3, 9, 2, []uint64{5, 9}},
		{"ack between", []uint64{3, 5, 9}, 7, 9, 1, []uint64{9}},
		{"all acked", []uint64{3, 5, 9}, 9, 12, 0, []uint64{}},
		{"past our state", []uint64{3, 5, 9}, 2, 8, 0, []uint64{}},
	} {
		l := &loop{st: &state{seq: tc.seq}, acked: tc.acked, flights: slices.Clone(tc.flights)}
		if got := l.inFlight(); got != tc.want || !slices.Equal(l.flights, tc.wantFlights) {
			t.Errorf("%s: inFlight() = %d, flights %v; want %d, %v", tc.name, got, l.flights, tc.want, tc.wantFlights)
		}
	}
}
